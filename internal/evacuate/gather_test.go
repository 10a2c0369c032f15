package evacuate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/hostexec/hostexectest"
	"github.com/fitsarchive/agentd/mdraid"
)

// Gather on a captured host: LVM's reports from a real pvmove, real mdadm --examine output
// for the devices that carry a superblock, a sysfs with a CD drive and an md device (never
// examined), a process list with or without an lvm poller. The fake runner fails the test
// on any command Gather was not expected to run.
func TestGather(t *testing.T) {
	fixtures := "../../mdraid/testdata"
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(fixtures, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	root := t.TempDir()
	sys, proc := filepath.Join(root, "sys"), filepath.Join(root, "proc")
	for dev, size := range map[string]string{"vda": "524288", "vdb": "524288", "vdc": "524288", "md0": "516096", "sr0": "2048", "vde": "0"} {
		os.MkdirAll(filepath.Join(sys, "class", "block", dev), 0o755)
		os.WriteFile(filepath.Join(sys, "class", "block", dev, "size"), []byte(size+"\n"), 0o644)
	}
	os.MkdirAll(filepath.Join(proc, "4242"), 0o755)
	os.WriteFile(filepath.Join(proc, "4242", "comm"), []byte("bash\n"), 0o644)
	conf := filepath.Join(root, "mdadm.conf")
	os.WriteFile(conf, []byte("ARRAY /dev/md0 UUID=a8b11440:0e639865:15c27575:affc44ea\n"), 0o644)

	run := hostexectest.New(t).
		On(hostexectest.Reply{Stdout: read("create/mdadm-examine-ssd0-clean.txt")}, "mdadm", "--examine", "/dev/vda").
		On(hostexectest.Reply{Stderr: "mdadm: No md superblock detected on /dev/vdb.\n", ExitCode: 1}, "mdadm", "--examine", "/dev/vdb").
		On(hostexectest.Reply{Stdout: read("create/mdadm-examine-ssd1-final.txt")}, "mdadm", "--examine", "/dev/vdc").
		On(hostexectest.Reply{Stdout: read("evacuate/pvs-pvmove.json")}, "lvm", "pvs").
		On(hostexectest.Reply{Stdout: read("evacuate/vgs-pvmove.json")}, "lvm", "vgs").
		On(hostexectest.Reply{Stdout: read("evacuate/lvs-pvmove.json")}, "lvm", "lvs")
	target := filepath.Join(root, "not-a-disk")
	os.WriteFile(target, nil, 0o644)
	h := Host{Run: run, ProcRoot: proc, SysRoot: sys, MdadmConf: conf}
	s, err := h.Gather(context.Background(), "vgdata", []string{target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Superblocks) != 2 || !mdraid.SameUUID(s.Superblocks["vda"], "a8b11440:0e639865:15c27575:affc44ea") ||
		!mdraid.SameUUID(s.Superblocks["vdc"], "b272a87d:4f2f50e6:a630e031:9e437594") {
		t.Fatalf("superblocks %v", s.Superblocks)
	}
	if s.Polling {
		t.Fatal("a poller seen where only bash runs")
	}
	if len(s.Targets) != 1 || !strings.Contains(s.Targets[0].Unusable, "not a block device") {
		t.Fatalf("targets %+v", s.Targets)
	}
	if !strings.Contains(s.MdadmConf, "ARRAY /dev/md0") || s.NoVG {
		t.Fatalf("conf %q, no VG %v", s.MdadmConf, s.NoVG)
	}
	moving := false
	for _, lv := range s.LVM.LVs {
		moving = moving || lv.Pvmove && lv.MovePV == "/dev/md0"
	}
	if !moving {
		t.Fatalf("no move seen in %+v", s.LVM.LVs)
	}
	// An lvm process (pvmove -b's poller, or the one vgchange -ay forks) is a poller.
	os.MkdirAll(filepath.Join(proc, "4243"), 0o755)
	os.WriteFile(filepath.Join(proc, "4243", "comm"), []byte("lvm\n"), 0o644)
	if !Polling(proc) {
		t.Fatal("the lvm process is not seen polling")
	}
}
