package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/hostexec"
	agentstate "github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/mdraid"
)

// storageAgentState is the storage unit's state file, where the slot records live.
const storageAgentState = "/var/lib/agentd-storage/storage.db"

func storageInitCommand() *command {
	var f storageFlags
	var pairs pairFlag
	var vg, lv, fs, mdadmConf, statePath string
	var writeBehind int
	var dryRun bool
	return &command{
		name:    "storage init",
		noDB:    true,
		summary: "build the archive's storage layout: a RAID1 per SSD+EBS pair, LVM over them, the LV, its file system",
		args:    "--pair SSD,EBS [--pair SSD,EBS]... --vg NAME --lv NAME [--fs ext4|xfs] [--dry-run]",
		help: `Builds the layout the archive runs on, from blank disks: for each pair a RAID1 with the EBS
volume --write-mostly (reads go to the SSD), an internal bitmap and --write-behind; LVM over
the mirrors (one PV each, one VG); one LV over all of it; its file system. Then it writes
the arrays' ARRAY lines to mdadm.conf, refreshes the initramfs (update-initramfs -u, where
there is one) so that the next boot assembles them, and records which slot each SSD sits
in for the storage agent (its state file; when the agent runs, it records them itself).

Every device must be blank and unused: any signature wipefs finds, a mount, a holder or
an array refuses the whole run (exit 5) before anything is written; nothing is ever wiped.
--dry-run prints every command instead. The running storage agent holds all its actions
meanwhile (through its socket): the blank disks are not for a degraded mirror. Needs root.

examples:
  agentctl storage init --dry-run --vg vgdata --lv lvdata \
    --pair /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1,/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol1 \
    --pair /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS2,/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol2`,
		flags: func(fl *flag.FlagSet) {
			fl.Var(&pairs, "pair", "SSD,EBS: an instance-store SSD and an EBS volume, one mirror; may repeat")
			fl.StringVar(&vg, "vg", "", "the volume group to create")
			fl.StringVar(&lv, "lv", "", "the logical volume to create (all of the VG)")
			fl.StringVar(&fs, "fs", "ext4", "the LV's file system: ext4 or xfs")
			fl.IntVar(&writeBehind, "write-behind", 256, "md's --write-behind: writes to the EBS member that may be outstanding")
			fl.BoolVar(&dryRun, "dry-run", false, "print the commands; run nothing")
			fl.StringVar(&mdadmConf, "mdadm-conf", "/etc/mdadm/mdadm.conf", "where the ARRAY lines go")
			fl.StringVar(&statePath, "state", storageAgentState, "the storage agent's state file, for the slot records")
			fl.StringVar(&f.procRoot, "proc-root", "", "where /proc is (default /proc)")
			fl.StringVar(&f.sysRoot, "sys-root", "", "where /sys is (default /sys)")
			fl.StringVar(&f.socket, "socket", "", "the storage agent's control socket, to hold its actions meanwhile (default /run/agentd/storage/agentd.sock)")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			var layout mdraid.Layout
			seen := map[string]bool{}
			for _, p := range pairs {
				ssd, ebs, ok := strings.Cut(p, ",")
				if !ok || ssd == "" || ebs == "" || strings.Contains(ebs, ",") {
					return cli.Usagef("--pair %q: give SSD,EBS (two device paths)", p)
				}
				for _, d := range []string{ssd, ebs} {
					if seen[d] {
						return cli.Usagef("--pair: %s is named twice", d)
					}
					seen[d] = true
				}
				layout.Pairs = append(layout.Pairs, mdraid.Pair{SSD: ssd, EBS: ebs})
			}
			switch {
			case len(layout.Pairs) == 0:
				return cli.Usagef("give at least one --pair SSD,EBS")
			case vg == "" || lv == "":
				return cli.Usagef("give --vg and --lv: the volume group and logical volume to create")
			case fs != "ext4" && fs != "xfs":
				return cli.Usagef("--fs %q: ext4 or xfs", fs)
			case writeBehind < 0 || writeBehind > 16383:
				return cli.Usagef("--write-behind %d: 0 to 16383", writeBehind)
			}
			layout.VG, layout.LV, layout.FS, layout.WriteBehind = vg, lv, fs, writeBehind
			procRoot, sysRoot := a.procRoot(f), a.sysRoot(f)
			arrays, err := mdraid.Read(procRoot, sysRoot)
			if err != nil && !errors.Is(err, mdraid.ErrNoMD) {
				return cli.WithCode(cli.ExitConnect, err)
			}
			run := hostexec.Exec{Logger: slog.New(slog.NewTextHandler(a.out.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			disc := mdraid.Discovery{SysRoot: sysRoot, ProcRoot: procRoot, Run: run}
			var refused []string
			for _, p := range layout.Pairs {
				for _, d := range []string{p.SSD, p.EBS} {
					if why := disc.Unusable(ctx, d, arrays); why != "" {
						refused = append(refused, d+": "+why)
					}
				}
			}
			mkfs := map[string]string{"ext4": "mke2fs", "xfs": "mkfs.xfs"}[fs]
			for _, tool := range []string{"mdadm", "lvm", mkfs} {
				if _, err := hostexec.Find(tool); err != nil && !dryRun {
					refused = append(refused, err.Error())
				}
			}
			if _, _, err := run.Run(ctx, "lvm", "vgs", "--noheadings", "-o", "vg_name", vg); err == nil {
				refused = append(refused, "volume group "+vg+" exists already")
			}
			if len(refused) > 0 {
				return cli.WithCode(cli.ExitRefused, fmt.Errorf("refusing to build the layout, nothing written: %s", strings.Join(refused, "; ")))
			}
			layout.Arrays = mdraid.FreeArrays(sysRoot, len(layout.Pairs))
			cmds := layout.Commands()
			if dryRun {
				a.out.Result(map[string]any{"dry_run": true, "arrays": layout.Arrays, "commands": cmds}, func(w io.Writer) {
					for _, c := range cmds {
						fmt.Fprintln(w, strings.Join(c, " "))
					}
					fmt.Fprintf(w, "then: the ARRAY lines of %s into %s, update-initramfs -u, the slot records\n", strings.Join(layout.Arrays, " "), mdadmConf)
				})
				return nil
			}
			// The running storage agent holds all its actions meanwhile: the blank disks are
			// not for a degraded mirror, and the new arrays are not its to start or repair.
			agent := agentstatus.Client{Path: a.storageSocket(f)}
			if agent.PauseStorage(ctx, []string{storagewatch.PauseAll}, 10*time.Minute, fmt.Sprintf("agentctl storage init (pid %d)", os.Getpid())) == nil {
				defer agent.ResumeStorage(context.WithoutCancel(ctx), []string{storagewatch.PauseAll})
			}
			for i, c := range cmds {
				fmt.Fprintf(a.out.Stderr, "storage init: %s\n", strings.Join(c, " "))
				if _, _, err := run.Run(ctx, c[0], c[1:]...); err != nil {
					return fmt.Errorf("step %d of %d failed (the steps before it are done; undo them by hand: lvremove, vgremove, pvremove, mdadm --stop and --zero-superblock on these blank devices): %w",
						i+1, len(cmds), err)
				}
			}
			res := map[string]any{"arrays": layout.Arrays, "vg": vg, "lv": lv, "fs": fs, "mdadm_conf": mdadmConf}
			var notes []string
			if err := appendArrayLines(ctx, run, mdadmConf, layout.Arrays); err != nil {
				notes = append(notes, "mdadm.conf: "+err.Error())
			}
			if _, err := hostexec.Find("update-initramfs"); err != nil {
				notes = append(notes, "no update-initramfs here: the next boot's initramfs does not know the arrays yet")
			} else if _, _, err := run.Run(ctx, "update-initramfs", "-u"); err != nil {
				notes = append(notes, "update-initramfs -u: "+err.Error())
			}
			slots, note := recordInitSlots(statePath, procRoot, sysRoot, layout)
			res["slots"], res["notes"] = slots, append(notes, note)
			a.out.Result(res, func(w io.Writer) {
				fmt.Fprintf(w, "built %s: /dev/%s/%s (%s) over %s\n", vg, vg, lv, fs, strings.Join(layout.Arrays, ", "))
				for _, n := range append(notes, note) {
					if n != "" {
						fmt.Fprintln(w, n)
					}
				}
			})
			return nil
		},
	}
}

// appendArrayLines adds the arrays' ARRAY lines (mdadm --detail --brief) to the mdadm.conf
// at path, keeping what is there.
func appendArrayLines(ctx context.Context, run hostexec.Runner, path string, arrays []string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	text := string(old)
	for _, md := range arrays {
		out, _, err := run.Run(ctx, "mdadm", "--detail", "--brief", "/dev/"+md)
		if err != nil {
			return err
		}
		line := strings.TrimSpace(string(out))
		if line != "" && !strings.Contains(text, line) {
			if text != "" && !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			text += line + "\n"
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(text))
}

// recordInitSlots records the slot of each new mirror's SSD in the storage agent's state
// file; when the agent holds it (it runs), the agent records them itself on its next look.
func recordInitSlots(statePath, procRoot, sysRoot string, l mdraid.Layout) ([]agentstate.SlotRecord, string) {
	arrays, err := mdraid.Read(procRoot, sysRoot)
	if err != nil {
		return nil, "slots not recorded: " + err.Error()
	}
	st, err := agentstate.Open(statePath, time.Second)
	if err != nil {
		return nil, "slots not recorded here (" + err.Error() + "): a running storage agent records them itself on its next look"
	}
	defer st.Close()
	var out []agentstate.SlotRecord
	for i, md := range l.Arrays {
		real, err := filepath.EvalSymlinks(l.Pairs[i].SSD)
		if err != nil {
			continue
		}
		idx := slices.IndexFunc(arrays, func(a mdraid.Array) bool { return a.Name == md })
		if idx < 0 || mdraid.CanonicalUUID(arrays[idx].UUID) == "" {
			continue
		}
		slot := mdraid.Slot(sysRoot, filepath.Base(real))
		if slot == "" {
			continue
		}
		r := agentstate.SlotRecord{UUID: mdraid.CanonicalUUID(arrays[idx].UUID), Array: md, Slot: slot, Device: filepath.Base(real), RecordedAt: time.Now()}
		if err := st.SetSlot(r); err != nil {
			return out, "slot records: " + err.Error()
		}
		out = append(out, r)
	}
	return out, fmt.Sprintf("slots recorded in %s: %d", statePath, len(out))
}

// pairFlag collects --pair values whole (SSD,EBS: the comma is the pair's own).
type pairFlag []string

func (p *pairFlag) String() string     { return strings.Join(*p, " ") }
func (p *pairFlag) Set(v string) error { *p = append(*p, strings.TrimSpace(v)); return nil }
