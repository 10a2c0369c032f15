package mdraid

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Candidate is a block device that might replace the lost SSD of a mirror.
type Candidate struct {
	Path          string `json:"path"`   // as matched, e.g. /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_…
	Device        string `json:"device"` // kernel name, e.g. nvme1n1
	SizeBytes     int64  `json:"size_bytes"`
	InstanceStore bool   `json:"instance_store"` // positively instance storage (name, or instance metadata)
	// InstanceStoreNote says why it could not be confirmed (the metadata lookup failed).
	InstanceStoreNote string   `json:"instance_store_note,omitempty"`
	InUse             string   `json:"in_use,omitempty"`     // why it is busy: mounted, holders, member of an array
	Signatures        []string `json:"signatures,omitempty"` // what wipefs --no-act found: linux_raid_member, ext4, LVM2_member, gpt…
	MDUUID            string   `json:"md_uuid,omitempty"`    // the array UUID of its md superblock, if any
	Slot              string   `json:"slot,omitempty"`       // where it sits (see Slot)
}

// Kinds of decisions.
const (
	KindOK     = "ok"     // in sync, nothing to do
	KindFollow = "follow" // a recovery is under way: watch it
	KindRun    = "run"    // mdadm --run an inactive mirror
	KindAdd    = "add"    // mdadm --add a blank instance-store device
	KindReAdd  = "re-add" // mdadm --re-add the array's own SSD, back after a reboot
	KindWait   = "wait"   // not yet: grace period, another array first, no usable device
	KindHuman  = "human"  // never acted on: a human must look
	KindIgnore = "ignore" // not a mirror, or not watched
)

// Decision is what to do about one array, and why.
type Decision struct {
	Array   string    `json:"array"`
	Kind    string    `json:"kind"`
	Device  string    `json:"device,omitempty"` // the device to add or re-add
	Reason  string    `json:"reason"`
	Refused []Refusal `json:"refused,omitempty"` // candidates that were turned down, and why
}

// Refusal is a candidate turned down.
type Refusal struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Input is everything the planner looks at. It does no I/O.
type Input struct {
	Arrays        []Array
	Examine       map[string]Examine // by kernel device name: members of inactive arrays
	Candidates    []Candidate
	Watch         func(array string) bool // nil: every array
	Now           time.Time
	InactiveSince map[string]time.Time // when each inactive array was first seen so
	Grace         time.Duration        // before an inactive mirror is run
	Busy          map[string]bool      // arrays given a device whose recovery has not finished
	MaxParallel   int                  // arrays recovering at once (default 1)
	// Slots is the slot each mirror's SSD sat in while it was healthy, by array UUID
	// (canonical form). A mirror with a record is given only the device of its slot,
	// unless AnySlot is set.
	Slots   map[string]string
	AnySlot bool
	byOrder map[string]bool // slots inferred by order (Plan fills it)
}

// Plan decides, for every array, what to do now.
func Plan(in Input) []Decision {
	if in.MaxParallel <= 0 {
		in.MaxParallel = 1
	}
	arrays := append([]Array(nil), in.Arrays...)
	sort.Slice(arrays, func(i, j int) bool { return arrays[i].Name < arrays[j].Name })
	recovering := 0
	for _, a := range arrays {
		if a.Recovering() || in.Busy[a.Name] {
			recovering++
		}
	}
	used := map[string]bool{} // candidates given to an array in this plan
	if !in.AnySlot {
		in.Slots, in.byOrder = byOrder(in, arrays)
	}
	var out []Decision
	for _, a := range arrays {
		d := decide(in, a, &recovering, used)
		out = append(out, d)
	}
	return out
}

// slotKey is where a candidate sits: its slot, else (no sysfs place known) its path.
func slotKey(c Candidate) string {
	if c.Slot != "" {
		return c.Slot
	}
	return "path " + c.Path
}

// byOrder completes the recorded slots with a pairing by order for the mirrors that have
// no record (an agent that never saw them healthy): the mirrors that need an SSD (not
// whole), by name, take the instance-store slots that no mirror holds or has recorded, in
// slot order — md0 the first free slot, md1 the next. So a bad device in the first slot
// leaves md0 waiting, never md0 taking md1's SSD. It returns the slots by array UUID (or
// name, for an array with no UUID yet) and which of them are by order. Where a device's
// slot is unknown (no PCI place in sysfs) there is no order, and any slot will do.
func byOrder(in Input, arrays []Array) (map[string]string, map[string]bool) {
	slots, ordered := map[string]string{}, map[string]bool{}
	taken := map[string]bool{}
	for uuid, slot := range in.Slots {
		slots[uuid] = slot
		taken[slot] = true
	}
	var free []Candidate
	for _, c := range in.Candidates {
		if !c.InstanceStore || strings.Contains(c.InUse, "member of ") || taken[slotKey(c)] {
			continue
		}
		if c.Slot == "" {
			return slots, ordered // where the devices sit is unknown: no order to go by
		}
		free = append(free, c)
	}
	sort.Slice(free, func(i, j int) bool { return slotKey(free[i]) < slotKey(free[j]) })
	next := 0
	for _, a := range arrays { // sorted by name
		key := arrayKey(a)
		if slots[key] != "" || (in.Watch != nil && !in.Watch(a.Name)) || !needsSSD(in, a) {
			continue
		}
		if next < len(free) {
			slots[key], ordered[key] = slotKey(free[next]), true
			next++
		}
	}
	return slots, ordered
}

// needsSSD says whether a is an SSD+EBS mirror left on its EBS member alone: active and
// degraded with only write-mostly members working, or inactive with one write-mostly
// member (its superblock says so). Other arrays take no slot in the order.
func needsSSD(in Input, a Array) bool {
	if !a.Active {
		if len(a.Members) != 1 {
			return false
		}
		e, ok := in.Examine[a.Members[0].Device]
		return ok && e.WriteMostly && (e.RaidLevel == "" || e.RaidLevel == "raid1")
	}
	if a.Level != "raid1" || a.Degraded == 0 {
		return false
	}
	ebs := 0
	for _, m := range a.Members {
		if m.Working() {
			if !m.WriteMostly {
				return false
			}
			ebs++
		}
	}
	return ebs > 0
}

// arrayKey is how slots are keyed: the array's UUID, else its name.
func arrayKey(a Array) string {
	if u := CanonicalUUID(a.UUID); u != "" {
		return u
	}
	return "name " + a.Name
}

// Recovering says whether a recovery runs on the array (mdstat's progress line, or sysfs's
// sync_action).
func (a Array) Recovering() bool {
	return (a.Sync != nil && a.Sync.Kind == "recovering") || a.SyncAction == "recover"
}

func decide(in Input, a Array, recovering *int, used map[string]bool) Decision {
	d := Decision{Array: a.Name}
	if in.Watch != nil && !in.Watch(a.Name) {
		d.Kind, d.Reason = KindIgnore, "not watched"
		return d
	}
	if a.Level != "raid1" && a.Active {
		d.Kind, d.Reason = KindIgnore, fmt.Sprintf("%s, not a mirror", a.Level)
		return d
	}
	if !a.Active {
		return decideInactive(in, a)
	}
	if a.Recovering() {
		d.Kind, d.Reason = KindFollow, "recovering"
		if s := a.Sync; s != nil {
			d.Reason = fmt.Sprintf("recovering: %.1f%% at %.0f KiB/s, about %.1f min left", s.Percent, s.SpeedKiBs, s.FinishMin)
		}
		return d
	}
	var working []Member
	var spares []string
	for _, m := range a.Members {
		if m.Working() {
			working = append(working, m)
		}
		if m.Spare && !m.Faulty {
			spares = append(spares, m.Device)
		}
	}
	if len(working) >= a.RaidDisks && a.Degraded == 0 {
		d.Kind, d.Reason = KindOK, "in sync"
		if a.Sync != nil {
			d.Reason = fmt.Sprintf("in sync (%s %.1f%%)", a.Sync.Kind, a.Sync.Percent)
		}
		return d
	}
	if len(working) == 0 {
		d.Kind, d.Reason = KindHuman, "degraded with no working member"
		return d
	}
	if len(working) > 1 {
		d.Kind, d.Reason = KindHuman, fmt.Sprintf("degraded with %d working members of %d: not the SSD+EBS mirror this agent repairs", len(working), a.RaidDisks)
		return d
	}
	w := working[0]
	if !w.WriteMostly {
		d.Kind = KindHuman
		d.Reason = fmt.Sprintf("the mirror lost its EBS member: the remaining member %s is not write-mostly", w.Device)
		for _, m := range a.Members {
			if m.Faulty {
				d.Reason += fmt.Sprintf("; %s is faulty", m.Device)
			}
		}
		return d
	}
	if len(spares) > 0 || in.Busy[a.Name] {
		d.Kind, d.Reason = KindFollow, "a device was added; waiting for its recovery to start"
		return d
	}
	if *recovering >= in.MaxParallel {
		d.Kind, d.Reason = KindWait, fmt.Sprintf("degraded on its EBS member %s; waiting: %d array(s) recovering already", w.Device, *recovering)
		return d
	}
	need := neededBytes(a, w)
	slot, ordered := "", false
	if !in.AnySlot {
		slot, ordered = in.Slots[arrayKey(a)], in.byOrder[arrayKey(a)]
	}
	var readd, add, inSlot *Candidate
	slotRefusal := ""
	cands := append([]Candidate(nil), in.Candidates...)
	sort.Slice(cands, func(i, j int) bool { return cands[i].Path < cands[j].Path })
	for i := range cands {
		c := &cands[i]
		reason := refuse(a, c, need, used)
		if slot != "" && slotKey(*c) == slot && inSlot == nil {
			inSlot, slotRefusal = c, reason
		}
		if reason == "" && slot != "" && slotKey(*c) != slot && !SameUUID(c.MDUUID, a.UUID) {
			// Its own SSD, back after a reboot, is re-added wherever it sits.
			if ordered {
				reason = fmt.Sprintf("in slot %s; by order (no slot recorded), this mirror's is %s", orUnknown(c.Slot), slot)
			} else {
				reason = fmt.Sprintf("in slot %s; this mirror's SSD sits in slot %s", orUnknown(c.Slot), slot)
			}
		}
		if reason != "" {
			d.Refused = append(d.Refused, Refusal{Path: c.Path, Reason: reason})
			continue
		}
		if SameUUID(c.MDUUID, a.UUID) {
			if readd == nil {
				readd = c
			}
		} else if add == nil {
			add = c
		}
	}
	switch {
	case readd != nil:
		d.Kind, d.Device = KindReAdd, readd.Path
		d.Reason = fmt.Sprintf("degraded on its EBS member %s; %s carries this array's superblock: re-add it", w.Device, readd.Device)
		used[readd.Path] = true
	case add != nil:
		d.Kind, d.Device = KindAdd, add.Path
		d.Reason = fmt.Sprintf("degraded on its EBS member %s; %s is blank instance storage of %d bytes (≥ %d)", w.Device, add.Device, add.SizeBytes, need)
		switch {
		case ordered:
			d.Reason += ", in slot " + slot + ": no slot is recorded for this mirror, so by order (the first mirror the first free slot)"
		case slot != "":
			d.Reason += ", in this mirror's slot " + slot
		case in.AnySlot:
			d.Reason += " (pairing any: whichever slot)"
		default:
			d.Reason += " (no slot recorded for this mirror: any instance-store slot)"
		}
		used[add.Path] = true
	case inSlot != nil && slotRefusal != "" && !strings.HasPrefix(slotRefusal, "chosen for"):
		// The device of its own slot is there but cannot be used: never another slot's.
		d.Kind = KindHuman
		whose := "its SSD's slot"
		if ordered {
			whose = "no slot is recorded for this mirror, and by order its SSD's slot"
		}
		d.Reason = fmt.Sprintf("degraded on its EBS member %s; %s %s holds %s, refused: %s; a human must look (wipe it if it is the new SSD, or set [storage] pairing = \"any\")",
			w.Device, whose, slot, inSlot.Device, slotRefusal)
		return d
	case slot != "":
		d.Kind = KindWait
		d.Reason = fmt.Sprintf("degraded on its EBS member %s; no device in its SSD's slot %s yet", w.Device, slot)
		return d
	default:
		d.Kind = KindWait
		d.Reason = fmt.Sprintf("degraded on its EBS member %s; no usable instance-store device yet", w.Device)
		return d
	}
	*recovering++
	return d
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// neededBytes is the size a replacement must have: what the remaining member gives the
// array (its data offset plus the component size, from sysfs), else the remaining member's
// whole size, else the array's size.
func neededBytes(a Array, w Member) int64 {
	switch {
	case a.ComponentKiB > 0 && w.DataOffset > 0:
		return w.DataOffset + a.ComponentKiB*1024
	case w.SizeBytes > 0:
		return w.SizeBytes
	}
	return a.SizeKiB * 1024
}

// refuse says why a candidate cannot replace the lost member of a ("" when it can).
func refuse(a Array, c *Candidate, need int64, used map[string]bool) string {
	if used[c.Path] {
		return "chosen for another array"
	}
	if !c.InstanceStore {
		if c.InstanceStoreNote != "" {
			return "not positively instance storage (" + c.InstanceStoreNote + ")"
		}
		return "not positively instance storage"
	}
	if c.InUse != "" {
		if strings.Contains(c.InUse, "mounted at /mnt") {
			return "in use: " + c.InUse + " (likely cloud-init's ephemeral0, which it mounts at /mnt by default: the README says how to turn that off)"
		}
		return "in use: " + c.InUse
	}
	ownSuperblock := SameUUID(c.MDUUID, a.UUID)
	for _, s := range c.Signatures {
		if s == "linux_raid_member" && ownSuperblock {
			continue // this array's own member, back: the re-add exception
		}
		if s == "linux_raid_member" && c.MDUUID != "" {
			return fmt.Sprintf("not blank: md superblock of another array (%s)", c.MDUUID)
		}
		return "not blank: " + strings.Join(c.Signatures, ", ") + " signature found"
	}
	if c.SizeBytes < need {
		return fmt.Sprintf("too small: %d bytes, the mirror needs %d", c.SizeBytes, need)
	}
	return ""
}

func decideInactive(in Input, a Array) Decision {
	d := Decision{Array: a.Name}
	if in.Busy[a.Name] {
		d.Kind, d.Reason = KindFollow, "inactive; mdadm --run was issued: waiting for the array to start"
		return d
	}
	if len(a.Members) == 0 {
		d.Kind, d.Reason = KindWait, "inactive with no member yet (being assembled)"
		return d
	}
	if len(a.Members) != 1 {
		d.Kind, d.Reason = KindHuman, fmt.Sprintf("inactive with %d members; only an inactive mirror left with its EBS member alone is started", len(a.Members))
		return d
	}
	m := a.Members[0]
	e, ok := in.Examine[m.Device]
	switch {
	case !ok || !e.Superblock:
		d.Kind, d.Reason = KindHuman, fmt.Sprintf("inactive; cannot read the superblock of %s (mdadm --examine) to tell whether it is the EBS member", m.Device)
		return d
	case e.RaidLevel != "" && e.RaidLevel != "raid1":
		d.Kind, d.Reason = KindIgnore, fmt.Sprintf("inactive %s, not a mirror", e.RaidLevel)
		return d
	case !e.WriteMostly:
		d.Kind, d.Reason = KindHuman, fmt.Sprintf("inactive; its only member %s is not write-mostly (the EBS member is lost?)", m.Device)
		return d
	}
	since, seen := in.InactiveSince[a.Name]
	if !seen {
		since = in.Now
	}
	if wait := since.Add(in.Grace).Sub(in.Now); wait > 0 {
		d.Kind = KindWait
		d.Reason = fmt.Sprintf("inactive on its EBS member %s; started with mdadm --run after the grace period, in %s", m.Device, wait.Round(time.Second))
		return d
	}
	d.Kind, d.Reason = KindRun, fmt.Sprintf("inactive on its EBS member %s for %s: start it degraded", m.Device, in.Now.Sub(since).Round(time.Second))
	return d
}
