package lvm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/hostexec/hostexectest"
)

// fixtures is where the LVM reports captured with the md fixtures live (in the qemu VM of
// mdraid/testdata/README.md).
const fixtures = "../mdraid/testdata"

// evacuateFixture reads what LVM printed during a real evacuation (the qemu suite).
func evacuateFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "evacuate", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every captured report parses.
func TestCapturedReportsParse(t *testing.T) {
	files, _ := filepath.Glob(fixtures + "/*/*.json")
	if len(files) < 9 {
		t.Fatalf("%d fixtures", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(r.PVs)+len(r.VGs)+len(r.LVs) == 0 {
			t.Errorf("%s: nothing read", f)
		}
		if p := r.Problems(); len(p) != 0 {
			t.Errorf("%s: problems %v in a healthy capture", f, p)
		}
	}
}

func TestMergedReportAndSegments(t *testing.T) {
	var docs [][]byte
	for _, f := range []string{"pvs-full.json", "vgs-full.json", "lvs-segments.json"} {
		b, _ := os.ReadFile(filepath.Join(fixtures, "create", f))
		docs = append(docs, b)
	}
	r, err := Parse(docs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PVs) != 2 || r.PVs[0].Size != 252<<20 || r.VGs[0].Size != 504<<20 || r.VGs[0].PVCount != 2 {
		t.Fatalf("report %+v", r)
	}
	if len(r.LVs) != 1 || !r.LVs[0].Active || strings.Join(r.LVs[0].Devices, " ") != "/dev/md0(0) /dev/md1(0)" {
		t.Fatalf("lv %+v", r.LVs)
	}
}

// What a lost PV looks like (hand-made from LVM's attribute documentation: pv_attr m =
// missing, vg_attr p = partial, lv_attr health p = partial), as fullreport with --units b.
func TestMissingPVIsReported(t *testing.T) {
	doc := `{"report":[{"vg":[{"vg_name":"vgdata","vg_attr":"wz-pn-","vg_size":"528482304B","vg_free":"0B","pv_count":"2","lv_count":"1"}],
	 "pv":[{"pv_name":"/dev/md0","vg_name":"vgdata","pv_attr":"a--","pv_size":"264241152B","pv_free":"0B"},
	       {"pv_name":"[unknown]","vg_name":"vgdata","pv_attr":"a-m","pv_size":"264241152B","pv_free":"0B"}],
	 "lv":[{"lv_name":"lvdata","vg_name":"vgdata","lv_attr":"-wi-a---p-","lv_size":"528482304B"}]}]}`
	r, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Join(r.Problems(), "\n")
	for _, want := range []string{"[unknown] of vgdata is missing", "vgdata is partial", "vgdata/lvdata: partial"} {
		if !strings.Contains(p, want) {
			t.Errorf("problems lack %q:\n%s", want, p)
		}
	}
	if r.PVs[0].Size != 264241152 {
		t.Errorf("size %d", r.PVs[0].Size)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]int64{"252.00m": 252 << 20, "0 ": 0, "264241152B": 264241152, "264241152": 264241152,
		"1.50g": 3 << 29, "2.00M": 2000000, "": 0} {
		if got, err := Size(in); err != nil || got != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := Size("12x"); err == nil {
		t.Error("Size(12x): no error")
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile(fixtures + "/create/pvs-full.json")
	f.Add(b)
	f.Add([]byte(`{"report":[{"lv":[{"lv_name":"a","lv_attr":"x","lv_size":"1.5e3k"}]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := Parse(doc)
		if err == nil {
			_ = r.Problems()
		}
	})
}

// A pvmove that ends between ReadVG's commands: pvs still shows the move's extents taken
// on the target, lvs no longer shows the move. Read as one report, the source would
// seem to have everything still to move and the target no room (an evacuation refused
// its own move so in the qemu suite); ReadVG must see the moves change and read again.
func TestReadVGAcrossTheEndOfAMove(t *testing.T) {
	read := func(name string) string { return evacuateFixture(t, name) }
	// After the move: md0 empty, lvdata on vdc and md1 (what lvm prints, trimmed).
	pvsAfter := `{"report":[{"pv":[
		{"pv_name":"/dev/md0","vg_name":"vgdata","pv_attr":"a--","pv_size":"264241152","pv_free":"264241152","dev_size":"267386880"},
		{"pv_name":"/dev/md1","vg_name":"vgdata","pv_attr":"a--","pv_size":"264241152","pv_free":"0","dev_size":"267386880"},
		{"pv_name":"/dev/vdc","vg_name":"vgdata","pv_attr":"a--","pv_size":"264241152","pv_free":"0","dev_size":"268435456"},
		{"pv_name":"/dev/vdd","vg_name":"vgdata","pv_attr":"a--","pv_size":"264241152","pv_free":"264241152","dev_size":"268435456"}]}]}`
	lvsAfter := `{"report":[{"lv":[
		{"lv_name":"lvdata","vg_name":"vgdata","lv_attr":"-wi-ao----","lv_size":"528482304","move_pv":"","copy_percent":"","devices":"/dev/vdc(0)"},
		{"lv_name":"lvdata","vg_name":"vgdata","lv_attr":"-wi-ao----","lv_size":"528482304","move_pv":"","copy_percent":"","devices":"/dev/md1(0)"}]}]}`
	var pvsCalls, lvsCalls int
	run := hostexectest.New(t).
		OnFunc(func(argv []string) hostexectest.Reply {
			switch argv[1] {
			case "pvs":
				if pvsCalls++; pvsCalls == 1 {
					return hostexectest.Reply{Stdout: read("pvs-pvmove.json")} // the move's extents still taken
				}
				return hostexectest.Reply{Stdout: pvsAfter}
			case "vgs":
				return hostexectest.Reply{Stdout: read("vgs-pvmove.json")}
			case "lvs":
				if lvsCalls++; lvsCalls == 1 {
					return hostexectest.Reply{Stdout: read("lvs-pvmove.json")} // the move under way
				}
				return hostexectest.Reply{Stdout: lvsAfter} // it ended before the second lvs
			}
			t.Errorf("lvm %s: not a command ReadVG runs", strings.Join(argv[1:], " "))
			return hostexectest.Reply{ExitCode: 3}
		}, "lvm")
	r, err := ReadVG(context.Background(), run, "vgdata")
	if err != nil {
		t.Fatal(err)
	}
	if m := moves(r); len(m) != 0 {
		t.Errorf("moves %v; the move had ended", m)
	}
	free := map[string]int64{}
	for _, pv := range r.PVs {
		free[pv.Name] = pv.Free
	}
	if free["/dev/md0"] != 264241152 || free["/dev/vdd"] != 264241152 {
		t.Errorf("pv free %v: a report from before the move's end mixed with one after", free)
	}
	if pvsCalls != 2 || lvsCalls != 4 {
		t.Errorf("pvs run %d times, lvs %d; want the read taken twice (2 and 4)", pvsCalls, lvsCalls)
	}
}

// ReadVG on what LVM printed during a real pvmove (agentctl storage evacuate in the qemu
// suite): the move, its source and progress, the PVs' device sizes, the extent size. The
// fake runner answers exactly ReadVG's three commands and fails the test on any other.
func TestReadVGDuringAMove(t *testing.T) {
	read := func(name string) string { return evacuateFixture(t, name) }
	fixed := "--reportformat json --units b --nosuffix"
	run := hostexectest.New(t).
		OnFunc(func(argv []string) hostexectest.Reply {
			switch strings.Join(argv[1:], " ") {
			case "pvs " + fixed + " -o pv_name,vg_name,pv_attr,pv_size,pv_free,dev_size":
				return hostexectest.Reply{Stdout: read("pvs-pvmove.json")}
			case "vgs " + fixed + " -o vg_name,vg_attr,vg_size,vg_free,vg_extent_size,pv_count,lv_count vgdata":
				return hostexectest.Reply{Stdout: read("vgs-pvmove.json")}
			case "lvs " + fixed + " -a -o lv_name,vg_name,lv_attr,lv_size,move_pv,copy_percent,devices vgdata":
				return hostexectest.Reply{Stdout: read("lvs-pvmove.json")}
			case "vgs " + fixed + " -o vg_name,vg_attr,vg_size,vg_free,vg_extent_size,pv_count,lv_count vgx":
				return hostexectest.Reply{Stdout: `{"report":[{"vg":[]}]}`, Stderr: "  Volume group \"vgx\" not found\n", ExitCode: 5}
			case "lvs " + fixed + " -a -o lv_name,vg_name,lv_attr,lv_size,move_pv,copy_percent,devices vgx":
				return hostexectest.Reply{Stdout: `{"report":[{"lv":[]}]}`, Stderr: "  Volume group \"vgx\" not found\n", ExitCode: 5}
			}
			t.Errorf("lvm %s: not a command ReadVG runs", strings.Join(argv[1:], " "))
			return hostexectest.Reply{ExitCode: 3}
		}, "lvm")
	r, err := ReadVG(context.Background(), run, "vgdata")
	if err != nil {
		t.Fatal(err)
	}
	var moves []LV
	for _, lv := range r.LVs {
		if lv.Pvmove {
			moves = append(moves, lv)
		}
	}
	if len(moves) != 1 || moves[0].Name != "[pvmove0]" || moves[0].MovePV != "/dev/md0" || moves[0].CopyPercent != 12.7 {
		t.Fatalf("moves %+v; want [pvmove0] off /dev/md0 at 12.7 %%", moves)
	}
	if len(r.VGs) != 1 || r.VGs[0].ExtentSize != 4<<20 {
		t.Fatalf("vgs %+v; want vgdata with 4 MiB extents", r.VGs)
	}
	sizes := map[string][2]int64{}
	for _, pv := range r.PVs {
		sizes[pv.Name] = [2]int64{pv.DevSize, pv.Free}
	}
	if sizes["/dev/md0"] != [2]int64{267386880, 0} || sizes["/dev/vdd"] != [2]int64{268435456, 264241152} {
		t.Fatalf("pv sizes %v", sizes)
	}
	// A volume group that is not there: ErrNoVG, with the PVs read.
	r, err = ReadVG(context.Background(), run, "vgx")
	if !errors.Is(err, ErrNoVG) || len(r.PVs) != 4 {
		t.Fatalf("vgx: %v, %d PVs; want ErrNoVG and the 4 PVs", err, len(r.PVs))
	}
}
