package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files (storage status, every --help)")

func storageArgs(state string) []string {
	dir := filepath.Join("..", "mdraid", "testdata", "trees", state)
	return []string{"--proc-root", filepath.Join(dir, "proc"), "--sys-root", filepath.Join(dir, "sys")}
}

// storage status on each captured state matches its golden output; the degraded one with
// the LVM reports captured while degraded.
func TestStorageStatusGolden(t *testing.T) {
	for _, state := range []string{"clean", "degraded", "recovery", "faulty", "nomd"} {
		args := append([]string{"storage", "status", "--socket", "/nonexistent/agentd.sock"}, storageArgs(state)...)
		if state == "degraded" {
			for _, f := range []string{"pvs-degraded.json", "vgs-degraded.json", "lvs-degraded.json"} {
				args = append(args, "--lvm-report", filepath.Join("..", "mdraid", "testdata", "migrate", f))
			}
		} else {
			args = append(args, "--no-lvm")
		}
		r := agentctl(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d %s", state, r.code, r.stderr)
		}
		golden := filepath.Join("..", "mdraid", "testdata", "trees", state+".golden")
		if *update {
			os.WriteFile(golden, []byte(r.stdout), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Errorf("%s:\n%s\nwant:\n%s", state, r.stdout, want)
		}
	}
}

func TestStorageStatusJSON(t *testing.T) {
	r := agentctl(t, nil, append([]string{"storage", "status", "--no-lvm", "--json"}, storageArgs("faulty")...)...)
	v := jsonOf(t, r)
	arrays := v["arrays"].([]any)
	md0 := arrays[0].(map[string]any)
	roles := md0["roles"].([]any)
	ebs := roles[0].(map[string]any)
	if md0["name"] != "md0" || ebs["device"] != "vdb" || ebs["role"] != "EBS (write-mostly)" || ebs["state"] != "faulty" {
		t.Fatalf("md0 %v", md0)
	}
	r = agentctl(t, nil, append([]string{"storage", "status", "--no-lvm", "--json"}, storageArgs("nomd")...)...)
	if r.code != 0 || jsonOf(t, r)["md"] != false {
		t.Fatalf("no md: exit %d %s", r.code, r.stdout)
	}
	// Garbled mdstat: one clear error, exit 3.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "proc"), 0o755)
	os.WriteFile(filepath.Join(dir, "proc", "mdstat"), []byte("Personalities : 0\n"), 0o644)
	if r = agentctl(t, nil, "storage", "status", "--no-lvm", "--proc-root", filepath.Join(dir, "proc"), "--sys-root", dir); r.code != cli.ExitConnect || !strings.Contains(r.stderr, "garbled") {
		t.Fatalf("garbled: exit %d %s", r.code, r.stderr)
	}
}

// storage plan on the degraded state: the blank instance-store image is chosen for md0,
// md1 waits its turn, the image with a file system is refused with the reason.
func TestStoragePlan(t *testing.T) {
	dev := t.TempDir()
	os.MkdirAll(filepath.Join(dev, "dev", "disk", "by-id"), 0o755)
	for _, name := range []string{"nvme1n1", "nvme2n1"} {
		f, _ := os.Create(filepath.Join(dev, "dev", name))
		f.Truncate(300 << 20)
		f.Close()
		os.Symlink("../../"+name, filepath.Join(dev, "dev", "disk", "by-id", "nvme-Amazon_EC2_NVMe_Instance_Storage_"+name))
	}
	// nvme2n1 holds a file system: the real wipefs finds it.
	if err := writeExt4(filepath.Join(dev, "dev", "nvme2n1")); err != nil {
		t.Skip(err)
	}
	// The candidate's size comes from sysfs: give the images their sizes in the captured tree's copy.
	state := t.TempDir()
	if err := os.CopyFS(state, os.DirFS(filepath.Join("..", "mdraid", "testdata", "trees", "degraded"))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nvme1n1", "nvme2n1"} {
		os.MkdirAll(filepath.Join(state, "sys", "class", "block", name), 0o755)
		os.WriteFile(filepath.Join(state, "sys", "class", "block", name, "size"), []byte("614400\n"), 0o644)
	}
	r := agentctl(t, nil, "storage", "plan", "--proc-root", filepath.Join(state, "proc"), "--sys-root", filepath.Join(state, "sys"),
		"--dev-root", dev, "--candidate", "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*")
	if r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"md0: add /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_nvme1n1",
		"refused /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_nvme2n1: not blank: ext4",
		"md1: wait",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
}

func writeExt4(path string) error {
	out, err := execCommand("mkfs.ext4", "-q", "-F", path)
	if err != nil {
		return &skipError{string(out) + err.Error()}
	}
	return nil
}

type skipError struct{ msg string }

func (e *skipError) Error() string { return "mkfs.ext4 unavailable: " + e.msg }

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// storage check: the monitoring-plugins contract on each captured state — the exit code is
// the state, the first line says it with perfdata — run as an unprivileged user (as root,
// as nobody: the monitoring user is not root), with no config and nothing but /proc and /sys.
func TestStorageCheck(t *testing.T) {
	for _, tc := range []struct {
		state string
		code  int
		first string
	}{
		{"clean", 0, "STORAGE OK - md0 in sync; md1 in sync | md0_degraded=0"},
		{"degraded", 1, "STORAGE WARNING - md0 degraded on vdb"},
		{"recovery", 1, "STORAGE WARNING - md0 in sync; md1 recovering 12.1% |"},
		{"faulty", 2, "STORAGE CRITICAL - md0 has a failed device: vdb"},
		{"nomd", 3, "STORAGE UNKNOWN - no md arrays here"},
	} {
		cmd := exec.Command(agentctlBin, append([]string{"storage", "check"}, storageArgs(tc.state)...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if os.Geteuid() == 0 {
			const nobody = 65534
			os.Chmod(filepath.Dir(agentctlBin), 0o755)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		if code != tc.code || !strings.HasPrefix(first, tc.first) || stderr.Len() != 0 {
			t.Errorf("%s: exit %d, first line %q, stderr %q; want exit %d and %q", tc.state, code, first, stderr.String(), tc.code, tc.first)
		}
	}
	r := agentctl(t, nil, append([]string{"storage", "check", "--json"}, storageArgs("faulty")...)...)
	if v := jsonOf(t, r); r.code != 2 || v["state"] != "CRITICAL" || !strings.HasPrefix(v["status"].(string), "STORAGE CRITICAL") {
		t.Fatalf("--json: exit %d %v", r.code, v)
	}
}

// storage verify drives md's check through sysfs: here a captured tree stands in for the
// kernel (this host has no md; the qemu suite runs the real one) — the test plays md,
// finishing the check with 8 mismatched sectors. A busy array is not touched.
func TestStorageVerifyThroughSysfs(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "mdraid", "testdata", "trees", "clean"))); err != nil {
		t.Fatal(err)
	}
	md := func(array, file string) string { return filepath.Join(dir, "sys", "block", array, "md", file) }
	for _, a := range []string{"md0", "md1"} {
		os.WriteFile(md(a, "sync_action"), []byte("idle\n"), 0o644)
		os.WriteFile(md(a, "mismatch_cnt"), []byte("0\n"), 0o644)
	}
	os.WriteFile(md("md1", "sync_action"), []byte("resync\n"), 0o644) // busy: left alone
	cmd := exec.Command(agentctlBin, "storage", "verify", "--json", "--every", "100ms",
		"--proc-root", filepath.Join(dir, "proc"), "--sys-root", filepath.Join(dir, "sys"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// md: the check runs, then ends with what it found.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(md("md0", "sync_action"))
		if strings.TrimSpace(string(b)) == "check" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("verify did not start md0's check")
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.WriteFile(md("md0", "sync_completed"), []byte("1000 / 4000\n"), 0o644)
	time.Sleep(300 * time.Millisecond)
	os.WriteFile(md("md0", "mismatch_cnt"), []byte("8\n"), 0o644)
	os.WriteFile(md("md0", "sync_completed"), []byte("none\n"), 0o644)
	os.WriteFile(md("md0", "sync_action"), []byte("idle\n"), 0o644)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 6 {
		t.Fatalf("exit %v, want 6 (a mismatch; md1 not checked)\n%s", err, stdout.String())
	}
	v := jsonOf(t, result{stdout: stdout.String()})
	res := v["arrays"].([]any)
	md0, md1 := res[0].(map[string]any), res[1].(map[string]any)
	if md0["checked"] != true || md0["mismatch_cnt"].(float64) != 8 || md1["checked"] != false || !strings.Contains(md1["refused"].(string), `"resync"`) {
		t.Fatalf("results %v", res)
	}
	if b, _ := os.ReadFile(md("md1", "sync_action")); strings.TrimSpace(string(b)) != "resync" {
		t.Fatalf("md1's sync_action was written: %q", b)
	}
}

// storage init on loop devices (this host has no md; the qemu suite builds the layout for
// real): --dry-run prints the layout's commands; a device with a file system refuses the
// whole run before anything is written; a malformed --pair is a usage error.
func TestStorageInitRefusesAndPlans(t *testing.T) {
	if r := agentctl(t, nil, "storage", "init", "--vg", "v", "--lv", "l", "--pair", "/dev/only-one"); r.code != 2 || !strings.Contains(r.stderr, "give SSD,EBS") {
		t.Fatalf("malformed pair: exit %d %s", r.code, r.stderr)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	var devs []string
	for i := 0; i < 2; i++ {
		img := filepath.Join(t.TempDir(), "disk.img")
		os.WriteFile(img, nil, 0o600)
		os.Truncate(img, 64<<20)
		out, err := exec.Command("losetup", "--find", "--show", img).Output()
		if err != nil {
			t.Skipf("losetup: %v", err)
		}
		dev := strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
		devs = append(devs, dev)
	}
	pair := devs[0] + "," + devs[1]
	r := agentctl(t, nil, "storage", "init", "--dry-run", "--vg", "vgtest", "--lv", "lvtest", "--pair", pair)
	if r.code != 0 || !strings.Contains(r.stdout, "--write-behind=256 "+devs[0]+" --write-mostly "+devs[1]) || !strings.Contains(r.stdout, "lvm vgcreate -q vgtest /dev/md") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", devs[1]).CombinedOutput(); err != nil {
		t.Skipf("mke2fs: %v %s", err, out)
	}
	r = agentctl(t, nil, "storage", "init", "--vg", "vgtest", "--lv", "lvtest", "--pair", pair)
	if r.code != 5 || !strings.Contains(r.stderr, devs[1]+": not blank: ext4") || !strings.Contains(r.stderr, "nothing written") {
		t.Fatalf("a device with ext4: exit %d %s", r.code, r.stderr)
	}
}

// storage evacuate's usage errors (the qemu suite runs the move itself on a real kernel).
func TestStorageEvacuateUsage(t *testing.T) {
	if r := agentctl(t, nil, "storage", "evacuate"); r.code != 2 || !strings.Contains(r.stderr, "give --to") {
		t.Fatalf("no --to: exit %d %s", r.code, r.stderr)
	}
	// A record that is not one: refused before anything is read or changed.
	rec := filepath.Join(t.TempDir(), "evacuate-vgx.json")
	os.WriteFile(rec, []byte("not json"), 0o600)
	if r := agentctl(t, nil, "storage", "evacuate", "--vg", "vgx", "--record", rec, "--to", "/dev/null"); r.code != 5 || !strings.Contains(r.stderr, "move it away if it is not one") {
		t.Fatalf("a broken record: exit %d %s", r.code, r.stderr)
	}
}
