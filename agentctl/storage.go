package main

import (
	"cmp"
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
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/lvm"
	"github.com/fitsarchive/agentd/mdraid"
	"github.com/fitsarchive/agentd/queue"
)

type storageFlags struct {
	procRoot, sysRoot, devRoot, socket string
	lvmReports                         listFlag
	noLVM, local                       bool
}

func (f *storageFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.procRoot, "proc-root", "", "where /proc is (default: config [storage] proc_root, /proc); a captured tree works")
	fs.StringVar(&f.sysRoot, "sys-root", "", "where /sys is (default: config [storage] sys_root, /sys)")
	fs.Var(&f.lvmReports, "lvm-report", "read this LVM JSON report instead of running lvm fullreport; may repeat")
	fs.BoolVar(&f.noLVM, "no-lvm", false, "leave LVM out")
	fs.StringVar(&f.socket, "socket", "", "the storage agent's control socket, for its events (default /run/agentd/storage/agentd.sock)")
}

// storageView is what storage status shows.
type storageView struct {
	MD          bool           `json:"md"`
	Message     string         `json:"message,omitempty"`
	Arrays      []arrayView    `json:"arrays"`
	LVM         *lvm.Report    `json:"lvm,omitempty"`
	LVMNote     string         `json:"lvm_note,omitempty"`
	LVMProblems []string       `json:"lvm_problems,omitempty"`
	Agent       string         `json:"agent"`            // the storage agent: its mode, or why it is not known
	Events      []queue.Event  `json:"events,omitempty"` // its recent events, oldest first
	Arrays0     []mdraid.Array `json:"-"`
}

type arrayView struct {
	mdraid.Array
	Summary string       `json:"summary"` // e.g. "[_U] degraded on its EBS member"
	Roles   []memberRole `json:"roles"`
}

type memberRole struct {
	Device string `json:"device"`
	Role   string `json:"role"` // "EBS (write-mostly)" or "SSD"
	State  string `json:"state"`
}

func storageCommands() []*command {
	var f storageFlags
	var pf storageFlags
	var cf storageFlags
	var candidates listFlag
	return []*command{
		{
			name:    "storage status",
			noDB:    true,
			summary: "the md mirrors (members, roles, recovery) and the LVM volumes on top",
			args:    "[--proc-root DIR] [--sys-root DIR] [--lvm-report FILE]... [--json]",
			help: `Reads /proc/mdstat and /sys/block/md*/md (or a captured tree given with --proc-root and
--sys-root) and LVM's report. On a host without md it says so and exits 0.
Roles: the write-mostly member is the EBS volume, the other the instance-store SSD.

examples:
  agentctl storage status
  agentctl storage status --proc-root /tmp/capture/proc --sys-root /tmp/capture/sys --no-lvm --json`,
			flags: f.register,
			run: func(ctx context.Context, a *app, _ []string) error {
				v, err := a.readStorage(ctx, f)
				if err != nil {
					return err
				}
				a.storageEvents(ctx, f, &v)
				a.out.Result(v, func(w io.Writer) { printStorage(w, v) })
				return nil
			},
		},
		storageVerifyCommand(),
		storageEvacuateCommand(),
		storageInitCommand(),
		{
			name:    "storage check",
			noDB:    true,
			summary: "the mirrors' health for Nagios, Icinga or Sensu (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
			args:    "[--proc-root DIR] [--sys-root DIR] [--json]",
			help: `A monitoring check in the monitoring-plugins convention. It prints one status line first,
then one line per array, and exits with the state; its exit codes are not agentctl's usual
ones:

  0 OK        every mirror in sync (a scrub under way included)
  1 WARNING   a mirror degraded on its EBS member (the storage agent's work), recovering
              or resyncing, or the last scrub found mismatches (agentctl storage verify)
  2 CRITICAL  a mirror inactive, a failed device, no working member, or its EBS member
              lost (the remaining member not write-mostly: see the README)
  3 UNKNOWN   no md here, or /proc/mdstat cannot be read

The status line carries perfdata per array: NAME_degraded (missing members), NAME_sync
(percent of a resync, recovery or scrub; 100 when none runs) and NAME_mismatch_cnt.
It reads /proc and /sys and runs nothing, so the monitoring user needs no privilege; when
the storage agent's socket answers it too (the user in group agentd), a mirror the agent
leaves to a human (its slot's device unusable, say) is CRITICAL, not merely degraded.

examples:
  agentctl storage check
  STORAGE WARNING - md0 recovering 42.0%; md1 in sync | md0_degraded=1;;1;0;2 md0_sync=42.0%;;;0;100 …`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&cf.procRoot, "proc-root", "", "where /proc is (default: config [storage] proc_root, /proc); a captured tree works")
				fs.StringVar(&cf.sysRoot, "sys-root", "", "where /sys is (default: config [storage] sys_root, /sys)")
				fs.StringVar(&cf.socket, "socket", "", "the storage agent's control socket (default /run/agentd/storage/agentd.sock)")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				arrays, err := mdraid.Read(a.procRoot(cf), a.sysRoot(cf))
				h := mdraid.Assess(arrays)
				switch {
				case errors.Is(err, mdraid.ErrNoMD):
					h = mdraid.Health{State: mdraid.HealthUnknown, Arrays: []mdraid.ArrayHealth{}, Perfdata: []string{}}
					h.Arrays = append(h.Arrays, mdraid.ArrayHealth{State: mdraid.HealthUnknown, Text: "no md arrays here (" + err.Error() + ")"})
				case err != nil:
					h = mdraid.Health{State: mdraid.HealthUnknown, Arrays: []mdraid.ArrayHealth{}, Perfdata: []string{}}
					h.Arrays = append(h.Arrays, mdraid.ArrayHealth{State: mdraid.HealthUnknown, Text: "cannot read the arrays: " + err.Error()})
				case len(arrays) == 0:
					h.State = mdraid.HealthUnknown
					h.Arrays = append(h.Arrays, mdraid.ArrayHealth{State: mdraid.HealthUnknown, Text: "no md arrays"})
				default:
					// The storage agent's decisions, when its socket answers this user: a
					// mirror it leaves to a human is CRITICAL.
					if cf.procRoot == "" && cf.sysRoot == "" {
						if snap, ok := a.agentPlan(ctx, cf); ok {
							h.Escalate(snap.Decisions)
						}
					}
				}
				a.out.Result(map[string]any{"state": mdraid.HealthNames[h.State], "exit_code": h.State, "status": h.StatusLine(), "arrays": h.Arrays},
					func(w io.Writer) {
						fmt.Fprintln(w, h.StatusLine())
						for _, ah := range h.Arrays {
							fmt.Fprintf(w, "%s: %s\n", mdraid.HealthNames[ah.State], ah.Text)
						}
					})
				return cli.Reported(h.State)
			},
		},
		{
			name:    "storage plan",
			noDB:    true,
			summary: "what the storage agent would do now about each mirror, and why",
			args:    "[--proc-root DIR] [--sys-root DIR] [--candidate GLOB]... [--json]",
			help: `Says what the storage agent does about each mirror, and why. When the storage agent runs
(its control socket answers) these are its own decisions, from its latest look, with the
slot records it pairs SSDs by. Otherwise (or with --local, --candidate or a captured tree)
the planner runs here on the current state: for a mirror left on its write-mostly EBS
member alone it looks for blank instance-store devices (the config's [storage] candidates,
or --candidate) and says which it would add, or why each was refused — without the agent's
slot records. Changes nothing; reads device signatures with wipefs --no-act and inactive
members with mdadm --examine.

example:
  agentctl storage plan --candidate '/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_*'`,
			flags: func(fs *flag.FlagSet) {
				pf.register(fs)
				fs.StringVar(&pf.devRoot, "dev-root", "/", "where /dev is found under (a captured tree works)")
				fs.Var(&candidates, "candidate", "glob of replacement devices; may repeat (default: config [storage] candidates)")
				fs.BoolVar(&pf.local, "local", false, "compute the plan here even when the storage agent runs")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				pf.noLVM = true
				// The running storage agent's own decisions, when it runs and the look is
				// of this host: what it is acting on, with its slot records.
				if pf.procRoot == "" && pf.sysRoot == "" && len(candidates) == 0 && !pf.local {
					if snap, ok := a.agentPlan(ctx, pf); ok {
						a.out.Result(map[string]any{"md": snap.MD, "from": "agent", "checked": snap.Checked, "decisions": snap.Decisions,
							"slots": snap.Slots}, func(w io.Writer) {
							fmt.Fprintf(w, "the running storage agent's decisions (its look at %s; --local computes here):\n", snap.Checked.Format(time.TimeOnly))
							printDecisions(w, snap.Decisions)
						})
						return nil
					}
				}
				v, err := a.readStorage(ctx, pf)
				if err != nil {
					return err
				}
				if !v.MD {
					a.out.Result(map[string]any{"md": false, "from": "local", "message": v.Message, "decisions": []mdraid.Decision{}}, func(w io.Writer) {
						fmt.Fprintln(w, v.Message)
					})
					return nil
				}
				sc := a.cfg.Storage
				if len(candidates) > 0 {
					sc.Candidates = candidates
				}
				patterns := sc.Candidates
				for _, p := range patterns {
					if _, err := filepath.Match(p, ""); err != nil {
						return cli.Usagef("candidate pattern %q: %v", p, err)
					}
				}
				sc.ProcRoot, sc.SysRoot = a.procRoot(pf), a.sysRoot(pf)
				run := hostexec.Exec{}
				disc := storagewatch.Discovery(sc, storagewatch.Options{DevRoot: pf.devRoot}, run)
				in := storagewatch.Gather(ctx, sc, mdraid.Mdadm{Run: run}, disc, v.Arrays0, true, slog.New(slog.NewTextHandler(a.out.Stderr, nil)))
				in.Now = time.Now()
				ds, cands := mdraid.Plan(in), in.Candidates
				a.out.Result(map[string]any{"md": true, "from": "local", "decisions": ds, "candidates": cands}, func(w io.Writer) {
					fmt.Fprintln(w, "computed here (no storage agent answers, or --local): without the agent's slot records")
					printDecisions(w, ds)
					if len(cands) == 0 {
						fmt.Fprintf(w, "no candidate device matches %s\n", strings.Join(patterns, ", "))
					}
				})
				return nil
			},
		},
	}
}

// printDecisions prints the planner's decisions, one line each with its refusals.
func printDecisions(w io.Writer, ds []mdraid.Decision) {
	for _, d := range ds {
		line := fmt.Sprintf("%s: %s", d.Array, d.Kind)
		if d.Device != "" {
			line += " " + d.Device
		}
		fmt.Fprintf(w, "%s — %s\n", line, d.Reason)
		for _, r := range d.Refused {
			fmt.Fprintf(w, "    refused %s: %s\n", r.Path, r.Reason)
		}
	}
}

// agentPlan asks the running storage agent (its control socket) for its latest look.
func (a *app) agentPlan(ctx context.Context, f storageFlags) (storagewatch.Snapshot, bool) {
	st, err := agentstatus.Fetch(ctx, a.storageSocket(f))
	if err != nil || st.Storage == nil || st.Storage.Mode == "" || st.Storage.Checked.IsZero() {
		return storagewatch.Snapshot{}, false
	}
	return *st.Storage, true
}

// storageSocket is the storage agent's control socket: --socket, else the one of the
// agent named storage (the storage unit runs agentd --name storage).
func (a *app) storageSocket(f storageFlags) string {
	if f.socket != "" {
		return f.socket
	}
	ag := a.cfg.Agentd
	ag.Name, ag.Socket = "storage", ""
	return ag.SocketPath()
}

// storageEvents asks the running agentd for its storage agent's mode and recent events.
func (a *app) storageEvents(ctx context.Context, f storageFlags, v *storageView) {
	path := a.storageSocket(f)
	st, err := agentstatus.Fetch(ctx, path)
	if errors.Is(err, agentstatus.ErrPermission) {
		v.Agent = err.Error()
		return
	}
	if err != nil {
		v.Agent = "agentd not running here (" + path + "): no events"
		return
	}
	if st.Storage == nil {
		v.Agent = "agentd runs without the storage agent ([storage] mode off)"
		return
	}
	v.Agent = "storage agent " + st.Storage.Mode + ", last look " + st.Storage.Checked.Format(time.RFC3339)
	for _, e := range st.Events {
		if e.Queue == storagewatch.EventSource {
			v.Events = append(v.Events, e)
		}
	}
}

func (a *app) procRoot(f storageFlags) string {
	return cmp.Or(f.procRoot, a.cfg.Storage.ProcRoot, "/proc")
}

func (a *app) sysRoot(f storageFlags) string {
	return cmp.Or(f.sysRoot, a.cfg.Storage.SysRoot, "/sys")
}

func (a *app) readStorage(ctx context.Context, f storageFlags) (storageView, error) {
	v := storageView{MD: true, Arrays: []arrayView{}}
	arrays, err := mdraid.Read(a.procRoot(f), a.sysRoot(f))
	switch {
	case errors.Is(err, mdraid.ErrNoMD):
		v.MD, v.Message = false, err.Error()
	case err != nil:
		return v, cli.WithCode(cli.ExitConnect, err)
	}
	v.Arrays0 = arrays
	for _, arr := range arrays {
		av := arrayView{Array: arr, Summary: summary(arr)}
		for _, m := range arr.Members {
			role := "SSD"
			if m.WriteMostly {
				role = "EBS (write-mostly)"
			}
			state := strings.Join(m.State, ",")
			switch {
			case m.Faulty:
				state = "faulty"
			case m.Spare && state == "":
				state = "spare"
			case state == "" && m.InSync:
				state = "in_sync"
			}
			av.Roles = append(av.Roles, memberRole{Device: m.Device, Role: role, State: state})
		}
		v.Arrays = append(v.Arrays, av)
	}
	if f.noLVM {
		return v, nil
	}
	var rep lvm.Report
	if len(f.lvmReports) > 0 {
		var docs [][]byte
		for _, p := range f.lvmReports {
			b, err := os.ReadFile(p)
			if err != nil {
				return v, cli.WithCode(cli.ExitUsage, fmt.Errorf("--lvm-report: %w", err))
			}
			docs = append(docs, b)
		}
		if rep, err = lvm.Parse(docs...); err != nil {
			return v, cli.WithCode(cli.ExitWrong, err)
		}
	} else if rep, err = lvm.Read(ctx, hostexec.Exec{}); err != nil {
		v.LVMNote = err.Error()
		return v, nil
	}
	v.LVM, v.LVMProblems = &rep, rep.Problems()
	return v, nil
}

// summary is mdstat's [members/working] count and a word on the array's condition.
func summary(a mdraid.Array) string {
	if !a.Active {
		return fmt.Sprintf("inactive (%d member(s) present)", len(a.Members))
	}
	working := 0
	for _, m := range a.Members {
		if m.Working() {
			working++
		}
	}
	pic := fmt.Sprintf("[%d/%d]", a.RaidDisks, working) // as mdstat writes it: members / working
	if a.Level != "raid1" {
		return a.Level
	}
	switch {
	case a.Sync != nil:
		return fmt.Sprintf("%s %s %.1f%%", pic, a.Sync.Kind, a.Sync.Percent)
	case a.Degraded == 0:
		return pic + " in sync"
	}
	for _, m := range a.Members {
		if m.Working() && m.WriteMostly {
			return pic + " degraded on its EBS member"
		}
	}
	return pic + " degraded"
}

func printStorage(w io.Writer, v storageView) {
	if !v.MD {
		fmt.Fprintln(w, v.Message)
	}
	for _, a := range v.Arrays {
		state := a.ArrayState
		if state == "" {
			state = map[bool]string{true: "active", false: "inactive"}[a.Active]
		}
		fmt.Fprintf(w, "%s  %s  %s  %s  %d KiB\n", a.Name, a.Level, state, a.Summary, a.SizeKiB)
		for _, r := range a.Roles {
			fmt.Fprintf(w, "    %-10s %-20s %s\n", r.Device, r.Role, r.State)
		}
		if s := a.Sync; s != nil && !s.Pending {
			fmt.Fprintf(w, "    %s: %d/%d KiB, %.0f KiB/s, about %.1f min left\n", s.Kind, s.DoneKiB, s.TotalKiB, s.SpeedKiBs, s.FinishMin)
		}
		for _, warn := range a.Warnings {
			fmt.Fprintf(w, "    note: %s\n", warn)
		}
	}
	if v.Agent != "" {
		fmt.Fprintf(w, "agent: %s\n", v.Agent)
	}
	for _, e := range v.Events {
		fmt.Fprintf(w, "    %s  %-4s %-12s %s\n", e.Time.Format("2006-01-02 15:04:05"), e.Label, e.Kind, e.Detail)
	}
	if v.LVMNote != "" {
		fmt.Fprintf(w, "lvm: %s\n", v.LVMNote)
	}
	if r := v.LVM; r != nil {
		for _, vg := range r.VGs {
			fmt.Fprintf(w, "vg %s  %d PV, %d LV, %d bytes, %d free%s\n", vg.Name, vg.PVCount, vg.LVCount, vg.Size, vg.Free,
				map[bool]string{true: "  PARTIAL", false: ""}[vg.Partial])
		}
		for _, pv := range r.PVs {
			fmt.Fprintf(w, "    pv %s  %d bytes%s\n", pv.Name, pv.Size, map[bool]string{true: "  MISSING", false: ""}[pv.Missing])
		}
		for _, lv := range r.LVs {
			fmt.Fprintf(w, "    lv %s/%s  %d bytes  %s\n", lv.VG, lv.Name, lv.Size, map[bool]string{true: "active", false: "inactive"}[lv.Active])
		}
		for _, p := range v.LVMProblems {
			fmt.Fprintf(w, "problem: %s\n", p)
		}
	}
}
