package evacuate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/lvm"
	"github.com/fitsarchive/agentd/mdraid"
)

// Host is where the state is read from.
type Host struct {
	Run       hostexec.Runner
	ProcRoot  string // "/proc"
	SysRoot   string // "/sys"
	MdadmConf string // "/etc/mdadm/mdadm.conf"
}

// Gather reads the state of an evacuation of vg onto targets (paths as given), with its
// record (nil: none yet). Read-only.
func (h Host) Gather(ctx context.Context, vg string, targets []string, rec *Record) (State, error) {
	s := State{VG: vg, Record: rec, Superblocks: map[string]string{}}
	arrays, err := mdraid.Read(h.ProcRoot, h.SysRoot)
	if err != nil && !errors.Is(err, mdraid.ErrNoMD) {
		return s, err
	}
	s.Arrays = arrays
	// Whether anything polls is read before LVM: a poller ends only after the move's LV is
	// gone, so a move seen afterwards with no poller seen before has none.
	s.Polling = Polling(h.ProcRoot)
	s.LVM, err = lvm.ReadVG(ctx, h.Run, vg)
	if errors.Is(err, lvm.ErrNoVG) {
		s.NoVG, err = true, nil
	}
	if err != nil {
		return s, err
	}
	disc := mdraid.Discovery{SysRoot: h.SysRoot, ProcRoot: h.ProcRoot, Run: h.Run}
	for _, t := range targets {
		tg := Target{Path: t, Device: canonical(t)}
		tg.Size = sectors(filepath.Join(h.SysRoot, "class", "block", filepath.Base(tg.Device), "size")) * 512
		tg.Unusable = disc.Unusable(ctx, t, arrays)
		s.Targets = append(s.Targets, tg)
	}
	// The members of running arrays carry their array's superblock (mdstat says which);
	// every other block device is examined.
	running := map[string]string{}
	for _, a := range arrays {
		if a.Active && mdraid.CanonicalUUID(a.UUID) != "" {
			for _, m := range a.Members {
				running[m.Device] = a.UUID
			}
		}
	}
	md := mdraid.Mdadm{Run: h.Run}
	entries, _ := os.ReadDir(filepath.Join(h.SysRoot, "class", "block"))
	for _, e := range entries {
		name := e.Name()
		if uuid, ok := running[name]; ok {
			s.Superblocks[name] = uuid
			continue
		}
		if skipForSuperblock(name) || sectors(filepath.Join(h.SysRoot, "class", "block", name, "size")) == 0 {
			continue
		}
		if ex := md.Examine(ctx, "/dev/"+name); ex.Superblock && ex.ArrayUUID != "" {
			s.Superblocks[name] = ex.ArrayUUID
		}
	}
	if b, err := os.ReadFile(h.MdadmConf); err == nil {
		s.MdadmConf = string(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	return s, nil
}

// skipForSuperblock: devices that cannot be an md member worth examining.
func skipForSuperblock(name string) bool {
	for _, p := range []string{"md", "ram", "zram", "sr", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// sectors reads a sysfs size (512-byte sectors); 0 when unreadable.
func sectors(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// Polling says whether a process that may poll a pvmove runs here: lvmpolld, or an lvm
// command (pvmove -b's poller, or the one vgchange -ay forks).
func Polling(procRoot string) bool {
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir(procRoot)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(comm)) {
		case "lvm", "lvmpolld", "pvmove", "vgchange", "lvchange":
			return true
		}
	}
	return false
}
