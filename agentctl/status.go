package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
)

// agentSocket is the control socket of the agent --name or --socket names (default: the
// config's agent).
func (a *app) agentSocket(name, socket string) string {
	ag := a.cfg.Agentd
	if name != "" {
		ag.Name = name
	}
	if socket != "" {
		ag.Socket = socket
	}
	return ag.SocketPath()
}

// controlError gives a control-socket error its exit code: 3 when no agentd answers, 5 when
// the socket refuses the caller.
func controlError(err error) error {
	switch {
	case errors.Is(err, agentstatus.ErrNotRunning):
		return cli.WithCode(cli.ExitConnect, err)
	case errors.Is(err, agentstatus.ErrPermission):
		return cli.WithCode(cli.ExitRefused, err)
	}
	return err
}

func statusCommands() []*command {
	var socket, name string
	var events int
	agentFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the agentd's --name (default: config, then agentd)")
		fs.StringVar(&socket, "socket", "", "the agent's control socket (default /run/agentd/<name>/agentd.sock)")
	}
	return []*command{{
		name:    "status",
		noDB:    true,
		summary: "show what the local agentd is doing (workers, current items, counters, events)",
		args:    "[--name NAME | --socket PATH] [--json]",
		help: `Asks agentd over its control socket; needs no database. Exit 3 when no agentd answers
there, 5 when the socket refuses you (root, agentd's user and the socket's group, default
agentd, may use it).

example:
  agentctl status --name rebuild`,
		flags: agentFlags,
		run: func(ctx context.Context, a *app, _ []string) error {
			st, err := agentstatus.Fetch(ctx, a.agentSocket(name, socket))
			if err != nil {
				return controlError(err)
			}
			a.out.Result(st, func(w io.Writer) { printStatus(w, st) })
			return nil
		},
	}, {
		name:    "drain",
		noDB:    true,
		summary: "stop an agentd's new claims; what runs finishes (kept across its restarts)",
		args:    "[--name NAME | --socket PATH] [--json]",
		help: `Tells agentd to claim nothing more: the items it is working finish and are settled as
usual, then it idles (with --empty it does not exit while drained). The drain is kept in its
state file, so a restart stays drained, until agentctl resume. For maintenance of a host or
the database without killing work in flight.

examples:
  agentctl drain --name ingest
  agentctl status --name ingest     # "drained since …"; workers idle when done
  agentctl resume --name ingest`,
		flags: agentFlags,
		run: func(ctx context.Context, a *app, _ []string) error {
			d, err := agentstatus.Client{Path: a.agentSocket(name, socket)}.Drain(ctx)
			if err != nil {
				return controlError(err)
			}
			a.out.Result(d, func(w io.Writer) {
				fmt.Fprintf(w, "drained since %s (by %s): running items finish, nothing new is claimed; agentctl resume to undo\n",
					d.Since.Format(time.RFC3339), d.By)
			})
			return nil
		},
	}, {
		name:    "resume",
		noDB:    true,
		summary: "let a drained agentd claim again",
		args:    "[--name NAME | --socket PATH] [--json]",
		help: `Ends a drain (agentctl drain): agentd claims again at once.

example:
  agentctl resume --name ingest`,
		flags: agentFlags,
		run: func(ctx context.Context, a *app, _ []string) error {
			d, err := agentstatus.Client{Path: a.agentSocket(name, socket)}.Resume(ctx)
			if err != nil {
				return controlError(err)
			}
			a.out.Result(d, func(w io.Writer) { fmt.Fprintln(w, "resumed: claiming again") })
			return nil
		},
	}, {
		name:    "events",
		noDB:    true,
		summary: "an agentd's recent events (claims lost, rescues, storage actions, drains…), oldest first",
		args:    "[--name NAME | --socket PATH] [-n N] [--json]",
		help: `Reads the events agentd keeps in its state file (the last 1,000): what went wrong or
changed, with when and on which queue or array.

example:
  agentctl events --name storage -n 20`,
		flags: func(fs *flag.FlagSet) {
			agentFlags(fs)
			fs.IntVar(&events, "n", 100, "how many, the newest")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			if events < 1 {
				return cli.Usagef("-n must be at least 1")
			}
			evs, err := agentstatus.Client{Path: a.agentSocket(name, socket)}.Events(ctx, events)
			if err != nil {
				return controlError(err)
			}
			a.out.Result(map[string]any{"events": evs}, func(w io.Writer) {
				for _, ev := range evs {
					fmt.Fprintf(w, "%s %-8s %-8s %s %s\n", ev.Time.Format(time.RFC3339), ev.Queue, ev.Kind, cli.Printable(ev.Label), cli.Printable(ev.Detail))
				}
			})
			return nil
		},
	}}
}

func printStatus(w io.Writer, st agentstatus.Status) {
	fmt.Fprintf(w, "agentd %s (pid %d, role %s), up %s; version %s\n", st.Name, st.PID, st.Role, time.Since(st.Started).Round(time.Second), st.Version)
	if st.Drained != nil {
		fmt.Fprintf(w, "DRAINED since %s (by %s): no new claims; agentctl resume\n", st.Drained.Since.Format(time.RFC3339), st.Drained.By)
	}
	if st.Database != "" {
		fmt.Fprintf(w, "database %s\n", st.Database)
	}
	if sp := st.Spot; sp != nil {
		line := "spot instance " + sp.InstanceID
		if sp.Rebalance != nil {
			line += ", rebalance recommended at " + sp.Rebalance.Time.Format(time.RFC3339)
		}
		if sp.Interruption != nil {
			line += fmt.Sprintf(", INTERRUPTION: %s at %s", sp.Interruption.Action, sp.Interruption.Time.Format(time.RFC3339))
		}
		if sp.LastError != "" {
			line += "; metadata: " + cli.Printable(sp.LastError)
		}
		fmt.Fprintln(w, line)
	}
	for _, q := range st.Queues {
		fmt.Fprintf(w, "queue %s: %s\n", q.Queue, counts(q.Counts))
		for _, wk := range q.Workers {
			if wk.Since == nil {
				fmt.Fprintf(w, "  %-40s idle\n", wk.Holder)
			} else {
				fmt.Fprintf(w, "  %-40s %s (%s)\n", wk.Holder, cli.Printable(wk.Item), time.Since(*wk.Since).Round(time.Millisecond))
			}
		}
		if life, ok := st.Lifetime[q.Queue]; ok {
			m := map[string]int64{}
			for k, v := range life {
				m[k] = int64(v)
			}
			fmt.Fprintf(w, "  since first start: %s\n", counts(m))
		}
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(w, "recent events:")
		for _, ev := range st.Events {
			fmt.Fprintf(w, "  %s %-8s %-8s %s %s\n", ev.Time.Format(time.RFC3339), ev.Queue, ev.Kind, cli.Printable(ev.Label), cli.Printable(ev.Detail))
		}
	}
}

func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "nothing yet"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}
