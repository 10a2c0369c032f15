package mdraid

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// A /dev tree whose "devices" are image files: the real wipefs reads their signatures
// (an ext4 made by mkfs.ext4, a DOS partition table written here, nothing at all).
func TestDiscoveryDescribesCandidates(t *testing.T) {
	for _, tool := range []string{"wipefs", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (util-linux, e2fsprogs): CI must have it", tool)
			}
			t.Skipf("%s not installed (util-linux, e2fsprogs)", tool)
		}
	}
	root := t.TempDir()
	dev, sys, proc := filepath.Join(root, "dev"), filepath.Join(root, "sys"), filepath.Join(root, "proc")
	os.MkdirAll(filepath.Join(dev, "disk", "by-id"), 0o755)
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	image := func(name string, size int64, minor int) string {
		p := filepath.Join(dev, name)
		f, _ := os.Create(p)
		f.Truncate(size)
		f.Close()
		os.MkdirAll(filepath.Join(sys, "class", "block", name, "holders"), 0o755)
		os.WriteFile(filepath.Join(sys, "class", "block", name, "size"), []byte(itoa(size/512)+"\n"), 0o644)
		os.WriteFile(filepath.Join(sys, "class", "block", name, "dev"), []byte("259:"+itoa(int64(minor))+"\n"), 0o644)
		os.Symlink("../../"+name, filepath.Join(dev, "disk", "by-id", "nvme-Amazon_EC2_NVMe_Instance_Storage_"+strings.ToUpper(name)))
		return p
	}
	image("nvme1n1", 64<<20, 1) // blank
	fs := image("nvme2n1", 64<<20, 2)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", fs).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	pt := image("nvme3n1", 64<<20, 3)
	mbr := make([]byte, 512)
	mbr[446+4] = 0x83                                 // one Linux partition
	binary.LittleEndian.PutUint32(mbr[446+8:], 2048)  // from sector 2048
	binary.LittleEndian.PutUint32(mbr[446+12:], 8192) // 4 MiB
	mbr[510], mbr[511] = 0x55, 0xaa
	f, _ := os.OpenFile(pt, os.O_WRONLY, 0)
	f.Write(mbr)
	f.Close()
	image("nvme4n1", 64<<20, 4)
	os.WriteFile(filepath.Join(proc, "self", "mountinfo"), []byte("30 1 259:4 / /scratch rw,relatime - ext4 /dev/nvme4n1 rw\n"), 0o644)
	image("nvme5n1", 64<<20, 5)
	os.MkdirAll(filepath.Join(sys, "class", "block", "nvme5n1", "holders", "dm-0"), 0o755)
	os.Symlink("nvme1n1", filepath.Join(dev, "xvdb")) // a Xen-style name: says nothing

	d := Discovery{DevRoot: root, SysRoot: sys, ProcRoot: proc, Run: hostexec.Exec{},
		Patterns: append(DefaultCandidatePatterns, "/dev/xvd*")}
	arrays := []Array{{Name: "md0", Level: "raid1", Active: true, Members: []Member{{Device: "vdb"}}}}
	cands, err := d.Find(context.Background(), arrays)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Candidate{}
	for _, c := range cands {
		got[c.Device] = c
	}
	if len(cands) != 5 {
		t.Fatalf("%d candidates: %+v (the xvdb link to nvme1n1 is the same device)", len(cands), cands)
	}
	if c := got["nvme1n1"]; !c.InstanceStore || c.InUse != "" || len(c.Signatures) != 0 || c.SizeBytes != 64<<20 ||
		c.Path != "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_NVME1N1" {
		t.Errorf("blank: %+v", c)
	}
	if c := got["nvme2n1"]; strings.Join(c.Signatures, ",") != "ext4" {
		t.Errorf("ext4: %+v", c)
	}
	if c := got["nvme3n1"]; strings.Join(c.Signatures, ",") != "dos" {
		t.Errorf("partition table: %+v", c)
	}
	if c := got["nvme4n1"]; c.InUse != "mounted at /scratch" {
		t.Errorf("mounted: %+v", c)
	}
	if c := got["nvme5n1"]; c.InUse != "held by dm-0" {
		t.Errorf("held: %+v", c)
	}
	// The planner takes only the blank one.
	arrays = []Array{{Name: "md0", Level: "raid1", Active: true, RaidDisks: 2, Degraded: 1, SizeKiB: 1024,
		Members: []Member{{Device: "vdb", WriteMostly: true, InSync: true}}}}
	ds := Plan(Input{Arrays: arrays, Candidates: cands})
	if ds[0].Kind != KindAdd || ds[0].Device != got["nvme1n1"].Path || len(ds[0].Refused) != 4 {
		t.Fatalf("plan %+v", ds)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
