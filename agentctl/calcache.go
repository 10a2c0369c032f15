package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/cli"
)

// rulesFlag is the --rules flag of the calcache commands.
func rulesFlag(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "rules", "", "directory of calibration rules files (*.yml) replacing the built-in ones (default: config calcache_rules, $AGENTD_CALCACHE_RULES)")
}

// rules loads the calibration rules (--rules, else the config's) and fits them to the
// database: a rules file that cannot be read or parsed is exit 2, rules that do not fit
// the database exit 4.
// The pool is the caller's to close.
func (a *app) rules(ctx context.Context, name, dir string) (*pgxpool.Pool, *calcache.Rules, error) {
	pool, err := a.pool(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	rs, err := calcache.Load(ctx, pool, cmp.Or(dir, a.cfg.CalcacheRules))
	if err != nil {
		pool.Close()
		if errors.Is(err, calcache.ErrRulesFile) {
			return nil, nil, cli.WithCode(cli.ExitUsage, err)
		}
		return nil, nil, cli.WithCode(cli.ExitWrong, err)
	}
	return pool, rs, nil
}

func calcacheCommands() []*command {
	var since, instrument, rulesDir, export string
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
				rulesFlag(fs, &rulesDir)
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
				pool, rs, err := a.rules(ctx, "calcache-rebuild", rulesDir)
				if err != nil {
					return err
				}
				defer pool.Close()
				meter := a.meter("rebuild the calibration cache", "observations")
				opt.Progress = func(r calcache.Rebuilt) {
					meter.Total(r.Total, false)
					meter.Set(r.Observations)
				}
				sum, err := rs.Rebuild(ctx, pool, opt)
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
			flags:   func(fs *flag.FlagSet) { rulesFlag(fs, &rulesDir) },
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
				pool, rs, err := a.rules(ctx, "calcache-show", rulesDir)
				if err != nil {
					return err
				}
				defer pool.Close()
				s, err := rs.Show(ctx, pool, args[0])
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
			flags:   func(fs *flag.FlagSet) { rulesFlag(fs, &rulesDir) },
			summary: "the calibration cache's size, what it lacks, its last rebuild",
			help: `Rows and observations in the cache; per instrument set and calibration type, how many
observations the rules apply to and how many of them have no calibration of that type (none
exists in the archive, or the cache is not up to date); the last agentctl calcache rebuild.
The calcache queue's own state is in agentctl queue status.

example:
  agentctl calcache status --json`,
			run: func(ctx context.Context, a *app, _ []string) error {
				pool, rs, err := a.rules(ctx, "calcache-status", rulesDir)
				if err != nil {
					return err
				}
				defer pool.Close()
				st, err := rs.StatusOf(ctx, pool)
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
		{
			name:    "calcache rules",
			summary: "check the calibration rules against the database, list them, or export the built-in ones",
			help: `Reads the calibration rules files (the built-in ones, or the directory of --rules, the
config's calcache_rules, $AGENTD_CALCACHE_RULES) and fits them to the database as agentd
does before it takes a calcache item: every descriptor must be a column of header or of the
set's instrument table, every caltype, observation type and class one of the database's
enums, every conditional match one this program knows, and every rule must plan in both its
forms. Lists the rules; exit 4 with every problem named (file, rule, descriptor) when they
do not fit.

--export DIR writes the built-in rules files into DIR (which must not hold them already),
the start of an archive's own rules: edit them, check them with --rules DIR, then set
calcache_rules = "DIR" in the config of every host that serves calcache or ingests for the
archive. The files' format is in docs/calcache-rules-format.md.

examples:
  agentctl calcache rules
  agentctl calcache rules --export /etc/agentd/calcache-rules
  agentctl calcache rules --rules /etc/agentd/calcache-rules --json`,
			flags: func(fs *flag.FlagSet) {
				rulesFlag(fs, &rulesDir)
				fs.StringVar(&export, "export", "", "write the built-in rules files into this directory and exit")
			},
			run: func(ctx context.Context, a *app, _ []string) error {
				if export != "" {
					written, err := exportRules(export)
					if err != nil {
						return err
					}
					a.out.Result(map[string]any{"directory": export, "files": written}, func(w io.Writer) {
						fmt.Fprintf(w, "wrote %d rules files into %s: %s\n", len(written), export, strings.Join(written, ", "))
					})
					return nil
				}
				pool, rs, err := a.rules(ctx, "calcache-rules", rulesDir)
				if err != nil {
					return err
				}
				defer pool.Close()
				type ruleJSON struct {
					CalType string `json:"caltype"`
					Origin  string `json:"origin"`
					Why     string `json:"why"`
				}
				type setJSON struct {
					File        string     `json:"file"`
					Instruments []string   `json:"instruments"` // empty: the default set
					Table       string     `json:"table"`
					Rules       []ruleJSON `json:"rules"`
				}
				out := struct {
					Source string    `json:"source"`
					Sets   []setJSON `json:"sets"`
				}{Source: rs.Source, Sets: []setJSON{}}
				for _, s := range rs.Sets() {
					sj := setJSON{File: s.File, Instruments: append([]string{}, s.Instruments...), Table: s.Table}
					for _, r := range s.Rules {
						sj.Rules = append(sj.Rules, ruleJSON{CalType: r.CalType, Origin: r.Origin, Why: r.Why()})
					}
					out.Sets = append(out.Sets, sj)
				}
				a.out.Result(out, func(w io.Writer) {
					fmt.Fprintf(w, "calibration rules (%s): fit this database\n", rs.Source)
					for _, s := range out.Sets {
						names := "every other instrument"
						if len(s.Instruments) > 0 {
							names = strings.Join(s.Instruments, ", ")
						}
						fmt.Fprintf(w, "\n%s — %s\n", s.File, names)
						for _, r := range s.Rules {
							fmt.Fprintf(w, "  %-16s %s\n", r.CalType, r.Why)
						}
					}
				})
				return nil
			},
		},
	}
}

// exportRules writes the built-in rules files into dir, creating it; it refuses to replace
// a file already there (an archive's edited rules).
func exportRules(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, cli.WithCode(cli.ExitUsage, fmt.Errorf("--export: %w", err))
	}
	builtin := calcache.BuiltinRules()
	entries, err := fs.ReadDir(builtin, ".")
	if err != nil {
		return nil, err
	}
	var written []string
	for _, e := range entries {
		data, err := fs.ReadFile(builtin, e.Name())
		if err != nil {
			return written, err
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return written, cli.WithCode(cli.ExitRefused, fmt.Errorf("--export: %s already exists in %s; export into an empty directory", e.Name(), dir))
		}
		if err != nil {
			return written, fmt.Errorf("--export: %w", err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return written, fmt.Errorf("--export: write %s: %w", e.Name(), err)
		}
		written = append(written, e.Name())
	}
	return written, nil
}
