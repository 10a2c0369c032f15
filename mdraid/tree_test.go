package mdraid

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The arrays of the captured scenario (testdata/create/mdadm-detail-scan.txt).
var fixtureUUID = map[string]string{
	"md0": "a8b11440:0e639865:15c27575:affc44ea",
	"md1": "b272a87d:4f2f50e6:a630e031:9e437594",
}

// tree builds a /proc and /sys for Read: proc/mdstat from an mdstat file, and the sysfs
// files a `path: value` dump lists (testdata/*/sysfs-md-*.txt, or hand-written lines). The
// captured dumps lack level, metadata_version, raid_disks, uuid and sync_completed (and one
// lacks sync_action), which procfs reads; they are written from the captured `mdadm --detail`
// of the same arrays (raid1, 1.2, 2 disks) and the idle state the dumps were taken in.
func tree(t *testing.T, mdstat string, sysLines ...string) (proc, sys string) {
	t.Helper()
	root := t.TempDir()
	proc, sys = filepath.Join(root, "proc"), filepath.Join(root, "sys")
	os.MkdirAll(proc, 0o755)
	os.MkdirAll(sys, 0o755)
	if mdstat != "" {
		if err := os.WriteFile(filepath.Join(proc, "mdstat"), []byte(mdstat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	arrays := map[string]bool{}
	for _, line := range sysLines {
		path, value, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasPrefix(path, "/sys/") {
			t.Fatalf("bad sysfs line %q", line)
		}
		rel := strings.TrimPrefix(path, "/sys/")
		full := filepath.Join(sys, rel)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if parts := strings.Split(rel, "/"); len(parts) > 2 && parts[0] == "block" && parts[2] == "md" {
			arrays[parts[1]] = true
		}
	}
	for md := range arrays {
		dir := filepath.Join(sys, "block", md, "md")
		for name, value := range map[string]string{"level": "raid1", "metadata_version": "1.2", "raid_disks": "2",
			"uuid": fixtureUUID[md], "sync_action": "idle", "sync_completed": "none"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o644)
			}
		}
	}
	return proc, sys
}

// sysDump reads a testdata sysfs dump as lines.
func sysDump(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
