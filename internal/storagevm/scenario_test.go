package storagevm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/state"
)

const diskSize = 256 << 20

// The whole scenario on a real kernel: two mirrors (SSD + write-mostly EBS) under one VG
// with data; then "the instance moved": the SSDs come back blank and the arrays come up
// degraded (assembled) or inactive (incremental); agentd alone must bring both back to
// [UU] with the SSD a normal member and the EBS still write-mostly, the data unchanged, and
// its events complete. A third boot puts a disk with a file system where one SSD should be:
// agentd refuses it and that mirror stays degraded while the other recovers.
func TestMigrationScenario(t *testing.T) {
	v := setup(t)
	suite := time.Now()
	img := func(name string) string { return filepath.Join(v.work, name+".img") }
	for _, n := range []string{"ssd0", "ebs0", "ssd1", "ebs1"} {
		disk(t, img(n), diskSize)
	}
	created := v.boot(t, v.initramfs(t, "create", nil), "create", map[string]string{
		"ssd0": img("ssd0"), "ebs0": img("ebs0"), "ssd1": img("ssd1"), "ebs1": img("ebs1")}, 3*time.Minute, "")
	sum := string(created["sha256"])
	if !strings.Contains(sum, "data") || !strings.Contains(string(created["mdadm.conf"]), "ARRAY /dev/md0") {
		t.Fatalf("the create boot did not finish:\n%s\n%s", created["timeline.txt"], created["console"])
	}
	agentConfig := "[storage]\nmode = \"enabled\"\ngrace = \"3s\"\nrescan = \"1s\"\n"
	migrate := v.initramfs(t, "migrate", map[string]string{
		"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]),
		"etc/agentd.toml":      agentConfig,
	})

	// Each migration starts from the EBS volumes as the create boot left them.
	fresh := func(tag string, ssd1FS bool) map[string]string {
		disks := freshDisks(t, v, tag, img)
		if ssd1FS {
			if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", disks["ssd1"]).CombinedOutput(); err != nil {
				t.Fatalf("mke2fs: %v %s", err, out)
			}
		}
		return disks
	}

	for _, phase := range []string{"assemble", "incremental"} {
		t.Run(phase, func(t *testing.T) {
			res := v.boot(t, migrate, phase, fresh(phase, false), 4*time.Minute, "")
			explain := func() string {
				return string(res["timeline.txt"]) + "\n--- mdstat before\n" + string(res["mdstat-before"]) +
					"\n--- mdstat after\n" + string(res["mdstat-after"]) + "\n--- agentd\n" + string(res["agentd.log"])
			}
			before := string(res["mdstat-before"])
			if phase == "assemble" && strings.Count(before, "[_U]") != 2 {
				t.Fatalf("the arrays did not come up degraded:\n%s", explain())
			}
			if phase == "incremental" && strings.Count(before, "inactive") != 2 {
				t.Fatalf("the arrays did not come up inactive:\n%s", explain())
			}
			if after := string(res["mdstat-after"]); strings.Count(after, "[2/2] [UU]") != 2 {
				t.Fatalf("the mirrors are not whole:\n%s", explain())
			}
			// The guest names disks in its own order; its timeline says which is which.
			names := diskNames(string(res["timeline.txt"]))
			sys := string(res["sysfs-after"])
			for _, role := range []string{"EBS0", "EBS1"} {
				if want := "dev-" + names[role] + "/state: in_sync,write_mostly"; names[role] == "" || !strings.Contains(sys, want) {
					t.Errorf("%s (%s) is not an in-sync write-mostly member: want %q in\n%s", role, names[role], want, sys)
				}
			}
			for _, role := range []string{"SSD0", "SSD1"} {
				if want := "dev-" + names[role] + "/state: in_sync\n"; names[role] == "" || !strings.Contains(sys, want) {
					t.Errorf("%s (%s) is not a plain in-sync member: want %q in\n%s", role, names[role], want, sys)
				}
			}
			if got := string(res["sha256"]); got != sum {
				t.Errorf("data checksum after: %q, before: %q", got, sum)
			}
			events, firstAdd := agentEvents(t, v, phase, res["agent.db"])
			if phase == "assemble" {
				if ms, ok := latency(res["t-assembled"], firstAdd); ok {
					t.Logf("degraded → mdadm --add started: %.0f ms after mdadm --assemble returned", ms)
				}
			}
			for _, md := range []string{"md0", "md1"} {
				want := []string{"add-issued", "done"}
				if phase == "incremental" {
					want = []string{"run-issued", "add-issued", "done"}
				}
				if got := events[md]; !inOrder(got, want) {
					t.Errorf("%s events %v, want %v in that order\n%s", md, got, want, explain())
				}
			}
		})
	}

	t.Run("refused candidate", func(t *testing.T) {
		res := v.boot(t, migrate, "assemble", fresh("refuse", true), 3*time.Minute, "wait=25")
		after := string(res["mdstat-after"])
		md0, md1 := mdBlock(after, "md0"), mdBlock(after, "md1")
		if !strings.Contains(md0, "[UU]") || !strings.Contains(md1, "[_U]") {
			t.Fatalf("want md0 recovered and md1 still degraded:\n%s\n%s", after, res["agentd.log"])
		}
		log := string(res["agentd.log"])
		if !strings.Contains(log, "nvme-Amazon_EC2_NVMe_Instance_Storage_ssd1: not blank: ext4") {
			t.Errorf("the refusal and its reason are not in agentd's log:\n%s", log)
		}
		if got := string(res["sha256"]); got != sum {
			t.Errorf("data checksum after: %q, before: %q", got, sum)
		}
	})
	t.Logf("whole VM suite: %.1f s", time.Since(suite).Seconds())
}

// freshDisks copies the EBS images the create boot left and makes blank SSDs: the disks of
// an instance that moved to new hardware.
func freshDisks(t testing.TB, v *vm, tag string, img func(string) string) map[string]string {
	t.Helper()
	disks := map[string]string{}
	for _, n := range []string{"ebs0", "ebs1"} {
		p := filepath.Join(v.work, tag+"-"+n+".img")
		if out, err := exec.Command("cp", "--sparse=always", img(n), p).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		disks[n] = p
	}
	for _, n := range []string{"ssd0", "ssd1"} {
		disks[n] = disk(t, filepath.Join(v.work, tag+"-"+n+".img"), diskSize)
	}
	return disks
}

// latency is the milliseconds from the stamp the guest wrote to at.
func latency(stamp []byte, at time.Time) (float64, bool) {
	from, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(stamp)))
	if err != nil || at.IsZero() {
		return 0, false
	}
	return float64(at.Sub(from)) / float64(time.Millisecond), true
}

// agentEvents reads the event log agentd left in its bbolt file, by array, and the time of
// the first add it issued.
func agentEvents(t testing.TB, v *vm, phase string, db []byte) (map[string][]string, time.Time) {
	t.Helper()
	path := filepath.Join(v.work, phase+"-agent.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatalf("agentd's state file from the guest: %v", err)
	}
	defer st.Close()
	evs, err := st.Events(500)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var firstAdd time.Time
	for _, e := range evs {
		out[e.Label] = append(out[e.Label], e.Kind)
		if e.Kind == "add-issued" && firstAdd.IsZero() {
			firstAdd = e.Time
		}
	}
	return out, firstAdd
}

func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// diskNames reads the guest's "SSD0=/dev/vdc EBS0=/dev/vda …" line: role → kernel name.
func diskNames(timeline string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(timeline) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.HasPrefix(v, "/dev/") {
			out[k] = strings.TrimPrefix(v, "/dev/")
		}
	}
	return out
}

// mdBlock is the lines of one array in mdstat.
func mdBlock(mdstat, md string) string {
	i := strings.Index(mdstat, md+" :")
	if i < 0 {
		return ""
	}
	rest := mdstat[i:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
