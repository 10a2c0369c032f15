package mdraid

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pair is one mirror of the archive's layout: an instance-store SSD and an EBS volume (the
// write-mostly member).
type Pair struct {
	SSD string `json:"ssd"`
	EBS string `json:"ebs"`
}

// Layout is what `agentctl storage init` builds: one RAID1 per pair (the EBS member
// --write-mostly, an internal bitmap, write-behind), LVM over the mirrors, one LV, a file
// system.
type Layout struct {
	Pairs       []Pair
	Arrays      []string // the md devices to create, one per pair: md0, md1…
	VG, LV, FS  string   // FS: ext4 or xfs
	WriteBehind int
}

// Commands are the layout's commands, in order, as argv. The first md (mdadm --create) and
// the LVM ones take the devices as given.
func (l Layout) Commands() [][]string {
	var cmds [][]string
	var mds []string
	for i, p := range l.Pairs {
		md := "/dev/" + l.Arrays[i]
		mds = append(mds, md)
		cmds = append(cmds, []string{"mdadm", "--create", md, "--run", "--level=1", "--raid-devices=2",
			"--bitmap=internal", fmt.Sprintf("--write-behind=%d", l.WriteBehind), p.SSD, "--write-mostly", p.EBS})
	}
	cmds = append(cmds, append([]string{"lvm", "pvcreate", "-q"}, mds...))
	cmds = append(cmds, append([]string{"lvm", "vgcreate", "-q", l.VG}, mds...))
	cmds = append(cmds, []string{"lvm", "lvcreate", "-q", "-y", "-l", "100%FREE", "-n", l.LV, l.VG})
	lv := "/dev/" + l.VG + "/" + l.LV
	if l.FS == "xfs" {
		cmds = append(cmds, []string{"mkfs.xfs", "-q", lv})
	} else {
		cmds = append(cmds, []string{"mke2fs", "-q", "-t", "ext4", lv})
	}
	return cmds
}

// FreeArrays names n md devices not in use under sysRoot (/sys/block/mdN absent), lowest
// first.
func FreeArrays(sysRoot string, n int) []string {
	var out []string
	for i := 0; len(out) < n && i < 1000; i++ {
		name := fmt.Sprintf("md%d", i)
		if _, err := os.Stat(filepath.Join(sysRoot, "block", name, "md")); err != nil {
			out = append(out, name)
		}
	}
	return out
}

// Unusable says why the device at path cannot be made a mirror's member ("" when it can):
// not a block device, in use (mounted, held, an array's member, partitioned), or carrying
// any signature — the storage agent's own blank proof; nothing is ever wiped.
func (d Discovery) Unusable(ctx context.Context, path string, arrays []Array) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err.Error()
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err.Error()
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return "not a block device"
	}
	dev := filepath.Base(real)
	members := map[string]string{}
	for _, a := range arrays {
		for _, m := range a.Members {
			members[m.Device] = a.Name
		}
	}
	if why := inUse(d.SysRoot, dev, mountedDevices(filepath.Join(d.ProcRoot, "self", "mountinfo")), members); why != "" {
		return "in use: " + why
	}
	if sigs := d.Signatures(ctx, real); len(sigs) > 0 {
		return "not blank: " + strings.Join(sigs, ", ") + " (wipe it yourself if it really is meant for this; agentctl never does)"
	}
	return ""
}
