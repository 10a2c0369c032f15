package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/cli"
)

func calcacheCommands() []*command {
	var since, instrument string
	var batch int
	return []*command{
		{
			name:    "calcache rebuild",
			summary: "recompute the calibration cache of every observation (or a slice), set-based",
			help: `Recomputes, in batches of observations (one transaction each), the calibrations that
serve each observation, with the same rules and the same result as agentd --queue calcache,
and drops the pending calcache queue items it made redundant. Run it once every header is in
(after a rebuild's ingest): most of the work is the database server's. --since and
--instrument recompute a slice. The run is recorded for agentctl calcache status.

examples:
  agentctl calcache rebuild
  agentctl calcache rebuild --since 2024-01-01 --instrument GMOS-S --json`,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&since, "since", "", "only observations at or after this date (YYYY-MM-DD, UTC, or RFC 3339)")
				fs.StringVar(&instrument, "instrument", "", "only this instrument (as header.instrument: GMOS-N, NIRI, …)")
				fs.IntVar(&batch, "batch", calcache.DefaultBatch, "observations per transaction")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				opt := calcache.RebuildOptions{Instrument: instrument, Batch: batch}
				if since != "" {
					t, err := parseWhen(since, time.Now())
					if err != nil {
						return cli.WithCode(cli.ExitUsage, fmt.Errorf("--since: %w", err))
					}
					opt.Since = t
				}
				if batch < 1 {
					return cli.Usagef("--batch must be at least 1")
				}
				pool, err := a.pool(ctx, "calcache-rebuild")
				if err != nil {
					return err
				}
				defer pool.Close()
				if err := calcache.Check(ctx, pool); err != nil {
					return cli.WithCode(cli.ExitWrong, err)
				}
				meter := a.meter("rebuild the calibration cache", "observations")
				opt.Progress = func(r calcache.Rebuilt) {
					meter.Total(r.Total, false)
					meter.Set(r.Observations)
				}
				sum, err := calcache.Rebuild(ctx, pool, opt)
				meter.Finish()
				if err != nil {
					return err
				}
				a.out.Result(sum, func(w io.Writer) {
					fmt.Fprintf(w, "%d observations: %d calibrations cached, %d queue items made redundant, in %.1f s (%.0f observations/s)\n",
						sum.Observations, sum.Rows, sum.Dequeued, sum.Seconds, float64(sum.Observations)/max(sum.Seconds, 1e-9))
				})
				return nil
			},
		},
		{
			name:    "calcache show",
			args:    "FILENAME|DATALABEL",
			maxArgs: 1,
			summary: "the calibrations cached for one observation, and why each matched",
			help: `FILENAME is an ingested file's name (with or without .bz2), DATALABEL its data label; the
canonical version is shown. For each calibration type its rules ask for: the calibrations by
rank, their time from the observation, and what the rule asked of them. Exit 1 when no file
has that name or label.

examples:
  agentctl calcache show N20200101S0008.fits
  agentctl calcache show GN-2020A-Q-1-8-001 --json`,
			run: func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return cli.Usagef("give a file name or a data label")
				}
				pool, err := a.pool(ctx, "calcache-show")
				if err != nil {
					return err
				}
				defer pool.Close()
				s, err := calcache.Show(ctx, pool, args[0])
				if errors.Is(err, calcache.ErrNoObservation) {
					return cli.WithCode(cli.ExitFailed, err)
				}
				if err != nil {
					return err
				}
				a.out.Result(s, func(w io.Writer) {
					fmt.Fprintf(w, "%s (header %d)", s.Filename, s.HeaderID)
					if s.DataLabel != nil {
						fmt.Fprintf(w, ", %s", *s.DataLabel)
					}
					fmt.Fprintf(w, ": %d calibrations\n", len(s.Calibrations))
					for _, ap := range s.Applicable {
						fmt.Fprintf(w, "\n%s — %s\n", ap.CalType, ap.Why)
						n := 0
						for _, c := range s.Calibrations {
							if c.CalType == ap.CalType {
								n++
								fmt.Fprintf(w, "  %2d  %-28s %+.1f h\n", c.Rank, c.Filename, c.DeltaSeconds/3600)
							}
						}
						if n == 0 {
							fmt.Fprintln(w, "  none found")
						}
					}
				})
				return nil
			},
		},
		{
			name:    "calcache status",
			summary: "the calibration cache's size, what it lacks, its last rebuild",
			help: `Rows and observations in the cache; per instrument set and calibration type, how many
observations the rules apply to and how many of them have no calibration of that type (none
exists in the archive, or the cache is not up to date); the last agentctl calcache rebuild.
The calcache queue's own state is in agentctl queue status.

example:
  agentctl calcache status --json`,
			run: func(ctx context.Context, a *app, _ []string) error {
				pool, err := a.pool(ctx, "calcache-status")
				if err != nil {
					return err
				}
				defer pool.Close()
				st, err := calcache.StatusOf(ctx, pool)
				if err != nil {
					return err
				}
				a.out.Result(st, func(w io.Writer) {
					fmt.Fprintf(w, "%d calibrations cached for %d observations\n", st.Rows, st.Observations)
					for _, m := range st.Missing {
						fmt.Fprintf(w, "  %-30s %-16s %d observations, %d without one\n", m.Instruments, m.CalType, m.Applicable, m.Without)
					}
					if st.LastRebuild == nil {
						fmt.Fprintln(w, "never rebuilt in bulk")
					} else {
						fmt.Fprintf(w, "last rebuild %s: %d observations, %d rows, in %s\n", st.LastRebuild.Finished.UTC().Format(time.RFC3339),
							st.LastRebuild.Observations, st.LastRebuild.Rows, st.LastRebuild.Finished.Sub(st.LastRebuild.Started).Round(time.Millisecond))
					}
				})
				return nil
			},
		},
	}
}
