// Package mdraid reads the state of Linux md arrays (from /proc/mdstat and /sys/block/md*/md,
// through github.com/prometheus/procfs), decides what to do about a RAID1 mirror that came
// back degraded on its write-mostly EBS member (a pure planner), and carries the decision
// out with mdadm through one exec runner. It never zeroes a superblock and never wipes a
// device.
package mdraid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/sysfs"
)

// ErrNoMD is returned when the host has no md driver (/proc/mdstat is absent).
var ErrNoMD = errors.New("no md on this host (/proc/mdstat is absent)")

// Member is one component device of an array.
type Member struct {
	Device      string   `json:"device"` // kernel name, e.g. "nvme1n1"
	Slot        int      `json:"slot"`   // descriptor index in mdstat's dev[N]
	WriteMostly bool     `json:"write_mostly"`
	Faulty      bool     `json:"faulty"`
	Spare       bool     `json:"spare"`
	InSync      bool     `json:"in_sync"`
	State       []string `json:"state,omitempty"` // sysfs dev-*/state, e.g. in_sync,write_mostly
	SizeBytes   int64    `json:"size_bytes,omitempty"`
	// DataOffset is where the member's data starts, in bytes (sysfs md/dev-*/offset).
	DataOffset int64 `json:"data_offset,omitempty"`
}

// Working reports whether the member serves data now.
func (m Member) Working() bool { return !m.Faulty && !m.Spare && m.InSync }

// Array is one md array.
type Array struct {
	Name       string `json:"name"`  // "md0"
	Level      string `json:"level"` // "raid1"
	Active     bool   `json:"active"`
	ArrayState string `json:"array_state,omitempty"` // sysfs: clean, active, read-auto, inactive…
	RaidDisks  int    `json:"raid_disks"`
	Working    int    `json:"working_disks"`
	Degraded   int    `json:"degraded"`
	UUID       string `json:"uuid,omitempty"`
	SizeKiB    int64  `json:"size_kib"` // array size in KiB (mdstat blocks)
	// ComponentKiB is the space each member gives the array (sysfs md/component_size).
	ComponentKiB int64  `json:"component_kib,omitempty"`
	SyncAction   string `json:"sync_action,omitempty"` // idle, resync, recover, check, repair…
	// MismatchCnt is sysfs md/mismatch_cnt: what the last check (scrub) found differing.
	MismatchCnt int64    `json:"mismatch_cnt"`
	Sync        *Sync    `json:"sync,omitempty"`
	Members     []Member `json:"members"`
	Warnings    []string `json:"warnings,omitempty"` // what could not be read
}

// Sync is the progress of a resync, recovery or check.
type Sync struct {
	Kind      string  `json:"kind"` // recovering, resyncing, checking, reshaping
	Pending   bool    `json:"pending,omitempty"`
	Percent   float64 `json:"percent"`
	DoneKiB   int64   `json:"done_kib"`
	TotalKiB  int64   `json:"total_kib"`
	SpeedKiBs float64 `json:"speed_kib_s"`
	FinishMin float64 `json:"finish_min"`
}

// Member returns the named member, or nil.
func (a *Array) Member(dev string) *Member {
	for i := range a.Members {
		if a.Members[i].Device == dev {
			return &a.Members[i]
		}
	}
	return nil
}

// Read returns the arrays of the host whose /proc and /sys are mounted at procRoot and
// sysRoot ("/proc" and "/sys" on a live host; captured trees in tests).
func Read(procRoot, sysRoot string) ([]Array, error) {
	pfs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("proc at %s: %w", procRoot, err)
	}
	stats, err := mdstat(pfs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoMD
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(procRoot, "mdstat"), err)
	}
	bySys := map[string]sysfs.Mdraid{}
	var sysErr error
	if sfs, err := sysfs.NewFS(sysRoot); err == nil {
		raids, err := sfs.Mdraids()
		for _, r := range raids {
			bySys[r.Device] = r
		}
		sysErr = err
	} else {
		sysErr = err
	}

	arrays := make([]Array, 0, len(stats))
	for _, st := range stats {
		a := Array{
			Name:      st.Name,
			Level:     st.Type,
			Active:    st.ActivityState != "inactive",
			RaidDisks: int(st.DisksTotal),
			Working:   int(st.DisksActive),
			Degraded:  int(st.DisksDown),
			SizeKiB:   st.BlocksTotal,
		}
		switch st.ActivityState {
		case "recovering", "resyncing", "checking", "reshaping":
			a.Sync = &Sync{Kind: st.ActivityState, Percent: st.BlocksSyncedPct, DoneKiB: st.BlocksSynced,
				TotalKiB: st.BlocksToBeSynced, SpeedKiBs: st.BlocksSyncedSpeed, FinishMin: st.BlocksSyncedFinishTime}
			a.Sync.Pending = st.BlocksSynced == 0 && st.BlocksSyncedPct == 0 && st.BlocksSyncedSpeed == 0
		}
		for _, d := range st.Devices {
			a.Members = append(a.Members, Member{Device: d.Name, Slot: int(d.DescriptorIndex),
				WriteMostly: d.WriteMostly, Faulty: d.Faulty, Spare: d.Spare})
		}
		if r, ok := bySys[st.Name]; ok {
			a.ArrayState, a.UUID, a.SyncAction = r.ArrayState, r.UUID, r.SyncAction
			if r.Level != "" {
				a.Level = r.Level
			}
			if a.Active {
				a.Degraded = int(r.DegradedDisks)
			}
			for _, c := range r.Components {
				m := a.Member(c.Device)
				if m == nil {
					a.Members = append(a.Members, Member{Device: c.Device, Slot: -1})
					m = &a.Members[len(a.Members)-1]
				}
				m.State = strings.Split(c.State, ",")
				for _, s := range m.State {
					switch s {
					case "in_sync":
						m.InSync = true
					case "write_mostly":
						m.WriteMostly = true
					case "faulty":
						m.Faulty = true
					case "spare":
						m.Spare = true
					}
				}
			}
		} else {
			a.Warnings = append(a.Warnings, fmt.Sprintf("no sysfs state for %s: %v", st.Name, sysErr))
			// mdstat alone: a listed member that is not faulty or spare of an active array
			// whose status shows no hole serves data.
			for i := range a.Members {
				m := &a.Members[i]
				m.InSync = a.Active && !m.Faulty && !m.Spare && a.Sync == nil
			}
		}
		mdDir := filepath.Join(sysRoot, "block", st.Name, "md")
		a.ComponentKiB = readInt(filepath.Join(mdDir, "component_size"))
		a.MismatchCnt = readInt(filepath.Join(mdDir, "mismatch_cnt"))
		for i := range a.Members {
			a.Members[i].SizeBytes = blockSize(sysRoot, a.Members[i].Device)
			a.Members[i].DataOffset = 512 * readInt(filepath.Join(mdDir, "dev-"+a.Members[i].Device, "offset"))
		}
		sort.Slice(a.Members, func(i, j int) bool { return a.Members[i].Slot < a.Members[j].Slot })
		arrays = append(arrays, a)
	}
	sort.Slice(arrays, func(i, j int) bool { return arrays[i].Name < arrays[j].Name })
	return arrays, nil
}

// mdstat parses /proc/mdstat with procfs, turning a panic of its parser on garbled text
// (procfs v0.23.0 panics on a "Personalities" word shorter than its brackets, found by
// FuzzReadMdstat) into an error: a garbled file must not bring the agent down.
func mdstat(pfs procfs.FS) (stats []procfs.MDStat, err error) {
	defer func() {
		if r := recover(); r != nil {
			stats, err = nil, fmt.Errorf("garbled /proc/mdstat: the parser failed: %v", r)
		}
	}()
	return pfs.MDStat()
}

// blockSize reads /sys/class/block/DEV/size (512-byte sectors); 0 when unknown.
func blockSize(sysRoot, dev string) int64 {
	return 512 * readInt(filepath.Join(sysRoot, "class", "block", dev, "size"))
}

// readInt reads a sysfs file holding one integer; 0 when absent or not a number.
func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
