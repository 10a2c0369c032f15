package lvm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures is where the LVM reports captured with the md fixtures live (in the qemu VM of
// mdraid/testdata/README.md).
const fixtures = "../mdraid/testdata"

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
