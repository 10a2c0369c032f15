package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/queue"
)

// queueNames picks the queues a command acts on: one named, or all.
func queueNames(name string) ([]queue.Spec, error) {
	specs := queue.Specs()
	if name != "" {
		s, ok := specs[name]
		if !ok {
			return nil, cli.Usagef("%v %q: known queues are ingest and calcache", queue.ErrUnknownQueue, name)
		}
		return []queue.Spec{s}, nil
	}
	var out []queue.Spec
	for _, s := range specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func queueCommands() []*command {
	var statusQueue, retryQueue string
	return []*command{
		{
			name:    "queue status",
			summary: "show pending, deferred, in-progress (with holder) and failed items per queue",
			args:    "[--queue NAME] [--json]",
			help: `Reads the queue tables: works from any host, whether or not agentd runs here.
"expired" items are in progress with a lease that ran out: their holder died, and the
next agent to look will put them back.

example:
  agentctl queue status --queue ingest --json`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&statusQueue, "queue", "", "only this queue (ingest or calcache)")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				specs, err := queueNames(statusQueue)
				if err != nil {
					return err
				}
				pool, err := a.pool(ctx, "queue-status")
				if err != nil {
					return err
				}
				defer pool.Close()
				var all []queue.Stats
				for _, s := range specs {
					st, err := queue.StatsOf(ctx, pool, s)
					if err != nil {
						return err
					}
					all = append(all, st)
				}
				a.out.Result(map[string]any{"queues": all}, func(w io.Writer) { printQueueStats(w, all) })
				return nil
			},
		},
		{
			name:    "queue retry",
			summary: "re-arm failed items, all or those whose name matches a pattern",
			args:    "[PATTERN] [--queue NAME]",
			help: `PATTERN is a shell pattern on the file name (* and ?); without one every failed item
of the queue is re-armed. A failed item whose file is pending again already is dropped.

examples:
  agentctl queue retry 'N2020*'
  agentctl queue retry --queue ingest --json`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&retryQueue, "queue", "ingest", "the queue")
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if len(args) > 1 {
					return cli.Usagef("give at most one pattern (quote it: 'N2020*')")
				}
				pattern := ""
				if len(args) == 1 {
					pattern = args[0]
				}
				specs, err := queueNames(retryQueue)
				if err != nil {
					return err
				}
				pool, err := a.pool(ctx, "queue-retry")
				if err != nil {
					return err
				}
				defer pool.Close()
				n, err := queue.Retry(ctx, pool, specs[0], pattern)
				if err != nil {
					return err
				}
				a.out.Result(map[string]any{"queue": specs[0].Name, "rearmed": n}, func(w io.Writer) {
					fmt.Fprintf(w, "%s: %d failed items pending again\n", specs[0].Name, n)
				})
				return nil
			},
		},
	}
}

func printQueueStats(w io.Writer, all []queue.Stats) {
	for _, st := range all {
		fmt.Fprintf(w, "%-9s pending %d, deferred %d, in progress %d, expired %d, failed %d\n",
			st.Queue, st.Pending, st.Deferred, st.InProgress, st.Expired, st.Failed)
		for _, r := range st.Running {
			fmt.Fprintf(w, "  running  %-40s %s since %s (lease %s)\n", r.Label, r.Holder,
				r.ClaimedAt.Format(time.RFC3339), time.Until(r.LeaseUntil).Round(time.Second))
		}
		for _, f := range st.Failures {
			fmt.Fprintf(w, "  failed   %-40s %s: %s\n", f.Label, f.FailDT.Format(time.RFC3339), f.Error)
		}
	}
}
