package mdraid

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Every captured mdstat reads without error, and no member loses its write-mostly or faulty
// flag (procfs before v0.23.0 lost both: testdata/README.md).
func TestEveryCapturedMdstatReads(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/mdstat-*.txt")
	if len(files) < 20 {
		t.Fatalf("only %d mdstat fixtures found", len(files))
	}
	for _, f := range files {
		proc, sys := tree(t, readFile(t, f)) // the final ones: arrays stopped
		arrays, err := Read(proc, sys)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		text := readFile(t, f)
		if want := strings.Count(text, "\nmd"); len(arrays) != want {
			t.Errorf("%s: %d arrays, want %d", f, len(arrays), want)
		}
		for _, a := range arrays {
			for _, m := range a.Members {
				// In the scenario the EBS volumes are vdb and vdd, always write-mostly
				// except after they were removed and re-added.
				if (m.Device == "vdb" || m.Device == "vdd") && !m.WriteMostly {
					t.Errorf("%s: %s member %s lost its write-mostly flag", f, a.Name, m.Device)
				}
			}
		}
	}
}

func TestFaultyWriteMostlyMember(t *testing.T) {
	proc, sys := tree(t, readFile(t, "testdata/migrate/mdstat-faulty.txt"))
	arrays, err := Read(proc, sys)
	if err != nil {
		t.Fatal(err)
	}
	m := arrays[0].Member("vdb")
	if m == nil || !m.WriteMostly || !m.Faulty || m.Working() {
		t.Fatalf("md0 vdb = %+v, want write-mostly, faulty, not working", m)
	}
	if ssd := arrays[0].Member("vda"); ssd == nil || ssd.WriteMostly || ssd.Faulty {
		t.Fatalf("md0 vda = %+v", ssd)
	}
}

func TestSysfsStateJoinsMdstat(t *testing.T) {
	proc, sys := tree(t, readFile(t, "testdata/create/mdstat-writemostly-clean.txt"), sysDump(t, "testdata/create/sysfs-md-clean.txt")...)
	arrays, err := Read(proc, sys)
	if err != nil {
		t.Fatal(err)
	}
	a := arrays[1]
	if a.Name != "md1" || a.Level != "raid1" || a.ArrayState != "clean" || a.SyncAction != "idle" || a.UUID != fixtureUUID["md1"] || len(a.Warnings) != 0 {
		t.Fatalf("md1 = %+v", a)
	}
	ebs, ssd := a.Member("vdd"), a.Member("vdc")
	if !ebs.WriteMostly || !ebs.InSync || !ssd.InSync || ssd.WriteMostly || !ebs.Working() {
		t.Fatalf("members %+v", a.Members)
	}
}

func TestRecoveryProgress(t *testing.T) {
	proc, sys := tree(t, readFile(t, "testdata/migrate/mdstat-recovery.txt"))
	arrays, err := Read(proc, sys)
	if err != nil {
		t.Fatal(err)
	}
	s := arrays[1].Sync
	if s == nil || s.Kind != "recovering" || s.Percent != 12.1 || s.DoneKiB != 31744 || s.TotalKiB != 261120 || s.SpeedKiBs != 10581 {
		t.Fatalf("md1 sync = %+v", s)
	}
	if arrays[0].Sync != nil {
		t.Fatalf("md0 sync = %+v, want none", arrays[0].Sync)
	}
}

func TestNoMdstatIsNoMD(t *testing.T) {
	proc, sys := tree(t, "")
	if _, err := Read(proc, sys); !errors.Is(err, ErrNoMD) {
		t.Fatalf("err = %v, want ErrNoMD", err)
	}
}

// Hand-made lines for what the scenario did not capture.
func TestHandMadeMdstat(t *testing.T) {
	cases := map[string]func(t *testing.T, a []Array){
		`Personalities : [raid1] [raid0] [linear]
md0 : active raid1 sdb[1](W) sda[0]
      1000 blocks super 1.2 [2/2] [UU]
      	resync=PENDING
      bitmap: 0/1 pages [0KB], 65536KB chunk

md1 : active raid1 sdd[1](W) sdc[0]
      1000 blocks super 1.2 [2/2] [UU]
      	resync=DELAYED

md2 : active raid1 sdf[1] sde[0]
      1000 blocks super 1.2 [2/2] [UU]
      [=>...................]  check =  5.0% (50/1000) finish=1.0min speed=100K/sec

md3 : active raid0 sdg[0] sdh[1]
      2000 blocks super 1.2 512k chunks

md4 : active linear sdi[0] sdj[1]
      2000 blocks super 1.2 0k rounding

md5 : inactive sdk[1](S)
      1000 blocks super 1.2

md6 : active raid1 sdm[2](S) sdl[1](W)
      1000 blocks super 1.2 [2/1] [_U]

unused devices: <none>
`: func(t *testing.T, a []Array) {
			if len(a) != 7 {
				t.Fatalf("%d arrays", len(a))
			}
			if s := a[0].Sync; s == nil || !s.Pending || s.Kind != "resyncing" {
				t.Errorf("md0 (PENDING) sync = %+v", s)
			}
			if s := a[1].Sync; s == nil || !s.Pending {
				t.Errorf("md1 (DELAYED) sync = %+v", s)
			}
			if s := a[2].Sync; s == nil || s.Kind != "checking" || s.Percent != 5 {
				t.Errorf("md2 check = %+v", s)
			}
			if a[3].Level != "raid0" || a[4].Level != "linear" || len(a[3].Members) != 2 {
				t.Errorf("raid0/linear = %+v / %+v", a[3], a[4])
			}
			if a[5].Active || len(a[5].Members) != 1 || !a[5].Members[0].Spare {
				t.Errorf("inactive md5 = %+v", a[5])
			}
			if m := a[6].Member("sdm"); m == nil || !m.Spare || m.Working() || !a[6].Member("sdl").WriteMostly {
				t.Errorf("md6 spare = %+v", a[6].Members)
			}
		},
	}
	for text, check := range cases {
		proc, sys := tree(t, text)
		arrays, err := Read(proc, sys)
		if err != nil {
			t.Fatal(err)
		}
		check(t, arrays)
	}
}

// Garbled text is an error, not a crash (procfs' parser panics on this one).
func TestGarbledMdstatIsAnError(t *testing.T) {
	for _, text := range []string{"Personalities : 0", "Personalities : [raid1]\nmd0 : active raid1 vda[0]\n"} {
		proc, sys := tree(t, text)
		if _, err := Read(proc, sys); err == nil || errors.Is(err, ErrNoMD) {
			t.Errorf("%q: err = %v, want a parse error", text, err)
		}
	}
}
