package mdraid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// degradedSys is the sysfs of the arrays after the migration: each up on its EBS member
// alone, read-auto (what the captured mdstat and `mdadm --detail` show: "active sync
// writemostly", "clean, degraded"; sysfs was not captured in that state).
var degradedSys = []string{
	"/sys/block/md0/md/dev-vdb/state: in_sync,write_mostly",
	"/sys/block/md0/md/array_state: read-auto",
	"/sys/block/md0/md/sync_action: idle",
	"/sys/block/md0/md/degraded: 1",
	"/sys/block/md1/md/dev-vdd/state: in_sync,write_mostly",
	"/sys/block/md1/md/array_state: read-auto",
	"/sys/block/md1/md/sync_action: idle",
	"/sys/block/md1/md/degraded: 1",
	"/sys/class/block/vdb/size: 524288",
	"/sys/class/block/vdd/size: 524288",
}

const mib = 1 << 20

func blank(name string, size int64) Candidate {
	return Candidate{Path: "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_" + name, Device: name, SizeBytes: size, InstanceStore: true}
}

func arraysOf(t *testing.T, mdstat string, sys []string) []Array {
	t.Helper()
	proc, sysRoot := tree(t, mdstat, sys...)
	a, err := Read(proc, sysRoot)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func decisions(ds []Decision) string {
	var s []string
	for _, d := range ds {
		x := d.Array + ":" + d.Kind
		if d.Device != "" {
			x += ":" + filepath.Base(d.Device)
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

func TestPlan(t *testing.T) {
	degraded := readFile(t, "testdata/migrate/mdstat-degraded-after-migration.txt")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		in      Input
		want    string
		reasons []string // substrings expected in the reasons and refusals, in order
	}{
		{
			name: "clean mirrors",
			in:   Input{Arrays: arraysOf(t, readFile(t, "testdata/create/mdstat-writemostly-clean.txt"), sysDump(t, "testdata/create/sysfs-md-clean.txt"))},
			want: "md0:ok md1:ok",
		},
		{
			name: "after the migration: one array at a time",
			in: Input{Arrays: arraysOf(t, degraded, degradedSys),
				Candidates: []Candidate{blank("ssd1", 300*mib), blank("ssd0", 300*mib)}},
			want:    "md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_ssd0 md1:wait",
			reasons: []string{"blank instance storage", "1 array(s) recovering already"},
		},
		{
			name: "after the migration, two at once allowed",
			in: Input{Arrays: arraysOf(t, degraded, degradedSys), MaxParallel: 2,
				Candidates: []Candidate{blank("ssd1", 300*mib), blank("ssd0", 300*mib)}},
			want: "md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_ssd0 md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_ssd1",
		},
		{
			name: "every unusable candidate refused, with its reason",
			in: Input{Arrays: arraysOf(t, degraded, degradedSys), MaxParallel: 2, Candidates: []Candidate{
				{Path: "/dev/xvdb", Device: "xvdb", SizeBytes: 300 * mib},
				func() Candidate { c := blank("a-fs", 300*mib); c.Signatures = []string{"ext4"}; return c }(),
				func() Candidate { c := blank("b-pt", 300*mib); c.Signatures = []string{"gpt"}; return c }(),
				func() Candidate { c := blank("c-lvm", 300*mib); c.Signatures = []string{"LVM2_member"}; return c }(),
				func() Candidate {
					c := blank("d-otherraid", 300*mib)
					c.Signatures, c.MDUUID = []string{"linux_raid_member"}, "11111111:22222222:33333333:44444444"
					return c
				}(),
				blank("e-small", 100*mib),
				func() Candidate { c := blank("f-mounted", 300*mib); c.InUse = "mounted at /scratch"; return c }(),
			}},
			want: "md0:wait md1:wait",
			reasons: []string{"no usable instance-store device", "not positively instance storage", "ext4", "gpt", "LVM2_member",
				"md superblock of another array", "too small: 104857600 bytes, the mirror needs 268435456", "mounted at /scratch"},
		},
		{
			name: "the array's own SSD back: re-add, preferred to a blank one",
			in: Input{Arrays: arraysOf(t, degraded, degradedSys), Candidates: []Candidate{
				blank("a-blank", 300*mib),
				func() Candidate {
					c := blank("z-own", 300*mib)
					c.Signatures, c.MDUUID = []string{"linux_raid_member"}, "a8b11440-0e63-9865-15c2-7575affc44ea"
					return c
				}(),
			}},
			want: "md0:re-add:nvme-Amazon_EC2_NVMe_Instance_Storage_z-own md1:wait",
		},
		{
			name: "recovering, and a device just added",
			in:   Input{Arrays: arraysOf(t, readFile(t, "testdata/migrate/mdstat-recovery.txt"), nil)},
			want: "md0:ok md1:follow", reasons: []string{"in sync", "recovering: 12.1% at 10581 KiB/s"},
		},
		{
			name: "add issued, recovery not started yet",
			in:   Input{Arrays: arraysOf(t, degraded, degradedSys), Busy: map[string]bool{"md0": true}, Candidates: []Candidate{blank("x", 300*mib)}},
			want: "md0:follow md1:wait",
		},
		{
			name: "the EBS member failed: a human looks",
			in:   Input{Arrays: arraysOf(t, readFile(t, "testdata/migrate/mdstat-faulty.txt"), nil), Candidates: []Candidate{blank("x", 300*mib)}},
			want: "md0:human md1:human", reasons: []string{"not write-mostly; vdb is faulty"},
		},
		{
			name: "the EBS member removed: a human looks",
			in:   Input{Arrays: arraysOf(t, readFile(t, "testdata/migrate/mdstat-removed.txt"), nil), Candidates: []Candidate{blank("x", 300*mib)}},
			want: "md0:human md1:human", reasons: []string{"remaining member vda is not write-mostly"},
		},
		{
			name: "only md1 watched",
			in: Input{Arrays: arraysOf(t, degraded, degradedSys), Watch: func(a string) bool { return a == "md1" },
				Candidates: []Candidate{blank("x", 300*mib)}},
			want: "md0:ignore md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_x",
		},
	}
	inactive := "Personalities : [raid1] \nmd0 : inactive vdb[1](S)\n      261048 blocks super 1.2\n       \nunused devices: <none>\n"
	ebs := ParseExamine("vdb", readFile(t, "testdata/migrate/mdadm-examine-ebs0-migrated.txt"))
	ssd := ParseExamine("vdb", readFile(t, "testdata/migrate/mdadm-examine-ssd0-recovered.txt"))
	blankSSD := ParseExamine("vdb", readFile(t, "testdata/migrate/mdadm-examine-blank-ssd0.txt.stderr"))
	cases = append(cases,
		struct {
			name    string
			in      Input
			want    string
			reasons []string
		}{"inactive on the EBS member, within the grace period", Input{Arrays: arraysOf(t, inactive, nil), Now: now, Grace: 30 * time.Second,
			InactiveSince: map[string]time.Time{"md0": now.Add(-10 * time.Second)}, Examine: map[string]Examine{"vdb": ebs}},
			"md0:wait", []string{"in 20s"}},
		struct {
			name    string
			in      Input
			want    string
			reasons []string
		}{"inactive on the EBS member, grace over", Input{Arrays: arraysOf(t, inactive, nil), Now: now, Grace: 30 * time.Second,
			InactiveSince: map[string]time.Time{"md0": now.Add(-31 * time.Second)}, Examine: map[string]Examine{"vdb": ebs}},
			"md0:run", nil},
		struct {
			name    string
			in      Input
			want    string
			reasons []string
		}{"inactive on the SSD", Input{Arrays: arraysOf(t, inactive, nil), Now: now, Examine: map[string]Examine{"vdb": ssd}},
			"md0:human", []string{"not write-mostly"}},
		struct {
			name    string
			in      Input
			want    string
			reasons []string
		}{"inactive, superblock unreadable", Input{Arrays: arraysOf(t, inactive, nil), Now: now, Examine: map[string]Examine{"vdb": blankSSD}},
			"md0:human", []string{"cannot read the superblock"}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, tc.in, tc.want, tc.reasons) })
	}
}

func TestParseExamineFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/mdadm-examine-*")
	for _, f := range files {
		if strings.Contains(f, "scan") || strings.Contains(f, "bitmap") {
			continue // --scan lists arrays; --examine-bitmap is another format
		}
		e := ParseExamine(filepath.Base(f), readFile(t, f))
		blank := strings.Contains(f, "blank")
		if e.Superblock == blank {
			t.Errorf("%s: superblock %v", f, e.Superblock)
		}
		if blank {
			continue
		}
		ebs := strings.Contains(f, "ebs")
		if e.WriteMostly != ebs || e.ArrayUUID == "" || e.RaidLevel != "raid1" || e.AvailSectors != 522240 {
			t.Errorf("%s: %+v (EBS members are write-mostly)", f, e)
		}
	}
	if _, err := os.Stat("testdata/migrate/mdadm-examine-blank-ssd0.txt.stderr"); err != nil {
		t.Fatal(err)
	}
}

// The replacement must hold what the remaining member gives the array (data offset +
// component size), not the whole EBS volume, which may be provisioned larger than the SSD.
func TestNeededSizeIsTheComponentNotTheWholeEBS(t *testing.T) {
	sys := append([]string{}, degradedSys...)
	sys = append(sys,
		"/sys/block/md0/md/component_size: 261120", // KiB, as mdadm --detail's Used Dev Size
		"/sys/block/md0/md/dev-vdb/offset: 2048",   // sectors, as --examine's Data Offset
	)
	arrays := arraysOf(t, readFile(t, "testdata/migrate/mdstat-degraded-after-migration.txt"), sys)
	// The EBS member vdb is 256 MiB; a 260 MiB EBS would be fine too. The SSD below is
	// smaller than the EBS volume but larger than offset + component (1 MiB + 255 MiB).
	arrays[0].Member("vdb").SizeBytes = 300 * mib
	ds := Plan(Input{Arrays: arrays, Candidates: []Candidate{blank("ssd", 257*mib)}, Watch: func(a string) bool { return a == "md0" }})
	if ds[0].Kind != KindAdd {
		t.Fatalf("md0 %+v: a 257 MiB SSD holds 1 MiB offset + 255 MiB component", ds[0])
	}
	ds = Plan(Input{Arrays: arrays, Candidates: []Candidate{blank("ssd", 255*mib)}, Watch: func(a string) bool { return a == "md0" }})
	if ds[0].Kind != KindWait || !strings.Contains(ds[0].Refused[0].Reason, "too small: 267386880 bytes, the mirror needs 268435456") {
		t.Fatalf("md0 %+v: 255 MiB cannot hold offset + component", ds[0])
	}
}

// Slot affinity: a mirror with a recorded slot gets only the blank SSD of that slot; when
// that device is there but unusable (cloud-init's ext4, say) the mirror waits for a human
// and the other mirror still gets its own; with no device in the slot it waits; its own
// SSD back is re-added wherever it sits; with no record, or pairing any, any slot will do,
// and the reason says so.
func TestPlanSlotAffinity(t *testing.T) {
	degraded := readFile(t, "testdata/migrate/mdstat-degraded-after-migration.txt")
	arrays := arraysOf(t, degraded, degradedSys)
	uuid := map[string]string{}
	for i := range arrays {
		if arrays[i].UUID == "" { // the captured sysfs has none: give each its own
			arrays[i].UUID = map[string]string{"md0": "a8b11440-0e63-9865-15c2-7575affc44ea", "md1": "0c7f7a57-5e37-1d2b-77a3-1f0b1bbf4f11"}[arrays[i].Name]
		}
		uuid[arrays[i].Name] = CanonicalUUID(arrays[i].UUID)
	}
	slots := map[string]string{uuid["md0"]: "pci-0000:00:1f.0-nvme-1", uuid["md1"]: "pci-0000:00:1e.0-nvme-1"}
	inSlot := func(name, slot string) Candidate { c := blank(name, 300*mib); c.Slot = slot; return c }
	// New hardware, new serials: the first slot's SSD sorts last by name.
	first, second := inSlot("zz-new-serial", "pci-0000:00:1f.0-nvme-1"), inSlot("aa-new-serial", "pci-0000:00:1e.0-nvme-1")
	ext4 := first
	ext4.Signatures, ext4.InUse = []string{"ext4"}, "mounted at /mnt"
	// Without records, by slot order: the first slot's SSD is the bad one (pairing any would
	// give md0 the second, leaving md1 nothing).
	ext4b := inSlot("aa-first", "pci-0000:00:1d.0-nvme-1")
	ext4b.Signatures, ext4b.InUse = []string{"ext4"}, "mounted at /mnt"
	second2 := inSlot("bb-second", "pci-0000:00:1e.0-nvme-1")
	// A degraded mirror that is not an SSD+EBS one (its remaining member not write-mostly),
	// sorting before md0: it must not take md0's place in the order.
	foreign := arrays[0]
	foreign.Name, foreign.UUID = "md-boot", "99999999:99999999:99999999:99999999"
	foreign.Members = []Member{{Device: "sdz", InSync: true}}
	withForeign := append([]Array{foreign}, arrays...)
	cases := []struct {
		name    string
		in      Input
		want    string
		reasons []string
	}{
		{"each mirror its own slot's SSD", Input{Arrays: arrays, MaxParallel: 2, Slots: slots, Candidates: []Candidate{second, first}},
			"md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_zz-new-serial md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial",
			[]string{"in this mirror's slot pci-0000:00:1f.0-nvme-1", "in slot pci-0000:00:1e.0-nvme-1; this mirror's SSD sits in slot pci-0000:00:1f.0-nvme-1"}},
		{"a bad first slot: md0 waits for a human, md1 gets its own", Input{Arrays: arrays, MaxParallel: 1, Slots: slots, Candidates: []Candidate{second, ext4}},
			"md0:human md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial",
			[]string{"slot pci-0000:00:1f.0-nvme-1 holds zz-new-serial, refused: in use: mounted at /mnt (likely cloud-init's ephemeral0", "pairing = \"any\""}},
		{"no device in its slot yet", Input{Arrays: arrays, MaxParallel: 2, Slots: slots, Candidates: []Candidate{second}},
			"md0:wait md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial", []string{"no device in its SSD's slot pci-0000:00:1f.0-nvme-1 yet"}},
		{"its own SSD back in another slot: re-added", Input{Arrays: arrays, Slots: slots, Candidates: []Candidate{func() Candidate {
			c := inSlot("own", "pci-0000:00:05.0")
			c.Signatures, c.MDUUID = []string{"linux_raid_member"}, uuid["md0"]
			return c
		}()}}, "md0:re-add:nvme-Amazon_EC2_NVMe_Instance_Storage_own md1:wait", nil},
		{"no record: by order, and it says so", Input{Arrays: arrays, MaxParallel: 2, Candidates: []Candidate{first, second}},
			"md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_zz-new-serial",
			[]string{"in slot pci-0000:00:1e.0-nvme-1: no slot is recorded for this mirror, so by order"}},
		{"no record, a bad first slot: md0 waits, md1 gets the second", Input{Arrays: arrays, Candidates: []Candidate{ext4b, second2}},
			"md0:human md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_bb-second",
			[]string{"no slot is recorded for this mirror, and by order its SSD's slot pci-0000:00:1d.0-nvme-1 holds aa-first, refused: in use: mounted at /mnt"}},
		{"no record, an array that is not ours takes no slot in the order", Input{Arrays: withForeign, MaxParallel: 2, Candidates: []Candidate{first, second}},
			"md-boot:human md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial md1:add:nvme-Amazon_EC2_NVMe_Instance_Storage_zz-new-serial",
			[]string{"by order"}},
		{"no slot known at all: any slot, and it says so", Input{Arrays: arrays, Candidates: []Candidate{blank("x", 300*mib), blank("y", 300*mib)}},
			"md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_x md1:wait", []string{"no slot recorded for this mirror: any instance-store slot"}},
		{"pairing any: any slot", Input{Arrays: arrays, Slots: slots, AnySlot: true, Candidates: []Candidate{second, ext4}},
			"md0:add:nvme-Amazon_EC2_NVMe_Instance_Storage_aa-new-serial md1:wait", []string{"pairing any"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, tc.in, tc.want, tc.reasons) })
	}
}

// checkPlan plans in and checks the decisions, and that the reasons and refusals hold the
// given words in that order.
func checkPlan(t *testing.T, in Input, want string, reasons []string) {
	t.Helper()
	got := Plan(in)
	if decisions(got) != want {
		t.Fatalf("plan = %s, want %s\n%+v", decisions(got), want, got)
	}
	var text []string
	for _, d := range got {
		text = append(text, d.Reason)
		for _, r := range d.Refused {
			text = append(text, r.Path+": "+r.Reason)
		}
	}
	all := strings.Join(text, "\n")
	for _, w := range reasons {
		i := strings.Index(all, w)
		if i < 0 {
			t.Fatalf("reasons lack %q:\n%s", w, all)
		}
		all = all[i+len(w):]
	}
}
