package systemd

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the units and the recorded exposures")

// goldenOptions are the options the golden files are rendered with.
var goldenOptions = UnitOptions{Binary: "/usr/local/bin/agentd", Config: "/etc/agentd/agentd.toml", Writable: []string{"/data/fits/previews"}}

// The shipped files, as rendered: golden files (go test ./systemd -update rewrites them
// after a deliberate change; read the diff).
func TestUnitsGolden(t *testing.T) {
	t.Parallel()
	files, err := Units(goldenOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		path := filepath.Join("testdata", "units", strings.ReplaceAll(f.Path, "/", "_"))
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no golden file (run with -update): %v", f.Path, err)
			continue
		}
		if string(want) != f.Content {
			t.Errorf("%s differs from %s (run with -update after a deliberate change):\n%s", f.Path, path, f.Content)
		}
	}
}

// systemdAnalyze finds systemd-analyze; CI installs it (scripts/test.sh), so there a
// missing one fails the test instead of skipping it.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze is missing (Debian package systemd); scripts/test.sh installs it")
		}
		t.Skip("systemd-analyze is missing (Debian package systemd)")
	}
	return path
}

// renderInto writes the units for an existing binary into dir (as under /), with the
// template also as an instance (agentd@ingest.service), and returns the services' paths.
func renderInto(t *testing.T, dir string) []string {
	t.Helper()
	bin, err := os.Executable() // an executable that exists: verify checks ExecStart's
	if err != nil {
		t.Fatal(err)
	}
	o := goldenOptions
	o.Binary, o.Agentctl = bin, bin
	files, err := Units(o)
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, f := range files {
		path := filepath.Join(dir, f.Path)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(f.Path, "@.service"):
			instance := strings.TrimSuffix(path, "@.service") + "@ingest.service"
			os.WriteFile(instance, []byte(f.Content), 0o644)
			services = append(services, instance)
		case strings.HasSuffix(f.Path, ".service"):
			services = append(services, path)
		}
	}
	if len(services) != 4 {
		t.Fatalf("%d services rendered, want the storage agent, a queue instance, the spot unit and the swap", len(services))
	}
	return services
}

// Every shipped unit passes systemd-analyze verify: no unknown setting, no bad value, a
// binary that exists.
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze := systemdAnalyze(t)
	for _, unit := range renderInto(t, t.TempDir()) {
		out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(unit), err, out)
		}
	}
}

// exposureTargets are the ceilings: the storage agent (root, devices, /sys) and a
// queue-only unit.
var exposureTargets = map[string]float64{"agentd-storage.service": 4.0, "agentd@ingest.service": 2.5, "agentd-spot.service": 2.5,
	"agentd-swap.service": 4.0} // the swap oneshot: root with devices, like the storage agent

// Each unit's exposure (systemd-analyze security --offline=true) stays within its target
// and never creeps above the figure recorded in testdata/units/exposure.txt (-update
// records lower ones after a deliberate change).
func TestUnitsExposure(t *testing.T) {
	t.Parallel()
	analyze := systemdAnalyze(t)
	recorded := map[string]float64{}
	record := filepath.Join("testdata", "units", "exposure.txt")
	if data, err := os.ReadFile(record); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				recorded[f[0]], _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	score := regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)
	var lines []string
	for _, unit := range renderInto(t, t.TempDir()) {
		out, err := exec.Command(analyze, "security", "--offline=true", unit).CombinedOutput()
		m := score.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
		}
		name, got := m[1], 0.0
		got, _ = strconv.ParseFloat(m[2], 64)
		lines = append(lines, fmt.Sprintf("%s %.1f", name, got))
		if target, ok := exposureTargets[name]; !ok || got > target {
			t.Errorf("%s: exposure %.1f, target %.1f", name, got, target)
		}
		if r, ok := recorded[name]; ok && got > r && !*update {
			t.Errorf("%s: exposure %.1f crept above the recorded %.1f", name, got, r)
		} else if !ok && !*update {
			t.Errorf("%s: no recorded exposure (run with -update)", name)
		}
	}
	if *update {
		os.MkdirAll(filepath.Dir(record), 0o755)
		if err := os.WriteFile(record, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("exposures: %s", strings.Join(lines, ", "))
}

// What cannot make a sound unit is refused, naming it.
func TestUnitsRefuseBadOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		o    UnitOptions
		want string
	}{
		{UnitOptions{Binary: "agentd"}, `the agentd binary "agentd" is not an absolute path`},
		{UnitOptions{Binary: "/opt/my agentd/agentd"}, `may not hold spaces`},
		{UnitOptions{Binary: "/usr/bin/agentd", Writable: []string{"previews"}}, `writable directory "previews" is not an absolute path`},
		{UnitOptions{Binary: "/usr/bin/agentd", Config: "/etc/agentd/%i.toml"}, `may not hold spaces, quotes, %`},
	} {
		if _, err := Units(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
}
