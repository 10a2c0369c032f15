package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/mdraid"
)

// verifyResult is one array's scrub.
type verifyResult struct {
	Array       string  `json:"array"`
	Checked     bool    `json:"checked"`
	MismatchCnt int64   `json:"mismatch_cnt"`
	Seconds     float64 `json:"seconds,omitempty"`
	Refused     string  `json:"refused,omitempty"`     // why it was not checked
	Interrupted bool    `json:"interrupted,omitempty"` // stopped before the end
}

func storageVerifyCommand() *command {
	var f storageFlags
	var arrays listFlag
	var every time.Duration
	return &command{
		name:    "storage verify",
		noDB:    true,
		summary: "scrub the mirrors: md reads both members and counts what differs (mismatch_cnt)",
		args:    "[--array mdX]... [--json]",
		help: `Starts md's check of each mirror (sysfs sync_action "check"), one at a time, follows it
with progress on stderr, and reports mismatch_cnt: the sectors whose copies differ. It
repairs nothing. A mirror that is resyncing, recovering or checking already is not touched
(a scrub never competes with a recovery); an interrupted verify (Ctrl-C, SIGTERM) stops the
check it started. The running storage agent holds its actions on the mirror being checked
(through its socket; the hold lapses by itself after 10 minutes should verify be killed). It also says whether the host scrubs by itself already (Debian's mdadm
ships a monthly check): no second scheduler is added. Needs root (it writes sysfs).

Exit 0: every mirror checked, no mismatch. Exit 6: a mismatch, or a mirror not checked
(each listed). Exit 5: none could be checked.

examples:
  agentctl storage verify
  agentctl storage verify --array md0 --json`,
		flags: func(fs *flag.FlagSet) {
			fs.Var(&arrays, "array", "the array to check, e.g. md0; may repeat (default: every active mirror)")
			fs.StringVar(&f.procRoot, "proc-root", "", "where /proc is (default: config [storage] proc_root, /proc)")
			fs.StringVar(&f.sysRoot, "sys-root", "", "where /sys is (default: config [storage] sys_root, /sys)")
			fs.DurationVar(&every, "every", time.Second, "how often to read the check's progress")
			fs.StringVar(&f.socket, "socket", "", "the storage agent's control socket, to hold its actions meanwhile (default /run/agentd/storage/agentd.sock)")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			all, err := mdraid.Read(a.procRoot(f), a.sysRoot(f))
			if err != nil {
				return cli.WithCode(cli.ExitConnect, err)
			}
			var selected []mdraid.Array
			for _, arr := range all {
				if len(arrays) == 0 && arr.Level == "raid1" || slices.Contains(arrays, arr.Name) {
					selected = append(selected, arr)
				}
			}
			for _, name := range arrays {
				if !slices.ContainsFunc(all, func(arr mdraid.Array) bool { return arr.Name == name }) {
					return cli.Usagef("--array %s: no such array in %s/mdstat", name, a.procRoot(f))
				}
			}
			if len(selected) == 0 {
				return cli.WithCode(cli.ExitRefused, errors.New("no mirror to check"))
			}
			results := make([]verifyResult, 0, len(selected))
			checked, problems := 0, 0
			for _, arr := range selected {
				r := a.verifyArray(ctx, f, arr, every)
				results = append(results, r)
				if r.Checked {
					checked++
				}
				if !r.Checked || r.MismatchCnt > 0 || r.Interrupted {
					problems++
				}
				if ctx.Err() != nil {
					break
				}
			}
			schedule := mdraid.ScrubSchedule("/")
			a.out.Result(map[string]any{"arrays": results, "schedule": schedule}, func(w io.Writer) {
				for _, r := range results {
					switch {
					case r.Refused != "":
						fmt.Fprintf(w, "%s: not checked: %s\n", r.Array, r.Refused)
					case r.Interrupted:
						fmt.Fprintf(w, "%s: interrupted after %.0f s; %d mismatched sectors so far\n", r.Array, r.Seconds, r.MismatchCnt)
					default:
						fmt.Fprintf(w, "%s: checked in %.0f s: %d mismatched sectors\n", r.Array, r.Seconds, r.MismatchCnt)
					}
				}
				if schedule != "" {
					fmt.Fprintf(w, "scheduled already: %s\n", schedule)
				} else {
					fmt.Fprintln(w, "no scheduled scrub found on this host (Debian's mdadm ships mdcheck_start.timer)")
				}
			})
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case checked == 0:
				return cli.Reported(cli.ExitRefused)
			case problems > 0:
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}

// verifyArray scrubs one array and follows it to its end.
func (a *app) verifyArray(ctx context.Context, f storageFlags, arr mdraid.Array, every time.Duration) verifyResult {
	r := verifyResult{Array: arr.Name}
	if !arr.Active {
		r.Refused = "inactive"
		return r
	}
	sys := a.sysRoot(f)
	// The running storage agent holds its actions on the array meanwhile (renewed each
	// minute; it lapses by itself should this command be killed).
	agent := agentstatus.Client{Path: a.storageSocket(f)}
	by := fmt.Sprintf("agentctl storage verify (pid %d)", os.Getpid())
	hold := func() bool { return agent.PauseStorage(ctx, []string{arr.Name}, 10*time.Minute, by) == nil }
	if hold() {
		defer agent.ResumeStorage(context.WithoutCancel(ctx), []string{arr.Name})
	}
	held := time.Now()
	if err := mdraid.StartCheck(sys, arr.Name); err != nil {
		r.Refused = err.Error()
		if errors.Is(err, os.ErrPermission) {
			r.Refused += " (run as root)"
		}
		return r
	}
	start := time.Now()
	meter := a.meter("verify "+arr.Name, "sectors")
	defer meter.Finish()
	t := time.NewTicker(every)
	defer t.Stop()
	seenCheck := false
	for {
		s, err := mdraid.ReadSync(sys, arr.Name)
		if err != nil {
			r.Refused = err.Error()
			return r
		}
		r.MismatchCnt = s.Mismatch
		if s.Total > 0 {
			meter.Total(s.Total, false)
			meter.Set(s.Done)
		}
		switch {
		case s.Action == "check":
			seenCheck = true
		case s.Action == "idle" && (seenCheck || time.Since(start) > 2*every):
			r.Checked, r.Seconds = true, time.Since(start).Seconds()
			return r
		case s.Action != "idle" && s.Action != "check":
			r.Refused = fmt.Sprintf("md turned to %q during the check (a recovery takes precedence)", s.Action)
			return r
		}
		if time.Since(held) > time.Minute {
			hold()
			held = time.Now()
		}
		select {
		case <-ctx.Done():
			_ = mdraid.StopCheck(sys, arr.Name)
			s, _ := mdraid.ReadSync(sys, arr.Name)
			r.MismatchCnt, r.Interrupted, r.Seconds = s.Mismatch, true, time.Since(start).Seconds()
			return r
		case <-t.C:
		}
	}
}
