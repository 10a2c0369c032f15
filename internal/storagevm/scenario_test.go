package storagevm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/lvm"
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
	if !strings.Contains(sum, "data") || !strings.Contains(string(created["mdadm.conf"]), "ARRAY /dev/md0") || !strings.Contains(string(created["mdadm.conf"]), "ARRAY /dev/md1") {
		t.Fatalf("the create boot did not finish:\n%s\n%s", created["timeline.txt"], created["console"])
	}
	// The rescan is left at its default (30 s): only change events and the agent's own timers
	// can explain steps taken within seconds.
	const grace = 3 * time.Second
	agentConfig := "[storage]\nmode = \"enabled\"\ngrace = \"3s\"\n"
	// agentctl storage verify on the real kernel: md1 as it was made, md0 with noise
	// written onto its SSD behind md's back.
	for md, want := range map[string]struct {
		rc       string
		mismatch bool
	}{"md1": {"0", false}, "md0": {"6", true}} {
		rc := strings.TrimSpace(string(created["verify-"+md+".rc"]))
		out := string(created["verify-"+md+".json"])
		found := regexp.MustCompile(`"mismatch_cnt": [1-9]`).MatchString(out)
		if m := regexp.MustCompile(`"mismatch_cnt": ([0-9]+),\s*"seconds": ([0-9.]+)`).FindStringSubmatch(out); m != nil {
			t.Logf("storage verify --array %s: exit %s, %s mismatched sectors, %s s", md, rc, m[1], m[2])
		}
		if rc != want.rc || found != want.mismatch || !strings.Contains(out, `"checked": true`) {
			t.Errorf("storage verify --array %s: exit %s, want %s; mismatches %v, want %v\n%s\n%s", md, rc, want.rc, found, want.mismatch,
				out, created["verify-"+md+".err"])
		}
	}
	if rc := strings.TrimSpace(string(created["init.rc"])); rc != "0" || !strings.Contains(string(created["init.json"]), `slots recorded in /run/agent.db: 2`) {
		t.Fatalf("agentctl storage init: exit %s\n%s\n%s", rc, created["init.json"], created["init.err"])
	}
	migrate := v.initramfs(t, "migrate", map[string]string{
		"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]),
		"etc/agentd.toml":      agentConfig,
		"var/lib/agent.db":     string(created["agent.db"]),
	})

	// Each migration starts from the EBS volumes as the create boot left them.
	fresh := func(tag string, ssd0FS bool) map[string]string {
		disks := freshDisks(t, v, tag, img)
		if ssd0FS {
			if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", disks[newSSD0]).CombinedOutput(); err != nil {
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
			if rc, out := strings.TrimSpace(string(res["check.rc"])), string(res["check.txt"]); rc != "0" || !strings.HasPrefix(out, "STORAGE OK") {
				t.Errorf("storage check after the repair: exit %s, want 0:\n%s", rc, out)
			}
			if testing.Verbose() {
				t.Logf("agentd:\n%s", res["agentd.log"])
			}
			events, _ := agentEvents(t, v, phase, res["agent.db"])
			// Every step within a few seconds: the rescan (30 s by default) never explains
			// one. The benchmark holds them to 1 s; this suite shares 2 cores with others.
			for _, s := range stepLatencies(t, v, phase, res, grace) {
				t.Logf("%-45s %6.0f ms", s.name, s.ms)
				// The grace period starts when a look begins, a little before the event
				// that announces the mirror (the look's mdadm --examine runs between):
				// that step may come out a little negative.
				low := -50.0
				if strings.Contains(s.name, "grace over") {
					low = -1000
				}
				if s.ms > 5000 || s.ms < low {
					t.Errorf("%s took %.0f ms; want well under the 30 s rescan\n%s", s.name, s.ms, explain())
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

	// The same SSDs, no migration: md0's dropped out while the volume was written, and is
	// back stale, carrying md0's superblock. The agent re-adds it (never a blank add) and
	// the bitmap limits the recovery to the chunks written meanwhile.
	t.Run("same SSD back", func(t *testing.T) {
		disks := copyDisks(t, v, "readd", img, "ssd0", "ebs0", "ssd1", "ebs1")
		res := v.boot(t, migrate, "readd", disks, 4*time.Minute, "wait=60")
		after := string(res["mdstat-after"])
		if strings.Count(after, "[2/2] [UU]") != 2 {
			t.Fatalf("the mirrors are not whole:\n%s\n%s", after, res["agentd.log"])
		}
		events, _ := agentEvents(t, v, "readd", res["agent.db"])
		if !inOrder(events["md0"], []string{"re-add-issued", "done"}) || slices.Contains(events["md0"], "add-issued") {
			t.Errorf("md0 events %v; want re-add-issued then done, and no add", events["md0"])
		}
		m := regexp.MustCompile(`Bitmap : (\d+) bits \(chunks\), (\d+) dirty`).FindStringSubmatch(string(res["bitmap-before"]))
		if m == nil {
			t.Fatalf("no bitmap figures:\n%s", res["bitmap-before"])
		}
		total, _ := strconv.Atoi(m[1])
		dirty, _ := strconv.Atoi(m[2])
		if dirty == 0 || dirty >= total {
			t.Errorf("bitmap: %d of %d chunks dirty; want a few (only those written while the SSD was out)", dirty, total)
		}
		t.Logf("same SSD back: re-added; the bitmap had %d of %d chunks dirty", dirty, total)
		if got := string(res["sha256"]); got != sum {
			t.Errorf("data checksum after: %q, before: %q", got, sum)
		}
	})

	// The first slot's new SSD carries a file system: md0 waits for a human, saying why,
	// and md1 gets its own slot's SSD — not md0's lot, not the other way round. With the
	// slots storage init recorded, and with no record at all (an agent that never saw the
	// mirrors healthy: it pairs by slot order).
	noRecord := v.initramfs(t, "migrate-norecord", map[string]string{
		"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]),
		"etc/agentd.toml":      agentConfig,
	})
	for _, tc := range []struct {
		name, tag string
		initrd    string
	}{{"bad first slot", "refuse", migrate}, {"bad first slot, no record", "refuse-norecord", noRecord}} {
		t.Run(tc.name, func(t *testing.T) { badFirstSlot(t, v, tc.initrd, fresh(tc.tag, true), sum) })
	}
	t.Run("evacuate", func(t *testing.T) { evacuateScenario(t, v, img, created, agentConfig, sum) })
	t.Logf("whole VM suite: %.1f s", time.Since(suite).Seconds())
}

// evacuateScenario moves the volume group off the mirrors onto two plain EBS volumes with
// agentctl storage evacuate, while a writer appends to a file on the mounted LV: agentctl
// is killed in the middle of the pvmove (which goes on), the host goes down in the middle
// (hard), and the rerun after the reboot finishes it. Refusals first: a target too small,
// one not blank, no confirmation.
func evacuateScenario(t *testing.T, v *vm, img func(string) string, created map[string][]byte, agentConfig, sum string) {
	disks := copyDisks(t, v, "evac", img, "ssd0", "ebs0", "ssd1", "ebs1")
	disks["new0"] = disk(t, filepath.Join(v.work, "evac-new0.img"), diskSize)
	disks["new1"] = disk(t, filepath.Join(v.work, "evac-new1.img"), diskSize)
	disks["small"] = disk(t, filepath.Join(v.work, "evac-small.img"), 64<<20)
	disks["used"] = disk(t, filepath.Join(v.work, "evac-used.img"), 64<<20)
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", disks["used"]).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v %s", err, out)
	}
	files := map[string]string{"etc/mdadm/mdadm.conf": string(created["mdadm.conf"]), "etc/agentd.toml": agentConfig}
	// 4 MiB/s onto each new volume: md0's 250 MiB take about a minute to move.
	first := v.bootThrottled(t, v.initramfs(t, "evacuate", files), "evacuate", disks, 4*time.Minute, "",
		map[string]int64{"new0": 4 << 20, "new1": 4 << 20})
	explain := func(res map[string][]byte, names ...string) string {
		var b strings.Builder
		b.WriteString(string(res["timeline.txt"]))
		for _, n := range names {
			fmt.Fprintf(&b, "--- %s\n%s\n", n, res[n])
		}
		return b.String()
	}
	rc := func(res map[string][]byte, name string) string { return strings.TrimSpace(string(res[name+".rc"])) }
	for _, c := range []struct{ name, rc, says string }{
		{"small", "5", "the targets are too small"},
		{"used", "5", "not blank: ext4"},
		{"noyes", "5", "it needs confirmation"},
		{"dryrun", "0", "lvm pvmove -b -i 2 /dev/md0 "},
	} {
		if got, out := rc(first, c.name), string(first[c.name+".out"]); got != c.rc || !strings.Contains(out, c.says) {
			t.Errorf("evacuate (%s): exit %s, want %s saying %q:\n%s", c.name, got, c.rc, c.says, out)
		}
	}
	percent := func(res map[string][]byte, name string) float64 {
		f, err := strconv.ParseFloat(strings.TrimSpace(string(res[name])), 64)
		if err != nil {
			return -1
		}
		return f
	}
	killed, after := percent(first, "pct-kill"), percent(first, "pct-after-kill")
	t.Logf("agentctl killed at %.1f %% of md0's move; 5 s later the move was at %.1f %%", killed, after)
	if killed < 3 || after <= killed || after >= 100 {
		t.Fatalf("want the pvmove to go on after agentctl was killed, and still under way:\n%s",
			explain(first, "pct-kill", "pct-after-kill", "evac1.err", "record.json", "agentd.log"))
	}
	// What LVM says of the move under way, as agentctl reads it.
	if r, err := lvm.Parse(first["lvs-moving.json"]); err != nil || !slices.ContainsFunc(r.LVs, func(lv lvm.LV) bool {
		return lv.Pvmove && lv.MovePV == "/dev/md0" && lv.CopyPercent > killed
	}) {
		t.Errorf("no pvmove off /dev/md0 past %.1f %% read from lvs (%v):\n%s", killed, err, first["lvs-moving.json"])
	}
	if testing.Verbose() {
		t.Logf("first boot:\n%s\nduring the move:\n%s\n%s\n%s\n%s", first["timeline.txt"], first["lvs-moving.json"],
			first["pvs-moving.json"], first["vgs-moving.json"], first["mdstat-moving"])
	}
	if !strings.Contains(string(first["record.json"]), `"vg": "vgdata"`) {
		t.Fatalf("no evacuation record:\n%s", first["record.json"])
	}
	files["var/lib/record.in"] = string(first["record.json"])
	second := v.boot(t, v.initramfs(t, "evacuate-resume", files), "evacuate-resume", disks, 5*time.Minute, "")
	if percent(second, "pct-boot") < 0 {
		t.Errorf("the move was not under way at the reboot:\n%s", explain(second, "pct-boot", "lvm.log"))
	}
	if rc(second, "evac2") != "0" {
		t.Fatalf("the rerun after the reboot: exit %s\n%s", rc(second, "evac2"), explain(second, "evac2.err", "evac2.json", "agentd.log"))
	}
	errs := string(second["evac2.err"])
	if testing.Verbose() {
		t.Logf("the rerun:\n%s\n%s", second["timeline.txt"], errs)
	}
	for _, want := range []string{"lvm pvmove -b -i 2 /dev/md0\n", "lvm pvmove -b -i 2 /dev/md1 ", "lvm vgreduce", "mdadm --stop", "mdadm --zero-superblock", "drop the ARRAY lines"} {
		if !strings.Contains(errs, "storage evacuate: "+want) {
			t.Errorf("the rerun did not %q:\n%s", want, errs)
		}
	}
	if got := string(second["sha256"]); got != sum {
		t.Errorf("data checksum after the evacuation: %q, before: %q", got, sum)
	}
	if got := string(second["sha256-reboot"]); got != sum {
		t.Errorf("data checksum at the next boot: %q, before: %q\n%s", got, sum, explain(second, "lvm.log", "mdstat-reassembled"))
	}
	// The writer's file: every number once, in order, across the kill and the reboot.
	lines := strings.Fields(string(second["log"]))
	for i, l := range lines {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("the writer's file at line %d: %q, want %d", i+1, l, i+1)
		}
	}
	lastFirst, _ := strconv.Atoi(strings.TrimSpace(string(first["log-last"])))
	t.Logf("the writer appended %d lines during the first boot and %d during the rerun", lastFirst, len(lines)-lastFirst)
	if lastFirst < 20 || len(lines) <= lastFirst {
		t.Errorf("the writer wrote %d lines in the first boot and %d in all; want it at work in both", lastFirst, len(lines))
	}
	if conf := string(second["mdadm.conf"]); strings.Contains(conf, "ARRAY") {
		t.Errorf("mdadm.conf still has ARRAY lines:\n%s", conf)
	}
	for _, name := range []string{"mdstat-after", "mdstat-reassembled"} {
		if m := string(second[name]); strings.Contains(m, "md0") || strings.Contains(m, "md1") || strings.Contains(m, "md12") {
			t.Errorf("%s: the mirrors are still there:\n%s", name, m)
		}
	}
	if n := strings.Count(string(second["examine"]), "No md superblock detected"); n != 4 {
		t.Errorf("%d of the 4 old members have no superblock; want all:\n%s", n, second["examine"])
	}
	names := diskNames(string(second["timeline.txt"]))
	pvs := string(second["pvs"])
	for _, role := range []string{"NEW0", "NEW1"} {
		if !regexp.MustCompile(`/dev/` + names[role] + `\s+vgdata`).MatchString(pvs) {
			t.Errorf("%s (%s) is not a PV of vgdata:\n%s", role, names[role], pvs)
		}
	}
	if strings.Contains(pvs, "/dev/md") {
		t.Errorf("an md device is still a PV:\n%s", pvs)
	}
	if _, left := second["record-left"]; left {
		t.Errorf("the evacuation's record is left after the end")
	}
	if rc(second, "evac3") != "5" || !strings.Contains(string(second["evac3.out"]), "nothing to evacuate") {
		t.Errorf("evacuate once done: exit %s\n%s", rc(second, "evac3"), second["evac3.out"])
	}
	if log := string(second["agentd.log"]); !strings.Contains(log, "storage actions paused") || !strings.Contains(log, "agentctl storage evacuate") {
		t.Errorf("the storage agent was not held:\n%s", log)
	}
}

// badFirstSlot boots a migration whose first SSD carries a file system.
func badFirstSlot(t *testing.T, v *vm, initrd string, disks map[string]string, sum string) {
	res := v.boot(t, initrd, "assemble", disks, 3*time.Minute, "wait=25")
	after := string(res["mdstat-after"])
	md0, md1 := mdBlock(after, "md0"), mdBlock(after, "md1")
	if !strings.Contains(md0, "[_U]") || !strings.Contains(md1, "[UU]") {
		t.Fatalf("want md0 still degraded and md1 recovered:\n%s\n%s", after, res["agentd.log"])
	}
	log := string(res["agentd.log"])
	if !regexp.MustCompile(`mirror needs a human.*array=md0.*its SSD's slot pci-\S+ holds vd[a-z], refused: not blank: ext4`).MatchString(log) {
		t.Errorf("md0's wait for a human and its reason are not in agentd's log:\n%s", log)
	}
	if got := string(res["sha256"]); got != sum {
		t.Errorf("data checksum after: %q, before: %q", got, sum)
	}
	// The monitoring check, with the agent running: md0 is CRITICAL (left to a human).
	if rc, out := strings.TrimSpace(string(res["check.rc"])), string(res["check.txt"]); rc != "2" || !strings.Contains(out, "md0 needs a human") {
		t.Errorf("storage check: exit %s, want 2 with md0 needing a human:\n%s", rc, out)
	}
}

// freshDisks copies the EBS images the create boot left and makes blank SSDs with new
// serials: the disks of an instance that moved to new hardware.
func freshDisks(t testing.TB, v *vm, tag string, img func(string) string) map[string]string {
	t.Helper()
	disks := copyDisks(t, v, tag, img, "ebs0", "ebs1")
	for _, n := range []string{newSSD0, newSSD1} {
		disks[n] = disk(t, filepath.Join(v.work, tag+"-"+n+".img"), diskSize)
	}
	return disks
}

// copyDisks copies the named disks as the create boot left them, for one boot (tag).
func copyDisks(t testing.TB, v *vm, tag string, img func(string) string, names ...string) map[string]string {
	t.Helper()
	disks := map[string]string{}
	for _, n := range names {
		p := filepath.Join(v.work, tag+"-"+n+".img")
		if out, err := exec.Command("cp", "--sparse=always", img(n), p).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		disks[n] = p
	}
	return disks
}

// The serials of the blank SSDs after a migration: new hardware, new serials (the guest
// finds each by its role, the prefix; it sits in the old one's PCI slot).
const newSSD0, newSSD1 = "ssd0-new", "ssd1-new"

// agentEvents reads the event log agentd left in its bbolt file: each array's event kinds
// in order, and when each "array kind" first happened (agentd's clock: the guest's).
func agentEvents(t testing.TB, v *vm, phase string, db []byte) (map[string][]string, map[string]time.Time) {
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
	kinds, at := map[string][]string{}, map[string]time.Time{}
	for _, e := range evs {
		kinds[e.Label] = append(kinds[e.Label], e.Kind)
		if _, ok := at[e.Label+" "+e.Kind]; !ok {
			at[e.Label+" "+e.Kind] = e.Time
		}
	}
	return kinds, at
}

// kernelTimes places the kernel's lines that match re on the guest's wall clock (the
// t-sync pair: a wall time and the uptime the kernel's lines carry), keyed by re's first
// submatch; the first line of each.
func kernelTimes(res map[string][]byte, re *regexp.Regexp) map[string]time.Time {
	sync := strings.Fields(string(res["t-sync"]))
	out := map[string]time.Time{}
	if len(sync) != 2 {
		return out
	}
	wall, err1 := time.Parse(time.RFC3339Nano, sync[0])
	up, err2 := strconv.ParseFloat(sync[1], 64)
	if err1 != nil || err2 != nil {
		return out
	}
	line := regexp.MustCompile(`^\[\s*([0-9.]+)\] (.*)$`)
	for _, l := range strings.Split(string(res["dmesg"]), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		k := re.FindStringSubmatch(m[2])
		if k == nil {
			continue
		}
		if _, seen := out[k[1]]; seen {
			continue
		}
		ts, _ := strconv.ParseFloat(m[1], 64)
		out[k[1]] = wall.Add(-time.Duration((up - ts) * float64(time.Second)))
	}
	return out
}

var (
	recoveryDone = regexp.MustCompile(`^md: (md[0-9]+): recovery done`)
	mirrorActive = regexp.MustCompile(`^md/raid1:(md[0-9]+): active with`)
)

// step is one transition the storage agent must act on, and how long it took.
type step struct {
	name string
	ms   float64
}

// stepLatencies measures each transition of a migration boot on the guest's clock, from
// the moment agentd could act (the arrays up, the grace period over, a mirror started, a
// recovery done) to its own event (stamped when it starts mdadm, or when it sees the end).
func stepLatencies(t testing.TB, v *vm, phase string, res map[string][]byte, grace time.Duration) []step {
	t.Helper()
	_, at := agentEvents(t, v, phase, res["agent.db"])
	up, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(res["t-assembled"])))
	if err != nil {
		t.Fatalf("no t-assembled stamp: %v", err)
	}
	done, active := kernelTimes(res, recoveryDone), kernelTimes(res, mirrorActive)
	var steps []step
	add := func(name string, from, to time.Time) {
		if from.IsZero() || to.IsZero() {
			t.Errorf("step %s: not seen (from %v, to %v)", name, from, to)
			return
		}
		steps = append(steps, step{name, float64(to.Sub(from)) / float64(time.Millisecond)})
	}
	// Which mirror went first: the other waited for it (one recovery at a time).
	first, second := "md0", "md1"
	if a, b := at["md1 add-issued"], at["md0 add-issued"]; !a.IsZero() && !b.IsZero() && a.Before(b) {
		first, second = "md1", "md0"
	}
	if phase == "incremental" {
		start, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(res["t-assemble-start"])))
		if err != nil {
			t.Fatalf("no t-assemble-start stamp: %v", err)
		}
		for _, md := range []string{"md0", "md1"} {
			// The grace period runs from the agent's first sight of the inactive mirror
			// (its "wait" event), which the first step measures from the assembly's start.
			add(md+": assembly started → seen inactive", start, at[md+" wait"])
			add(md+": inactive, grace over → mdadm --run", at[md+" wait"].Add(grace), at[md+" run-issued"])
		}
		add(first+": started degraded → mdadm --add", active[first], at[first+" add-issued"])
	} else {
		add(first+": degraded → mdadm --add", up, at[first+" add-issued"])
	}
	for _, md := range []string{first, second} {
		add(md+": recovery done → seen whole", done[md], at[md+" done"])
	}
	add(first+" whole → "+second+": mdadm --add", done[first], at[second+" add-issued"])
	return steps
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
