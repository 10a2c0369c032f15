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
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/evacuate"
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/lvm"
)

func storageEvacuateCommand() *command {
	var f storageFlags
	var to listFlag
	var vg, recordPath, mdadmConf string
	var yes, dryRun bool
	var every time.Duration
	return &command{
		name:    "storage evacuate",
		noDB:    true,
		summary: "move the volume group off its md mirrors onto plain volumes, online, then retire the mirrors",
		args:    "--to DEV[,DEV...] [--vg NAME] [--dry-run] [--yes]",
		help: `For the day the database outgrows the SSDs: moves every extent of the volume group that
sits on its md mirrors onto the plain volumes given (EBS), while the file system stays
mounted and in use, then retires the mirrors. In order:

  lvm pvcreate each target; lvm vgextend the VG with them
  lvm pvmove -b off each mirror onto them (in the background; followed with progress)
  lvm vgreduce and lvm pvremove the emptied mirrors
  mdadm --stop the mirrors; mdadm --zero-superblock their members (the SSDs and the
    old EBS volumes: found by the array's UUID, never a device of another array)
  their ARRAY lines out of mdadm.conf; update-initramfs -u
so that the next boot does not bring the mirrors back inactive for the storage agent to
"repair". The targets must be blank (any signature refuses them, exit 5: nothing is ever
wiped) and big enough for what is left to move. Zeroing superblocks is for good, so it asks
for confirmation (type yes), or give --yes; --dry-run prints the steps and changes nothing.

It can be killed or the host rebooted at any point: a record of the evacuation is kept
(--record) and a pvmove goes on without agentctl; run the same command again and it finds
where the move stands, follows or restarts the pvmove, and finishes. Ctrl-C stops the
following, not the pvmove (lvm pvmove --abort cancels a move). The running storage agent
holds its actions on the mirrors meanwhile (through its socket). Needs root.

examples:
  agentctl storage evacuate --dry-run --to /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol3
  agentctl storage evacuate --yes --vg vgdata --to /dev/nvme5n1,/dev/nvme6n1`,
		flags: func(fs *flag.FlagSet) {
			fs.Var(&to, "to", "the plain volumes to move onto, DEV[,DEV...]; may repeat")
			fs.StringVar(&vg, "vg", "", "the volume group (default: the one whose physical volumes are md mirrors, when only one is)")
			fs.BoolVar(&yes, "yes", false, "do not ask before retiring the mirrors (their superblocks are zeroed)")
			fs.BoolVar(&dryRun, "dry-run", false, "print the steps left; change nothing")
			fs.StringVar(&recordPath, "record", "", "where the evacuation's record is kept (default /var/lib/agentd-storage/evacuate-VG.json)")
			fs.StringVar(&mdadmConf, "mdadm-conf", "/etc/mdadm/mdadm.conf", "the mdadm.conf whose ARRAY lines go")
			fs.DurationVar(&every, "every", 2*time.Second, "how often to read the pvmove's progress")
			fs.StringVar(&f.procRoot, "proc-root", "", "where /proc is (default /proc)")
			fs.StringVar(&f.sysRoot, "sys-root", "", "where /sys is (default /sys)")
			fs.StringVar(&f.socket, "socket", "", "the storage agent's control socket (default /run/agentd/storage/agentd.sock)")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			if len(to) == 0 {
				return cli.Usagef("give --to: the plain volumes to move onto")
			}
			run := hostexec.Exec{Logger: slog.New(slog.NewTextHandler(a.out.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Timeout: 10 * time.Minute}
			host := evacuate.Host{Run: run, ProcRoot: a.procRoot(f), SysRoot: a.sysRoot(f), MdadmConf: mdadmConf}
			if vg == "" {
				var err error
				if vg, err = evacuationVG(ctx, host, recordPath); err != nil {
					return err
				}
			}
			if recordPath == "" {
				recordPath = filepath.Join(filepath.Dir(storageAgentState), "evacuate-"+vg+".json")
			}
			e := evacuation{a: a, host: host, vg: vg, targets: to, recordPath: recordPath, every: every}
			plan, err := e.plan(ctx)
			if err != nil {
				return err
			}
			if dryRun {
				a.out.Result(map[string]any{"dry_run": true, "plan": plan}, func(w io.Writer) {
					printEvacuationPlan(w, plan)
				})
				return nil
			}
			var names []string
			for _, arr := range plan.Arrays {
				names = append(names, arr.Name)
			}
			what := fmt.Sprintf("move %s off %s onto %s, then stop %s and zero their members' superblocks",
				vg, strings.Join(names, ", "), strings.Join(to, ", "), strings.Join(names, ", "))
			if !yes && !a.confirm(what) {
				return cli.WithCode(cli.ExitRefused, fmt.Errorf("evacuate would %s; it needs confirmation: type yes at the prompt, or give --yes (--dry-run shows each step)", what))
			}
			if e.record == nil {
				rec := evacuate.Record{VG: vg, Targets: to, Arrays: plan.Arrays, Started: time.Now().UTC()}
				if err := evacuate.WriteRecord(recordPath, rec); err != nil {
					return fmt.Errorf("write the evacuation's record (nothing changed yet): %w", err)
				}
				e.record = &rec
			}
			// The storage agent holds its actions on the mirrors meanwhile (renewed while
			// this runs; it lapses by itself should agentctl be killed).
			agent := agentstatus.Client{Path: a.storageSocket(f)}
			e.hold = func() {
				_ = agent.PauseStorage(ctx, names, 10*time.Minute, fmt.Sprintf("agentctl storage evacuate (pid %d)", os.Getpid()))
			}
			e.hold()
			defer agent.ResumeStorage(context.WithoutCancel(ctx), names)
			start := time.Now()
			done, err := e.execute(ctx)
			res := map[string]any{"vg": vg, "arrays": plan.Arrays, "targets": to, "done": err == nil, "steps": done,
				"seconds": time.Since(start).Seconds(), "notes": e.notes}
			if err != nil {
				res["error"] = err.Error()
			}
			a.out.Result(res, func(w io.Writer) {
				if err == nil {
					fmt.Fprintf(w, "%s evacuated onto %s in %.0f s; %s retired\n", vg, strings.Join(to, ", "), time.Since(start).Seconds(), strings.Join(names, ", "))
				}
				for _, n := range e.notes {
					fmt.Fprintln(w, n)
				}
			})
			return err
		},
	}
}

// evacuationVG finds the volume group to evacuate: the one an evacuation record names, else
// the one whose physical volumes are md arrays.
func evacuationVG(ctx context.Context, host evacuate.Host, recordPath string) (string, error) {
	if recordPath != "" {
		if rec, err := evacuate.ReadRecord(recordPath); err != nil || rec != nil {
			if err != nil {
				return "", err
			}
			return rec.VG, nil
		}
	}
	recs, _ := filepath.Glob(filepath.Join(filepath.Dir(storageAgentState), "evacuate-*.json"))
	if len(recs) == 1 {
		if rec, err := evacuate.ReadRecord(recs[0]); err == nil && rec != nil {
			return rec.VG, nil
		}
	}
	r, err := lvm.ReadVG(ctx, host.Run, "")
	if err != nil && !errors.Is(err, lvm.ErrNoVG) {
		return "", cli.WithCode(cli.ExitConnect, err)
	}
	found := map[string]bool{}
	for _, pv := range r.PVs {
		if strings.HasPrefix(filepath.Base(pv.Name), "md") && pv.VG != "" {
			found[pv.VG] = true
		}
	}
	var vgs []string
	for v := range found {
		vgs = append(vgs, v)
	}
	switch len(vgs) {
	case 1:
		return vgs[0], nil
	case 0:
		return "", cli.WithCode(cli.ExitRefused, errors.New("no volume group here has an md mirror among its physical volumes: nothing to evacuate"))
	}
	return "", cli.Usagef("several volume groups sit on md mirrors (%s): give --vg", strings.Join(vgs, ", "))
}

// evacuation runs the steps of one evacuate, re-reading the host before each: what is left
// is always computed from what is there.
type evacuation struct {
	a          *app
	host       evacuate.Host
	vg         string
	targets    []string
	recordPath string
	every      time.Duration
	record     *evacuate.Record
	hold       func()
	notes      []string
}

func (e *evacuation) plan(ctx context.Context) (evacuate.Plan, error) {
	rec, err := evacuate.ReadRecord(e.recordPath)
	if err != nil {
		return evacuate.Plan{}, cli.WithCode(cli.ExitRefused, err)
	}
	e.record = rec
	st, err := e.host.Gather(ctx, e.vg, e.targets, rec)
	if err != nil {
		return evacuate.Plan{}, cli.WithCode(cli.ExitConnect, fmt.Errorf("read the storage's state: %w", err))
	}
	p := evacuate.Decide(st)
	if len(p.Refused) > 0 {
		return p, cli.WithCode(cli.ExitRefused, fmt.Errorf("refusing to evacuate %s: %s", e.vg, strings.Join(p.Refused, "; ")))
	}
	return p, nil
}

// execute runs the plan's first step, reads the host again, and so on to the end; it
// returns the steps it ran.
func (e *evacuation) execute(ctx context.Context) ([]string, error) {
	var done []string
	last := ""
	for i := 0; i < 100; i++ {
		if err := ctx.Err(); err != nil {
			return done, e.interrupted(err)
		}
		p, err := e.plan(ctx)
		if err != nil {
			return done, err
		}
		if len(p.Steps) == 0 {
			return done, e.finish()
		}
		s := p.Steps[0]
		if s.String() == last && s.Kind != evacuate.KindFollow {
			return done, fmt.Errorf("step %q changed nothing; see its output above, then rerun", last)
		}
		last = s.String()
		fmt.Fprintf(e.a.out.Stderr, "storage evacuate: %s\n", s)
		switch s.Kind {
		case evacuate.KindFollow:
			if err := e.follow(ctx, s.Source); err != nil {
				return done, err
			}
		case evacuate.KindConf:
			old, err := os.ReadFile(e.host.MdadmConf)
			if err != nil {
				return done, fmt.Errorf("%s: %w", e.host.MdadmConf, err)
			}
			if err := writeFileAtomic(e.host.MdadmConf, []byte(evacuate.DropArrays(string(old), s.Drop))); err != nil {
				return done, fmt.Errorf("%s: %w", e.host.MdadmConf, err)
			}
		case evacuate.KindInitramfs:
			if _, err := hostexec.Find("update-initramfs"); err != nil {
				e.notes = append(e.notes, "no update-initramfs here: refresh the boot's initramfs by hand if it assembles arrays")
			} else if _, _, err := e.host.Run.Run(ctx, s.Argv[0], s.Argv[1:]...); err != nil {
				return done, fmt.Errorf("%s (everything else is done; rerun to retry it): %w", s, err)
			}
			done = append(done, s.String())
			return done, e.finish()
		default:
			if _, _, err := e.host.Run.Run(ctx, s.Argv[0], s.Argv[1:]...); err != nil {
				if ctx.Err() != nil {
					return done, e.interrupted(ctx.Err())
				}
				var he *hostexec.Error
				if s.Kind == evacuate.KindPvmove && errors.As(err, &he) && strings.Contains(he.Stderr, "No data to move") {
					continue // the move ended meanwhile: the next plan goes on from there
				}
				return done, fmt.Errorf("%s failed (the steps before it are done; the rerun goes on from here): %w", s, err)
			}
		}
		done = append(done, s.String())
	}
	return done, errors.New("evacuate took over 100 steps: rerun it")
}

// follow waits for the pvmove off source to end, with its progress on stderr. It returns
// early when nothing polls the move any more (after a reboot): the next plan restarts it.
func (e *evacuation) follow(ctx context.Context, source string) error {
	meter := e.a.meter("pvmove "+source, "%")
	defer meter.Finish()
	meter.Total(100, false)
	held := time.Now()
	idle := 0
	t := time.NewTicker(e.every)
	defer t.Stop()
	for {
		polling := evacuate.Polling(e.host.ProcRoot) // before LVM: see Host.Gather
		r, err := lvm.ReadVG(ctx, e.host.Run, e.vg)
		if err != nil {
			if ctx.Err() != nil {
				return e.interrupted(ctx.Err())
			}
			return fmt.Errorf("read the move's progress: %w", err)
		}
		var moving *lvm.LV
		for i, lv := range r.LVs {
			if lv.Pvmove && lv.MovePV == source { // both as LVM names them
				moving = &r.LVs[i]
			}
		}
		if moving == nil {
			meter.Set(100)
			return nil
		}
		meter.Set(int64(moving.CopyPercent))
		if !polling {
			if idle++; idle >= 2 {
				return nil // nothing polls it: the next plan restarts the polling
			}
		} else {
			idle = 0
		}
		if time.Since(held) > time.Minute {
			e.hold()
			held = time.Now()
		}
		select {
		case <-ctx.Done():
			return e.interrupted(ctx.Err())
		case <-t.C:
		}
	}
}

func (e *evacuation) interrupted(err error) error {
	return fmt.Errorf("interrupted (%w): a pvmove under way goes on in the background; run the same command again to follow it and finish (lvm pvmove --abort cancels the move)", err)
}

// finish removes the record: the evacuation is over.
func (e *evacuation) finish() error {
	if err := os.Remove(e.recordPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the evacuation is done, but its record %s stays: %w (remove it)", e.recordPath, err)
	}
	return nil
}

func printEvacuationPlan(w io.Writer, p evacuate.Plan) {
	var names []string
	for _, a := range p.Arrays {
		names = append(names, a.Name)
	}
	fmt.Fprintf(w, "evacuate %s off %s: %.1f MiB to move, room for %.1f MiB; steps left:\n",
		p.VG, strings.Join(names, ", "), float64(p.NeedBytes)/(1<<20), float64(p.HaveBytes)/(1<<20))
	for i, s := range p.Steps {
		fmt.Fprintf(w, "%2d. %s\n", i+1, s)
	}
}
