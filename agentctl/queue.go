package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/connstr"
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
	var statusQueue, retryQueue, releaseQueue, releaseHolder string
	var stuck time.Duration
	var releaseYes bool
	return []*command{
		{
			name:    "queue status",
			summary: "show pending, deferred, in-progress (with holder) and failed items per queue",
			args:    "[--queue NAME] [--json]",
			help: `Reads the queue tables: works from any host, whether or not agentd runs here.
"expired" items are in progress with a lease that ran out: their holder died, and the
next agent to look will put them back. "stuck" lists every item claimed longer than
--stuck ago, with its holder and age: a healthy worker finishes a file in seconds, so an
old claim whose lease is still renewed names a holder to look at (agentctl status on
that host) and, if it is wedged, to release (agentctl queue release --holder).

examples:
  agentctl queue status --queue ingest --json
  agentctl queue status --stuck 2m`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&statusQueue, "queue", "", "only this queue (ingest or calcache)")
				fs.DurationVar(&stuck, "stuck", 10*time.Minute, "list items claimed longer ago than this (0: do not list)")
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
					if stuck > 0 {
						if st.Stuck, err = queue.Stuck(ctx, pool, s, stuck); err != nil {
							return err
						}
					}
					all = append(all, st)
				}
				a.out.Result(map[string]any{"queues": all}, func(w io.Writer) { printQueueStats(w, all, stuck) })
				return nil
			},
		},
		{
			name:    "queue release",
			summary: "put back the items a holder (worker, agentd process or host) has claimed",
			args:    "--holder HOLDER [--queue NAME] [--yes]",
			help: `Puts back every in-progress item whose holder is HOLDER or lies under it: a worker
(host/pid/name/ingest-0), one agentd process (host/pid/name) or every process of a host
(host), as "agentctl queue status" shows them. Use it for a holder known to be dead or
wedged whose items would otherwise wait for their lease to expire. The items go back to
pending with no attempt counted; a holder that is in fact alive finds its claims gone and
writes nothing (completions are fenced by the claim token).

It lists the items and asks first, naming the database and how many; without a terminal
it needs --yes.

examples:
  agentctl queue release --holder ip-10-0-3-17/4121/rebuild
  agentctl queue release --holder ip-10-0-3-17 --yes --json`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&releaseHolder, "holder", "", "the holder whose items go back (required)")
				fs.StringVar(&releaseQueue, "queue", "ingest", "the queue")
				fs.BoolVar(&releaseYes, "yes", false, "do not ask")
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("unexpected argument %q (the holder goes in --holder)", args[0])
				}
				if strings.TrimSpace(releaseHolder) == "" {
					return cli.Usagef("--holder is required: a worker, an agentd process (host/pid/name) or a host, as queue status shows them")
				}
				specs, err := queueNames(releaseQueue)
				if err != nil {
					return err
				}
				pool, err := a.pool(ctx, "queue-release")
				if err != nil {
					return err
				}
				defer pool.Close()
				q := queue.New(pool, specs[0], queue.Options{})
				held, err := q.HeldBy(ctx, releaseHolder)
				if err != nil {
					return err
				}
				result := map[string]any{"queue": specs[0].Name, "holder": releaseHolder, "held": len(held), "released": []queue.Ended{}}
				if len(held) == 0 {
					a.out.Result(result, func(w io.Writer) {
						fmt.Fprintf(w, "%s: no item is held by %s\n", specs[0].Name, releaseHolder)
					})
					return nil
				}
				if !releaseYes {
					for i, r := range held {
						if i == 20 {
							fmt.Fprintf(a.out.Stderr, "  … and %d more\n", len(held)-20)
							break
						}
						fmt.Fprintf(a.out.Stderr, "  %-40s %s, claimed %s ago\n", cli.Printable(r.Label), cli.Printable(r.Holder), age(r.AgeSeconds))
					}
					what := fmt.Sprintf("put back %d %s items held by %s in database %q",
						len(held), specs[0].Name, releaseHolder, pool.Config().ConnConfig.Database)
					if !a.confirm(what) {
						return cli.WithCode(cli.ExitRefused, fmt.Errorf("not confirmed: %s? nothing released (type yes at the prompt, or give --yes)", what))
					}
				}
				ended, err := q.ReleaseHolder(ctx, releaseHolder)
				if err != nil {
					return err
				}
				result["released"] = ended
				a.out.Result(result, func(w io.Writer) {
					for _, e := range ended {
						fmt.Fprintf(w, "  %-40s %s\n", cli.Printable(e.Label), e.How)
					}
					fmt.Fprintf(w, "%s: put back %d items held by %s\n", specs[0].Name, len(ended), releaseHolder)
				})
				return nil
			},
		},
		{
			name:    "queue retry",
			maxArgs: 1,
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
				target := connstr.Describe(&pool.Config().ConnConfig.Config)
				a.out.Result(map[string]any{"queue": specs[0].Name, "rearmed": n, "database": target}, func(w io.Writer) {
					fmt.Fprintf(w, "%s: %d failed items pending again in %s\n", specs[0].Name, n, target)
				})
				return nil
			},
		},
	}
}

// age says how long ago, in seconds, for humans.
func age(seconds float64) string {
	if seconds <= 0 {
		return "an unknown time"
	}
	return (time.Duration(seconds) * time.Second).String()
}

func printQueueStats(w io.Writer, all []queue.Stats, stuck time.Duration) {
	for _, st := range all {
		fmt.Fprintf(w, "%-9s pending %d, deferred %d, in progress %d, expired %d, failed %d\n",
			st.Queue, st.Pending, st.Deferred, st.InProgress, st.Expired, st.Failed)
		for _, r := range st.Running {
			lease := "none"
			if r.LeaseUntil != nil {
				lease = time.Until(*r.LeaseUntil).Round(time.Second).String()
			}
			fmt.Fprintf(w, "  running  %-40s %s for %s (lease %s)\n", cli.Printable(r.Label), cli.Printable(r.Holder), age(r.AgeSeconds), lease)
		}
		if len(st.Stuck) > 0 {
			fmt.Fprintf(w, "  %d claimed longer than %s ago (release a wedged holder with agentctl queue release --holder):\n", len(st.Stuck), stuck)
			for _, r := range st.Stuck {
				fmt.Fprintf(w, "  stuck    %-40s %s for %s, attempts %d\n", cli.Printable(r.Label), cli.Printable(r.Holder), age(r.AgeSeconds), r.Attempts)
			}
		}
		for _, f := range st.Failures {
			fmt.Fprintf(w, "  failed   %-40s %s: %s\n", cli.Printable(f.Label), f.FailDT.Format(time.RFC3339), cli.Printable(f.Error))
		}
	}
}
