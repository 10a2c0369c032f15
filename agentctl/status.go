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

func statusCommands() []*command {
	var socket, name string
	return []*command{{
		name:    "status",
		noDB:    true,
		summary: "show what the local agentd is doing (workers, current items, counters, events)",
		args:    "[--name NAME | --socket PATH] [--json]",
		help: `Asks agentd over its read-only unix socket; needs no database. Exit 3 when no agentd
answers there.

example:
  agentctl status --name rebuild`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "the agentd's --name (default: config, then agentd)")
			fs.StringVar(&socket, "socket", "", "the agent's control socket (default /run/agentd/<name>/agentd.sock)")
		},
		run: func(ctx context.Context, a *app, _ []string) error {
			ag := a.cfg.Agentd
			if name != "" {
				ag.Name = name
			}
			if socket != "" {
				ag.Socket = socket
			}
			st, err := agentstatus.Fetch(ctx, ag.SocketPath())
			if errors.Is(err, agentstatus.ErrNotRunning) {
				return cli.WithCode(cli.ExitConnect, err)
			}
			if err != nil {
				return err
			}
			a.out.Result(st, func(w io.Writer) { printStatus(w, st) })
			return nil
		},
	}}
}

func printStatus(w io.Writer, st agentstatus.Status) {
	fmt.Fprintf(w, "agentd %s (pid %d, role %s), up %s; version %s\n", st.Name, st.PID, st.Role, time.Since(st.Started).Round(time.Second), st.Version)
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
