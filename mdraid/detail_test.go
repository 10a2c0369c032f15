package mdraid

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every captured `mdadm --detail` reads, and its EBS member (vdb or vdd) is write-mostly
// wherever it is listed and not faulty-removed.
func TestEveryCapturedDetailReads(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/mdadm-detail-md*.txt")
	if len(files) < 10 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		d := ParseDetail(readFile(t, f))
		if d.Device == "" || d.Level != "raid1" || d.UUID == "" || d.State == "" || len(d.Members) == 0 {
			t.Errorf("%s: %+v", f, d)
			continue
		}
		for _, m := range d.Members {
			if (m.Device == "vdb" || m.Device == "vdd") && !m.WriteMostly {
				t.Errorf("%s: %s lost write-mostly: %+v", f, m.Device, m)
			}
		}
	}
	d := ParseDetail(readFile(t, "testdata/migrate/mdadm-detail-md0-recovering.txt"))
	if len(d.Members) != 2 || !d.Members[0].Spare || d.Members[0].InSync || !d.Members[1].InSync {
		t.Fatalf("recovering detail %+v", d.Members)
	}
	d = ParseDetail(readFile(t, "testdata/migrate/mdadm-detail-md0-faulty.txt"))
	faulty := false
	for _, m := range d.Members {
		faulty = faulty || (m.Device == "vdb" && m.Faulty)
	}
	if !faulty {
		t.Fatalf("faulty detail %+v", d.Members)
	}
}

func TestApplyDetailWithoutSysfs(t *testing.T) {
	proc, sys := tree(t, readFile(t, "testdata/migrate/mdstat-recovery.txt"))
	arrays, err := Read(proc, sys)
	if err != nil {
		t.Fatal(err)
	}
	md1 := arrays[1]
	if len(md1.Warnings) == 0 {
		t.Fatal("expected a warning: no sysfs in this tree")
	}
	ApplyDetail(&md1, ParseDetail(readFile(t, "testdata/migrate/mdadm-detail-md1-recovering.txt")))
	if ebs := md1.Member("vdd"); !ebs.InSync || !ebs.WriteMostly {
		t.Fatalf("vdd %+v", ebs)
	}
	if ssd := md1.Member("vdc"); ssd.InSync || !ssd.Spare {
		t.Fatalf("vdc %+v", ssd)
	}
}

func TestEveryScanAndConfReads(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/mdadm-*scan*.txt")
	files = append(files, "testdata/migrate/mdadm.conf-used.txt")
	for _, f := range files {
		arrays := ParseScan(readFile(t, f))
		if len(arrays) != 2 || !strings.Contains(arrays[0].Device, "md") || arrays[0].UUID == "" {
			t.Errorf("%s: %+v", f, arrays)
		}
	}
}

// The sysfs dumps of every capture build a tree that Read joins with its mdstat.
func TestEverySysfsDumpReads(t *testing.T) {
	for dump, mdstat := range map[string]string{
		"testdata/create/sysfs-md-clean.txt":  "testdata/create/mdstat-writemostly-clean.txt",
		"testdata/migrate/sysfs-md-final.txt": "testdata/migrate/mdstat-re-add.txt",
	} {
		proc, sys := tree(t, readFile(t, mdstat), sysDump(t, dump)...)
		arrays, err := Read(proc, sys)
		if err != nil {
			t.Fatalf("%s: %v", dump, err)
		}
		for _, a := range arrays {
			if len(a.Warnings) != 0 || a.ArrayState != "clean" {
				t.Errorf("%s %s: %+v", dump, a.Name, a)
			}
		}
	}
}

// mdadm's status lines (on stderr) become the one-line message of the event log.
func TestEveryCapturedMdadmMessageReads(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.stderr")
	if len(files) < 10 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		m := Message(readFile(t, f))
		if !strings.HasPrefix(m, "mdadm: ") || strings.Contains(m, "\n") {
			t.Errorf("%s: %q", f, m)
		}
	}
	if m := Message(readFile(t, "testdata/migrate/mdadm-add-ssd0.txt.stderr")); m != "mdadm: added /dev/vda" {
		t.Errorf("add message %q", m)
	}
}
