package mdraid

import (
	"path/filepath"
	"strings"
	"testing"
)

// Each captured state gets the monitoring state an operator expects, with the words and
// the perfdata of the status line.
func TestAssess(t *testing.T) {
	read := func(name string) []Array {
		root := filepath.Join("testdata", "trees", name)
		a, err := Read(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return a
	}
	inactive := arraysOf(t, "Personalities : [raid1] \nmd0 : inactive vdb[1](S)\n      261048 blocks super 1.2\n       \nunused devices: <none>\n", nil)
	lostEBS := arraysOf(t, readFile(t, "testdata/migrate/mdstat-removed.txt"), nil)
	mismatch := read("clean")
	mismatch[0].MismatchCnt = 128
	for _, tc := range []struct {
		name   string
		arrays []Array
		state  int
		words  []string
	}{
		{"clean", read("clean"), HealthOK, []string{"STORAGE OK - md0 in sync; md1 in sync | md0_degraded=0;;1;0;2 md0_sync=100.0%;;;0;100 md0_mismatch_cnt=0;1;;0;"}},
		{"degraded", read("degraded"), HealthWarning, []string{"STORAGE WARNING", "md0 degraded on vdb (1 of 2 members)", "md0_degraded=1"}},
		{"recovering", read("recovery"), HealthWarning, []string{"md1 recovering 12.1%", "md1_sync=12.1%"}},
		{"faulty", read("faulty"), HealthCritical, []string{"STORAGE CRITICAL", "has a failed device"}},
		{"inactive", inactive, HealthCritical, []string{"md0 inactive"}},
		{"EBS member lost", lostEBS, HealthCritical, []string{"not write-mostly: the EBS member is lost"}},
		{"scrub mismatch", mismatch, HealthWarning, []string{"last scrub found 128 mismatched sectors", "md0_mismatch_cnt=128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Assess(tc.arrays)
			line := h.StatusLine()
			if h.State != tc.state {
				t.Fatalf("state %s, want %s: %s", HealthNames[h.State], HealthNames[tc.state], line)
			}
			for _, w := range tc.words {
				if !strings.Contains(line, w) {
					t.Errorf("%q not in %q", w, line)
				}
			}
		})
	}
}

// A mirror the storage agent leaves to a human is CRITICAL, though /proc shows it only
// degraded.
func TestEscalateNeedsHuman(t *testing.T) {
	root := filepath.Join("testdata", "trees", "degraded")
	arrays, err := Read(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
	if err != nil {
		t.Fatal(err)
	}
	h := Assess(arrays)
	if h.State != HealthWarning {
		t.Fatalf("degraded: %s", h.StatusLine())
	}
	h.Escalate([]Decision{{Array: "md0", Kind: KindHuman, Reason: "its SSD's slot pci-0000:00:12.0 holds vdc, refused: not blank: ext4"}, {Array: "md1", Kind: KindAdd}})
	if line := h.StatusLine(); h.State != HealthCritical || !strings.Contains(line, "md0 needs a human") || !strings.Contains(line, "md1 degraded") {
		t.Fatalf("escalated: %s", line)
	}
}
