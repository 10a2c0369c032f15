package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/connstr"
	"github.com/fitsarchive/agentd/internal/progress"
	"github.com/fitsarchive/agentd/pgsync"
)

type transferFlags struct {
	from, to, tables, mapFile string
	presets                   listFlag
	truncate, appendRows      bool
	allowDrop, dryRun         bool
}

// listFlag is a flag that may repeat.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func transferCommands() []*command {
	var f transferFlags
	return []*command{{
		name:    "transfer",
		summary: "carry the tables an upgrade keeps from the old database into the new one",
		args:    "--from SOURCE --to DSN [--preset archive|summit]... [--tables t1,t2] [flags]",
		help: `SOURCE is the old database's connection string, read in one consistent snapshot, or
its pg_dump backup: custom (-Fc, the nightly backup), directory or tar format, read through
pg_restore, or a plain SQL dump, gzip-compressed or not, read as a stream. Dumps made with
--inserts are refused.
The plan comes first: per table the rows, where each target column comes from (same name,
renamed, computed, default, NULL), type changes, dropped source columns and the sequence.
Then the rows are staged in temporary tables on the target and written in one transaction,
in foreign-key order, with each table's id sequence moved past the source's; a failure or a
kill leaves the target as it was. The archive's known schema history (archiveuser → users,
the notification split, dropped fileuploadlog columns...) is built in; --map adds to it.

Presets: archive = users, userprogram, notification, glacier, usagelog, querylog,
downloadlog, filedownloadlog, fileuploadlog; summit = qareport, qametriciq, qametricpe,
qametricsb, qametriczp. A preset table the source lacks is skipped with a warning.

Map file (TOML), keys are target names:
  [tables.users]
  old_names = ["archiveuser"]
  drop = ["obsolete_column"]
  [tables.users.rename]
  gemini_staff = ["staff"]
  [tables.notification.compute]
  ngoemail = "split_part(cc, ',', 1)"

Exit codes: 3 source or target unreachable, 4 plan problems (a table missing, a NOT NULL
column with no source...) or a file that is not a usable dump, 5 a target table holds rows (see --truncate, --append), 1 a
value that does not fit (nothing written).

example:
  agentctl transfer --from postgresql:///fitsdata_old --to postgresql:///fitsdata --preset archive --dry-run
  agentctl transfer --from /backup/fitsdata.pg_dump --to postgresql:///fitsdata --preset archive`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.from, "from", "", "the old database (connection string) or its pg_dump backup (file or directory)")
			fs.StringVar(&f.to, "to", "", "the new database (connection string; default --database-url and its fallbacks)")
			fs.Var(&f.presets, "preset", "archive or summit; may repeat")
			fs.StringVar(&f.tables, "tables", "", "more tables, comma-separated (a missing one is an error)")
			fs.StringVar(&f.mapFile, "map", "", "map file of renames, computed columns and drops, on top of the built-in one")
			fs.BoolVar(&f.truncate, "truncate", false, "empty the target tables first (in the same transaction)")
			fs.BoolVar(&f.appendRows, "append", false, "add only the rows whose id is above the target's max(id) (the cut-over delta)")
			fs.BoolVar(&f.allowDrop, "allow-drop", false, "allow source columns that have no place in the target")
			fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and stop")
		},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected arguments %q", args)
			}
			return a.transfer(ctx, f)
		},
	}}
}

func (a *app) transfer(ctx context.Context, f transferFlags) error {
	if f.from == "" {
		return cli.Usagef("--from is required: the old database's connection string")
	}
	if f.truncate && f.appendRows {
		return cli.Usagef("--truncate and --append exclude each other")
	}
	for _, p := range f.presets {
		if _, ok := pgsync.Presets[p]; !ok {
			return cli.Usagef("--preset %q: known presets are archive and summit", p)
		}
	}
	req := pgsync.Request{Presets: f.presets, Map: pgsync.DefaultMap(), AllowDrop: f.allowDrop, Mode: pgsync.ModeEmpty}
	if f.tables != "" {
		var l listFlag
		_ = l.Set(f.tables)
		req.Tables = l
	}
	if f.truncate {
		req.Mode = pgsync.ModeTruncate
	}
	if f.appendRows {
		req.Mode = pgsync.ModeAppend
	}
	var userMap *pgsync.Map
	if f.mapFile != "" {
		text, err := os.ReadFile(f.mapFile)
		if err != nil {
			return cli.WithCode(cli.ExitUsage, fmt.Errorf("map file: %w", err))
		}
		m, err := pgsync.ParseMap(string(text), f.mapFile)
		if err != nil {
			return cli.WithCode(cli.ExitUsage, err)
		}
		userMap = &m
		req.Map = req.Map.Merge(m)
	}
	dst, err := a.connectTarget(ctx, f.to)
	if err != nil {
		return err
	}
	defer dst.Close(ctx)
	if userMap != nil {
		cat, err := pgsync.ReadCatalog(ctx, dst)
		if err != nil {
			return err
		}
		if err := userMap.Check(cat); err != nil {
			return err
		}
	}
	src, err := openSource(ctx, f.from)
	if err != nil {
		return err
	}
	defer src.Close(ctx)

	opt := pgsync.Options{Request: req, DryRun: f.dryRun}
	meter := a.meter("transfer", "rows")
	opt.Progress = transferProgress(meter)
	res, err := pgsync.Transfer(ctx, src, dst, opt)
	meter.Finish()
	if err != nil {
		if res != nil && res.Plan != nil {
			if !a.out.JSON {
				printPlan(a.out.Stdout, res)
			}
			return &failureWith{err: err, extra: map[string]any{"plan": res.Plan}}
		}
		return err
	}
	for _, w := range res.Plan.Warnings {
		fmt.Fprintln(a.out.Stderr, "warning:", w)
	}
	for _, s := range res.Plan.Skipped {
		fmt.Fprintf(a.out.Stderr, "warning: %s is not in the source; skipped\n", s)
	}
	a.out.Result(res, func(w io.Writer) {
		printPlan(w, res)
		if res.DryRun {
			fmt.Fprintln(w, "dry run: nothing written")
			return
		}
		fmt.Fprintf(w, "\n%-18s %10s %8s %10s  %s\n", "table", "rows", "seconds", "rows/s", "next id")
		for _, t := range res.Tables {
			next := "-"
			if t.Sequence != "" {
				next = fmt.Sprint(t.RestartAt)
			}
			fmt.Fprintf(w, "%-18s %10d %8.2f %10.0f  %s\n", t.Target, t.Rows, t.Seconds, t.RowsPerSec, next)
		}
		fmt.Fprintf(w, "transferred %d rows in %d tables in %.1f s\n", res.Rows, len(res.Tables), res.Seconds)
	})
	return nil
}

// phaseNames say what each phase of a transfer does, for the progress line.
var phaseNames = map[string]string{
	pgsync.PhasePlan:      "planning",
	pgsync.PhaseStage:     "staging",
	pgsync.PhaseWrite:     "writing",
	pgsync.PhaseIndex:     "indexing",
	pgsync.PhaseSequences: "moving sequences, recording history",
	pgsync.PhaseCommit:    "committing",
}

// transferProgress shows a transfer's events on the meter: each phase (and table) as it
// starts — also as a log line when stderr is no terminal —, its rows while they stream
// (counted exactly: a dump's total is unknown until read, and none is guessed), a phase with
// no rows by its elapsed time, and a line for each table staged or loaded.
func transferProgress(meter *progress.Meter) func(pgsync.Event) {
	return func(e pgsync.Event) {
		switch {
		case e.Start:
			name := strings.TrimSpace(phaseNames[e.Phase] + " " + e.Table)
			meter.Phase(name, max(e.Total, 0))
		case e.Done && e.Phase == pgsync.PhaseStage:
			meter.Println(fmt.Sprintf("staged %s: %d rows", e.Table, e.Rows))
		case e.Done && e.Phase == pgsync.PhaseWrite:
			meter.Println(fmt.Sprintf("loaded %s: %d rows", e.Table, e.Rows))
		case !e.Done:
			meter.Set(e.Rows)
		}
	}
}

// openSource opens --from: a file or directory is a pg_dump backup, anything else a
// connection string.
func openSource(ctx context.Context, from string) (pgsync.Source, error) {
	if _, err := os.Stat(from); err == nil {
		return pgsync.OpenDump(ctx, from, nil)
	}
	if !strings.Contains(from, "://") && !strings.Contains(from, "=") {
		return nil, cli.Usagef("--from is neither an existing pg_dump backup nor a connection string (postgresql://… or key=value); not shown, as it may hold a password")
	}
	return pgsync.OpenLive(ctx, from)
}

// failureWith is an error whose JSON object carries more fields (the refused plan, the
// summary of work that finished with problems).
type failureWith struct {
	err   error
	extra map[string]any
}

func (f *failureWith) Error() string { return f.err.Error() }
func (f *failureWith) Unwrap() error { return f.err }

// connectTarget opens the target database: --to, or the usual --database-url fallbacks.
func (a *app) connectTarget(ctx context.Context, to string) (*pgx.Conn, error) {
	if to == "" {
		return a.connect(ctx, "transfer")
	}
	cfg, err := pgx.ParseConfig(to)
	if err != nil {
		return nil, cli.WithCode(cli.ExitUsage, connstr.ParseError("--to", err))
	}
	cfg.RuntimeParams["application_name"] = a.appName("transfer")
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("connect to target database %q: %w", cfg.Database, err))
	}
	return conn, nil
}

func printPlan(w io.Writer, res *pgsync.Result) {
	p := res.Plan
	fmt.Fprintf(w, "transfer from %s (%s)\n", res.Source, p.Mode)
	for _, t := range p.Tables {
		rows := fmt.Sprint(t.SourceRows)
		if t.SourceRows < 0 {
			rows = "?"
		}
		name := t.Target
		if t.Source != t.Target {
			name += " ← " + t.Source
		}
		fmt.Fprintf(w, "\n%s: %s rows (target has %d)\n", name, rows, t.TargetRows)
		same := 0
		for _, c := range t.Columns {
			switch c.Kind {
			case pgsync.KindSame:
				same++
			case pgsync.KindCast:
				fmt.Fprintf(w, "  %-22s %s → %s (%s)\n", c.Target, c.FromType, c.ToType, c.TypeChange)
			case pgsync.KindRenamed:
				fmt.Fprintf(w, "  %-22s ← %s (renamed)\n", c.Target, c.Source)
			case pgsync.KindComputed:
				fmt.Fprintf(w, "  %-22s ← %s (computed)\n", c.Target, c.Expr)
			case pgsync.KindDefault:
				fmt.Fprintf(w, "  %-22s new, its default\n", c.Target)
			case pgsync.KindNull:
				fmt.Fprintf(w, "  %-22s new, NULL\n", c.Target)
			}
		}
		fmt.Fprintf(w, "  %d columns copied as they are\n", same)
		if len(t.Dropped) > 0 {
			fmt.Fprintf(w, "  dropped: %s\n", strings.Join(t.Dropped, ", "))
		}
		if s := t.Sequence; s != nil {
			from := ""
			if s.Source != "" {
				from = fmt.Sprintf("%s (last %d) and ", s.Source, s.SourceLast)
			}
			fmt.Fprintf(w, "  sequence %s: restart past %smax(id)\n", s.Target, from)
		}
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(w, "problem: %s\n", pr)
	}
}
