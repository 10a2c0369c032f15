// Package evacuate plans the move of a volume group off its md mirrors onto plain volumes
// (`agentctl storage evacuate`): pvcreate and vgextend the targets, pvmove each mirror's
// extents onto them, vgreduce and pvremove the mirrors, stop them, zero their members'
// superblocks, drop their ARRAY lines and refresh the initramfs, so that the next boot does
// not bring them back inactive for the storage agent to "repair".
//
// The plan is a pure function of what the host shows now (LVM's report, the arrays, the
// superblocks found, mdadm.conf) and of the evacuation's record, written before the first
// change: run again after a kill or a reboot, it finds where the move stands and gives the
// steps left. A pvmove runs in the background (pvmove -b): a killed agentctl does not stop
// it, and the rerun follows it.
package evacuate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/lvm"
	"github.com/fitsarchive/agentd/mdraid"
)

// Record is what an evacuation keeps between runs: what it moves where. It is written
// before the first change and removed at the end.
type Record struct {
	VG      string    `json:"vg"`
	Targets []string  `json:"targets"` // as the operator named them (stable names: by-id)
	Arrays  []Array   `json:"arrays"`  // the mirrors being emptied
	Started time.Time `json:"started"`
}

// Array is one mirror being evacuated, known by its UUID (its name may change at a reboot).
type Array struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// Target is one device the volume group moves onto.
type Target struct {
	Path   string `json:"path"`   // as given
	Device string `json:"device"` // what it resolves to, e.g. /dev/vdf
	Size   int64  `json:"size_bytes"`
	// Unusable says why it cannot be taken (""): not blank, in use. A PV of the volume
	// group, or an orphan PV the record lists (pvcreate done), is no objection.
	Unusable string `json:"unusable,omitempty"`
}

// State is what the host shows now.
type State struct {
	VG      string
	LVM     lvm.Report     // lvm.ReadVG: every PV, the VG, its LVs (pvmove included)
	NoVG    bool           // the volume group does not exist
	Arrays  []mdraid.Array // /proc/mdstat
	Targets []Target
	// Superblocks maps a block device (kernel name) to the array UUID of the md superblock
	// it carries (mdadm --examine), for the devices that carry one.
	Superblocks map[string]string
	MdadmConf   string // the contents of mdadm.conf ("" when absent)
	Record      *Record
	Polling     bool // a pvmove poller (lvm, lvmpolld) runs on this host
}

// Step kinds, in the order a plan gives them.
const (
	KindPVCreate  = "pvcreate"
	KindVGExtend  = "vgextend"
	KindPvmove    = "pvmove"    // start (or restart the polling of) a move, in the background
	KindFollow    = "follow"    // a move in progress: wait for it
	KindVGReduce  = "vgreduce"  //
	KindPVRemove  = "pvremove"  //
	KindStop      = "stop"      // mdadm --stop
	KindZero      = "zero"      // mdadm --zero-superblock
	KindConf      = "conf"      // drop ARRAY lines from mdadm.conf
	KindInitramfs = "initramfs" // update-initramfs -u
)

// Step is one thing left to do: a command (Argv) or an edit (KindConf: Drop lists the
// UUIDs whose ARRAY lines go).
type Step struct {
	Kind   string   `json:"kind"`
	Argv   []string `json:"argv,omitempty"`
	Source string   `json:"source,omitempty"` // the PV a pvmove moves off
	Drop   []string `json:"drop_uuids,omitempty"`
	Note   string   `json:"note,omitempty"`
}

func (s Step) String() string {
	if s.Kind == KindConf {
		return "drop the ARRAY lines of " + strings.Join(s.Drop, ", ") + " from mdadm.conf"
	}
	if s.Kind == KindFollow {
		return "follow the pvmove off " + s.Source + " (in progress)"
	}
	return strings.Join(s.Argv, " ")
}

// Plan is what is left, and what the move needs and has.
type Plan struct {
	VG        string   `json:"vg"`
	Arrays    []Array  `json:"arrays"` // the mirrors it empties, by the names they run under now
	Steps     []Step   `json:"steps"`
	NeedBytes int64    `json:"need_bytes"` // extents still to move, not yet allocated on a target
	HaveBytes int64    `json:"have_bytes"` // room on the targets
	Refused   []string `json:"refused,omitempty"`
}

// peStart is where LVM puts a new PV's first extent by default (its metadata before it).
const peStart = 1 << 20

// Decide gives the steps left from s. It refuses (Plan.Refused) what would lose data or
// cannot work: targets not blank, in another VG, among the mirrors, or too small for what
// is left to move; a record for other targets; nothing to evacuate.
func Decide(s State) Plan {
	p := Plan{VG: s.VG}
	refuse := func(format string, args ...any) { p.Refused = append(p.Refused, fmt.Sprintf(format, args...)) }
	if s.Record != nil && s.Record.VG != s.VG {
		refuse("the record is of volume group %s, not %s", s.Record.VG, s.VG)
		return p
	}
	byName := map[string]mdraid.Array{}
	byUUID := map[string]mdraid.Array{}
	for _, a := range s.Arrays {
		byName[a.Name] = a
		if u := mdraid.CanonicalUUID(a.UUID); u != "" {
			byUUID[u] = a
		}
	}
	pvs := map[string]lvm.PV{}
	for _, pv := range s.LVM.PVs {
		pvs[canonical(pv.Name)] = pv
	}
	var vg lvm.VG
	for _, v := range s.LVM.VGs {
		if v.Name == s.VG {
			vg = v
		}
	}
	if s.NoVG && s.Record == nil {
		refuse("no volume group %s", s.VG)
		return p
	}

	// The mirrors: the record's, else the md PVs of the volume group.
	if s.Record != nil {
		p.Arrays = slices.Clone(s.Record.Arrays)
	} else {
		for _, pv := range s.LVM.PVs {
			if pv.VG != s.VG {
				continue
			}
			if a, ok := byName[strings.TrimPrefix(canonical(pv.Name), "/dev/")]; ok && strings.HasPrefix(a.Name, "md") {
				p.Arrays = append(p.Arrays, Array{Name: a.Name, UUID: a.UUID})
			}
		}
		if len(p.Arrays) == 0 {
			refuse("volume group %s has no md mirror among its physical volumes: nothing to evacuate", s.VG)
			return p
		}
	}
	// Each mirror's device now (a reboot may rename it), "" when it is not running.
	current := func(a Array) string {
		if m, ok := byUUID[mdraid.CanonicalUUID(a.UUID)]; ok {
			return "/dev/" + m.Name
		}
		if mdraid.CanonicalUUID(a.UUID) == "" {
			if m, ok := byName[a.Name]; ok {
				return "/dev/" + m.Name
			}
		}
		return ""
	}
	isSource := map[string]bool{}
	for i, a := range p.Arrays {
		if d := current(a); d != "" {
			isSource[d] = true
			p.Arrays[i].Name = strings.TrimPrefix(d, "/dev/") // as it runs now (a reboot may rename it)
		}
	}

	// The targets.
	var targets []string // resolved device paths
	var toCreate, toExtend []string
	recorded := map[string]bool{}
	if s.Record != nil {
		for _, t := range s.Record.Targets {
			recorded[t] = true
		}
		given := map[string]bool{}
		for _, t := range s.Targets {
			given[t.Path] = true
		}
		if !maps.Equal(given, recorded) {
			refuse("an evacuation of %s onto %s is under way (its record says so): rerun with --to %s", s.VG,
				strings.Join(s.Record.Targets, ","), strings.Join(s.Record.Targets, ","))
			return p
		}
	}
	for _, t := range s.Targets {
		dev := canonical(t.Device)
		if isSource[dev] || slices.ContainsFunc(s.Arrays, func(a mdraid.Array) bool { return "/dev/"+a.Name == dev }) {
			refuse("%s is an md array, not a plain volume", t.Path)
			continue
		}
		for _, a := range s.Arrays {
			if a.Member(strings.TrimPrefix(dev, "/dev/")) != nil {
				refuse("%s is a member of %s", t.Path, a.Name)
			}
		}
		pv, isPV := pvs[dev]
		switch {
		case isPV && pv.VG == s.VG:
			p.HaveBytes += pv.Free
		case isPV && pv.VG != "":
			refuse("%s is a physical volume of volume group %s", t.Path, pv.VG)
		case isPV && recorded[t.Path]:
			toExtend = append(toExtend, dev)
			p.HaveBytes += usable(pv.DevSize, vg.ExtentSize)
		case t.Unusable != "":
			refuse("%s: %s", t.Path, t.Unusable)
		default:
			toCreate = append(toCreate, dev)
			toExtend = append(toExtend, dev)
			p.HaveBytes += usable(t.Size, vg.ExtentSize)
		}
		targets = append(targets, dev)
	}
	if len(s.Targets) == 0 {
		refuse("no target given")
	}

	// What is left to move: the mirrors' extents, but for those of a move in progress
	// (its destination is allocated already).
	var moving *lvm.LV
	for i, lv := range s.LVM.LVs {
		if lv.VG == s.VG && lv.Pvmove {
			moving = &s.LVM.LVs[i]
		}
	}
	var sources []string // md PVs still in the VG
	for _, pv := range s.LVM.PVs {
		if pv.VG == s.VG && isSource[canonical(pv.Name)] {
			sources = append(sources, pv.Name)
			if moving == nil || canonical(moving.MovePV) != canonical(pv.Name) {
				p.NeedBytes += pv.Size - pv.Free
			}
		}
	}
	if p.NeedBytes > p.HaveBytes {
		refuse("the targets are too small: %s still to move, room for %s", inMiB(p.NeedBytes), inMiB(p.HaveBytes))
	}
	if len(p.Refused) > 0 {
		return p
	}

	add := func(kind string, argv ...string) { p.Steps = append(p.Steps, Step{Kind: kind, Argv: argv}) }
	for _, d := range toCreate {
		add(KindPVCreate, "lvm", "pvcreate", "-q", d)
	}
	if len(toExtend) > 0 {
		add(KindVGExtend, append([]string{"lvm", "vgextend", "-q", s.VG}, toExtend...)...)
	}
	if moving != nil {
		if !s.Polling {
			// After a reboot nothing may poll the move (activation with --poll n): pvmove
			// of the same source restarts it.
			p.Steps = append(p.Steps, Step{Kind: KindPvmove, Source: moving.MovePV, Note: "restart the polling of the interrupted move",
				Argv: []string{"lvm", "pvmove", "-b", "-i", "2", moving.MovePV}})
		}
		p.Steps = append(p.Steps, Step{Kind: KindFollow, Source: moving.MovePV})
	}
	for _, pv := range s.LVM.PVs {
		if pv.VG != s.VG || !isSource[canonical(pv.Name)] || pv.Size == pv.Free {
			continue
		}
		if moving != nil && canonical(moving.MovePV) == canonical(pv.Name) {
			continue
		}
		p.Steps = append(p.Steps, Step{Kind: KindPvmove, Source: pv.Name,
			Argv: append([]string{"lvm", "pvmove", "-b", "-i", "2", pv.Name}, targets...)},
			Step{Kind: KindFollow, Source: pv.Name})
	}
	if len(sources) > 0 {
		add(KindVGReduce, append([]string{"lvm", "vgreduce", "-q", s.VG}, sources...)...)
	}
	var labelled []string // the mirrors' PV labels, in the VG or orphaned
	for _, pv := range s.LVM.PVs {
		if isSource[canonical(pv.Name)] && (pv.VG == s.VG || pv.VG == "") {
			labelled = append(labelled, pv.Name)
		}
	}
	if len(labelled) > 0 {
		add(KindPVRemove, append([]string{"lvm", "pvremove", "-q"}, labelled...)...)
	}
	var stop []string
	for _, a := range p.Arrays {
		if d := current(a); d != "" {
			stop = append(stop, d)
		}
	}
	if len(stop) > 0 {
		add(KindStop, append([]string{"mdadm", "--stop"}, stop...)...)
	}
	// Zero the superblocks of the mirrors' members, found by the array's UUID (not by a name
	// a reboot may have changed): never a device of any other array.
	var zero []string
	for dev, uuid := range s.Superblocks {
		if !slices.ContainsFunc(p.Arrays, func(a Array) bool { return mdraid.CanonicalUUID(a.UUID) != "" && mdraid.SameUUID(a.UUID, uuid) }) {
			continue
		}
		// A member of a running array only once the plan stops that array first.
		if slices.ContainsFunc(s.Arrays, func(a mdraid.Array) bool {
			return a.Member(dev) != nil && !slices.Contains(stop, "/dev/"+a.Name)
		}) {
			continue
		}
		zero = append(zero, "/dev/"+dev)
	}
	slices.Sort(zero)
	if len(zero) > 0 {
		add(KindZero, append([]string{"mdadm", "--zero-superblock"}, zero...)...)
	}
	var drop []string
	for _, a := range p.Arrays {
		if mdraid.CanonicalUUID(a.UUID) != "" && len(ArrayLines(s.MdadmConf, a.UUID)) > 0 {
			drop = append(drop, a.UUID)
		}
	}
	if len(drop) > 0 {
		p.Steps = append(p.Steps, Step{Kind: KindConf, Drop: drop})
	}
	// The initramfs last: it copies mdadm.conf. While the record exists the evacuation is
	// not over (the executor removes it once this step has run).
	if len(p.Steps) > 0 || s.Record != nil {
		add(KindInitramfs, "update-initramfs", "-u")
	}
	return p
}

// usable is the room a new PV on a device of size bytes gives: its extents after LVM's
// metadata area.
func usable(size, extent int64) int64 {
	if extent <= 0 {
		extent = 4 << 20
	}
	if size <= peStart {
		return 0
	}
	return (size - peStart) / extent * extent
}

// ArrayLines are the lines of mdadm.conf that describe the array of uuid: its ARRAY line
// and the indented lines that continue it.
func ArrayLines(conf, uuid string) []int {
	lines := strings.Split(conf, "\n")
	var out []int
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) == 0 || f[0] != "ARRAY" {
			continue
		}
		end := i + 1
		for end < len(lines) && len(lines[end]) > 0 && (lines[end][0] == ' ' || lines[end][0] == '\t') {
			end++
		}
		for j := i; j < end; j++ {
			for _, w := range strings.Fields(lines[j]) {
				if v, ok := strings.CutPrefix(w, "UUID="); ok && mdraid.SameUUID(v, uuid) {
					for k := i; k < end; k++ {
						out = append(out, k)
					}
					j = end
					break
				}
			}
		}
		i = end - 1
	}
	return out
}

// DropArrays returns conf without the ARRAY lines (and their continuations) of the uuids.
func DropArrays(conf string, uuids []string) string {
	skip := map[int]bool{}
	for _, u := range uuids {
		for _, i := range ArrayLines(conf, u) {
			skip[i] = true
		}
	}
	lines := strings.Split(conf, "\n")
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if !skip[i] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// canonical is a device path with its symlinks resolved (the path itself when that fails).
func canonical(path string) string {
	if path == "" {
		return ""
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return filepath.Clean(path)
}

func inMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// ReadRecord reads the record at path; (nil, nil) when there is none.
func ReadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("evacuation record %s: %w (move it away if it is not one)", path, err)
	}
	return &r, nil
}

// WriteRecord writes the record at path, whole or not at all (a temporary file renamed
// over it, synced).
func WriteRecord(path string, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
