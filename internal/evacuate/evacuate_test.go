package evacuate

import (
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/lvm"
	"github.com/fitsarchive/agentd/mdraid"
)

const (
	mib   = int64(1) << 20
	uuid0 = "11111111:22222222:33333333:44444444"
	uuid1 = "55555555:66666666:77777777:88888888"
	other = "99999999:aaaaaaaa:bbbbbbbb:cccccccc"
)

// host is the layout storage init builds: md0 (vdb+vdc) and md1 (vdd+vde) under vgdata,
// its LV over all of both; vdf and vdg blank, 256 MiB each.
func host() State {
	mirror := func(name, uuid, ssd, ebs string) mdraid.Array {
		return mdraid.Array{Name: name, Level: "raid1", Active: true, UUID: uuid, RaidDisks: 2, Working: 2,
			Members: []mdraid.Member{{Device: ssd, InSync: true}, {Device: ebs, InSync: true, WriteMostly: true}}}
	}
	return State{
		VG: "vgdata",
		LVM: lvm.Report{
			PVs: []lvm.PV{
				{Name: "/dev/md0", VG: "vgdata", Size: 248 * mib, Free: 0},
				{Name: "/dev/md1", VG: "vgdata", Size: 248 * mib, Free: 0},
				{Name: "/dev/sda2", VG: "system", Size: 8 << 30, Free: 1 << 30},
			},
			VGs: []lvm.VG{{Name: "vgdata", Size: 496 * mib, ExtentSize: 4 * mib, PVCount: 2, LVCount: 1}},
			LVs: []lvm.LV{{Name: "lvdata", VG: "vgdata", Size: 496 * mib, Active: true}},
		},
		Arrays: []mdraid.Array{mirror("md0", uuid0, "vdb", "vdc"), mirror("md1", uuid1, "vdd", "vde")},
		Targets: []Target{
			{Path: "/dev/disk/by-id/ebs-new0", Device: "/dev/vdf", Size: 256 * mib},
			{Path: "/dev/disk/by-id/ebs-new1", Device: "/dev/vdg", Size: 256 * mib},
		},
		Superblocks: map[string]string{"vdb": uuid0, "vdc": uuid0, "vdd": uuid1, "vde": uuid1},
		MdadmConf: "HOMEHOST <system>\nARRAY /dev/md0 metadata=1.2 UUID=11111111:22222222:33333333:44444444\n" +
			"ARRAY /dev/md1 metadata=1.2 name=host:1\n   UUID=55555555:66666666:77777777:88888888\nMAILADDR root\n",
	}
}

func record() *Record {
	return &Record{VG: "vgdata", Targets: []string{"/dev/disk/by-id/ebs-new0", "/dev/disk/by-id/ebs-new1"},
		Arrays: []Array{{Name: "md0", UUID: uuid0}, {Name: "md1", UUID: uuid1}}}
}

// extended is the host after pvcreate and vgextend: the targets are PVs of vgdata.
func extended(s State) State {
	s.LVM.PVs = append(s.LVM.PVs,
		lvm.PV{Name: "/dev/vdf", VG: "vgdata", Size: 252 * mib, Free: 252 * mib, DevSize: 256 * mib},
		lvm.PV{Name: "/dev/vdg", VG: "vgdata", Size: 252 * mib, Free: 252 * mib, DevSize: 256 * mib})
	s.Targets[0].Unusable, s.Targets[1].Unusable = "not blank: LVM2_member", "not blank: LVM2_member"
	s.Record = record()
	return s
}

// moving is the host with md0's extents being moved (pvmove0 allocated on the targets).
func moving(s State, polling bool) State {
	s = extended(s)
	s.LVM.PVs[3].Free, s.LVM.PVs[4].Free = 252*mib-124*mib, 252*mib-124*mib
	s.LVM.LVs = append(s.LVM.LVs, lvm.LV{Name: "[pvmove0]", VG: "vgdata", Pvmove: true, MovePV: "/dev/md0", CopyPercent: 41.5})
	s.Polling = polling
	return s
}

// stopped is the host after vgreduce, pvremove and mdadm --stop: only superblocks are left.
func stopped(s State) State {
	s.Record = record()
	s.LVM.PVs = []lvm.PV{
		{Name: "/dev/vdf", VG: "vgdata", Size: 252 * mib, Free: 4 * mib},
		{Name: "/dev/vdg", VG: "vgdata", Size: 252 * mib, Free: 4 * mib},
	}
	s.Arrays = []mdraid.Array{{Name: "md5", Level: "raid1", Active: true, UUID: other,
		Members: []mdraid.Member{{Device: "vdh", InSync: true}, {Device: "vdi", InSync: true}}}}
	s.Superblocks = map[string]string{"vdb": uuid0, "vdc": uuid0, "vdd": uuid1, "vde": uuid1, "vdh": other, "vdi": other}
	for i := range s.Targets {
		s.Targets[i].Unusable = "not blank: LVM2_member"
	}
	return s
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		state   func() State
		steps   []string // each step's String()
		refused string   // a part of the refusal
		need    int64
		arrays  string // the mirrors' names now, when the case says
	}{
		{name: "from the start", state: host, need: 496 * mib, steps: []string{
			"lvm pvcreate -q /dev/vdf",
			"lvm pvcreate -q /dev/vdg",
			"lvm vgextend -q vgdata /dev/vdf /dev/vdg",
			"lvm pvmove -b -i 2 /dev/md0 /dev/vdf /dev/vdg",
			"follow the pvmove off /dev/md0 (in progress)",
			"lvm pvmove -b -i 2 /dev/md1 /dev/vdf /dev/vdg",
			"follow the pvmove off /dev/md1 (in progress)",
			"lvm vgreduce -q vgdata /dev/md0 /dev/md1",
			"lvm pvremove -q /dev/md0 /dev/md1",
			"mdadm --stop /dev/md0 /dev/md1",
			"mdadm --zero-superblock /dev/vdb /dev/vdc /dev/vdd /dev/vde",
			"drop the ARRAY lines of " + uuid0 + ", " + uuid1 + " from mdadm.conf",
			"update-initramfs -u",
		}},
		{name: "targets too small", refused: "the targets are too small: 496.0 MiB still to move, room for 252.0 MiB", state: func() State {
			s := host()
			s.Targets = s.Targets[:1]
			return s
		}},
		{name: "a target not blank", refused: "/dev/disk/by-id/ebs-new1: not blank: ext4", state: func() State {
			s := host()
			s.Targets[1].Unusable = "not blank: ext4"
			return s
		}},
		{name: "a target in another VG", refused: "/dev/disk/by-id/ebs-new1 is a physical volume of volume group system", state: func() State {
			s := host()
			s.Targets[1].Device = "/dev/sda2"
			return s
		}},
		{name: "a target is a mirror's member", refused: "/dev/vdc is a member of md0", state: func() State {
			s := host()
			s.Targets[1] = Target{Path: "/dev/vdc", Device: "/dev/vdc", Size: 256 * mib}
			return s
		}},
		{name: "a target is a mirror", refused: "/dev/md1 is an md array", state: func() State {
			s := host()
			s.Targets[1] = Target{Path: "/dev/md1", Device: "/dev/md1", Size: 248 * mib}
			return s
		}},
		{name: "an orphan PV the record does not list", refused: "not blank: LVM2_member", state: func() State {
			s := host()
			s.LVM.PVs = append(s.LVM.PVs, lvm.PV{Name: "/dev/vdg", DevSize: 256 * mib, Size: 256 * mib})
			s.Targets[1].Unusable = "not blank: LVM2_member"
			return s
		}},
		{name: "no mirror in the VG", refused: "nothing to evacuate", state: func() State {
			s := host()
			s.LVM.PVs = s.LVM.PVs[2:]
			return s
		}},
		{name: "a record for other targets", refused: "rerun with --to /dev/disk/by-id/ebs-new0,/dev/disk/by-id/ebs-new1", state: func() State {
			s := host()
			s.Record = record()
			s.Targets = s.Targets[:1]
			return s
		}},
		{name: "killed after pvcreate of one target", state: func() State {
			s := host()
			s.Record = record()
			s.LVM.PVs = append(s.LVM.PVs, lvm.PV{Name: "/dev/vdf", DevSize: 256 * mib, Size: 256 * mib, Free: 256 * mib})
			s.Targets[0].Unusable = "not blank: LVM2_member"
			return s
		}, need: 496 * mib, steps: []string{
			"lvm pvcreate -q /dev/vdg",
			"lvm vgextend -q vgdata /dev/vdf /dev/vdg",
			"lvm pvmove -b -i 2 /dev/md0 /dev/vdf /dev/vdg",
		}},
		{name: "killed in the move: it goes on", state: func() State { return moving(host(), true) }, need: 248 * mib, steps: []string{
			"follow the pvmove off /dev/md0 (in progress)",
			"lvm pvmove -b -i 2 /dev/md1 /dev/vdf /dev/vdg",
		}},
		{name: "rebooted in the move: nothing polls it", state: func() State { return moving(host(), false) }, need: 248 * mib, steps: []string{
			"lvm pvmove -b -i 2 /dev/md0",
			"follow the pvmove off /dev/md0 (in progress)",
			"lvm pvmove -b -i 2 /dev/md1 /dev/vdf /dev/vdg",
			"follow the pvmove off /dev/md1 (in progress)",
			"lvm vgreduce -q vgdata /dev/md0 /dev/md1",
		}},
		{name: "rebooted in the move, the mirrors renamed", state: func() State {
			s := moving(host(), false)
			s.Arrays[0].Name, s.Arrays[1].Name = "md127", "md126"
			s.LVM.PVs[0].Name, s.LVM.PVs[1].Name = "/dev/md127", "/dev/md126"
			s.LVM.LVs[1].MovePV = "/dev/md127"
			return s
		}, need: 248 * mib, steps: []string{
			"lvm pvmove -b -i 2 /dev/md127",
			"follow the pvmove off /dev/md127 (in progress)",
			"lvm pvmove -b -i 2 /dev/md126 /dev/vdf /dev/vdg",
			"follow the pvmove off /dev/md126 (in progress)",
			"lvm vgreduce -q vgdata /dev/md127 /dev/md126",
			"lvm pvremove -q /dev/md127 /dev/md126",
			"mdadm --stop /dev/md127 /dev/md126",
		}, arrays: "md127 md126"},
		{name: "stopped: only the superblocks of its own mirrors go", state: func() State { return stopped(host()) }, steps: []string{
			"mdadm --zero-superblock /dev/vdb /dev/vdc /dev/vdd /dev/vde",
			"drop the ARRAY lines of " + uuid0 + ", " + uuid1 + " from mdadm.conf",
			"update-initramfs -u",
		}},
		{name: "the mirrors assembled again at a reboot before the conf was edited", state: func() State {
			s := stopped(host())
			s.Arrays = append(s.Arrays, mdraid.Array{Name: "md127", Active: false, UUID: uuid0,
				Members: []mdraid.Member{{Device: "vdc"}}})
			return s
		}, steps: []string{
			"mdadm --stop /dev/md127",
			"mdadm --zero-superblock /dev/vdb /dev/vdc /dev/vdd /dev/vde",
		}},
		{name: "only the initramfs left", state: func() State {
			s := stopped(host())
			s.Superblocks = map[string]string{"vdh": other, "vdi": other}
			s.MdadmConf = "ARRAY /dev/md5 UUID=" + other + "\n"
			return s
		}, steps: []string{"update-initramfs -u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.state())
			if tc.refused != "" {
				if !strings.Contains(strings.Join(p.Refused, "; "), tc.refused) || len(p.Steps) != 0 {
					t.Fatalf("refused %q, steps %v; want a refusal with %q and no step", p.Refused, p.Steps, tc.refused)
				}
				return
			}
			if len(p.Refused) > 0 {
				t.Fatalf("refused: %v", p.Refused)
			}
			var got []string
			for _, s := range p.Steps {
				got = append(got, s.String())
			}
			for i, want := range tc.steps {
				if i >= len(got) || got[i] != want {
					t.Fatalf("steps:\n%s\nwant, at %d: %s", strings.Join(got, "\n"), i+1, want)
				}
			}
			if tc.arrays != "" {
				var names []string
				for _, a := range p.Arrays {
					names = append(names, a.Name)
				}
				if got := strings.Join(names, " "); got != tc.arrays {
					t.Errorf("arrays %q, want %q (the names they run under now)", got, tc.arrays)
				}
			}
			if tc.need != 0 && p.NeedBytes != tc.need {
				t.Errorf("need %d MiB, want %d MiB", p.NeedBytes/mib, tc.need/mib)
			}
		})
	}
}

// After the last step, with no record, nothing is left.
func TestDecideDoneWithoutRecord(t *testing.T) {
	s := stopped(host())
	s.Record, s.Superblocks, s.MdadmConf = nil, nil, ""
	// Without a record the mirrors are found in the VG: there are none left.
	if p := Decide(s); len(p.Steps) != 0 {
		t.Fatalf("steps %v after the end", p.Steps)
	}
}

func TestDropArrays(t *testing.T) {
	conf := host().MdadmConf
	got := DropArrays(conf, []string{"55555555-66666666-77777777-88888888"}) // mdadm's two spellings
	want := "HOMEHOST <system>\nARRAY /dev/md0 metadata=1.2 UUID=11111111:22222222:33333333:44444444\nMAILADDR root\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := DropArrays(conf, []string{uuid0, uuid1}); got != "HOMEHOST <system>\nMAILADDR root\n" {
		t.Fatalf("both dropped:\n%s", got)
	}
	if got := DropArrays(conf, []string{other}); got != conf {
		t.Fatalf("an unknown UUID changed the file:\n%s", got)
	}
}
