package pgsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrConnect is returned when the source or the target cannot be reached or read.
var ErrConnect = errors.New("cannot reach the database")

// HistoryTable is where the target records each transfer.
const HistoryTable = "agentd_transfer_history"

// Options are a transfer's settings.
type Options struct {
	Request
	DryRun bool
	// Progress, when set, hears of each phase and table as it starts, while its rows
	// stream (every 200 ms) and when it is done. It runs on the transfer's goroutine or a
	// meter's: it must be quick and safe for concurrent use.
	Progress func(Event)
}

// TableResult is what one table's transfer did.
type TableResult struct {
	Target     string  `json:"target"`
	Source     string  `json:"source"`
	Rows       int64   `json:"rows"`    // rows written into the target
	Seconds    float64 `json:"seconds"` // staging and writing
	RowsPerSec float64 `json:"rows_per_second"`
	Sequence   string  `json:"sequence,omitempty"`
	RestartAt  int64   `json:"sequence_restart,omitempty"` // the next id the sequence gives
}

// Result is what a transfer did (or, for a dry run, would do).
type Result struct {
	Source  string        `json:"source"`
	Plan    *Plan         `json:"plan"`
	DryRun  bool          `json:"dry_run"`
	Tables  []TableResult `json:"tables,omitempty"`
	Rows    int64         `json:"rows"`
	Seconds float64       `json:"seconds"`
}

// Transfer plans the transfer from src into the target connection and, unless DryRun,
// carries it out in phases: plan (catalogs, counts, the column mapping), stage (a dump's
// rows into temporary tables), write (one transaction: value checks, every table in
// foreign-key order, verified counts), sequences and history, commit. On any error, or a
// kill, the target tables are as they were.
func Transfer(ctx context.Context, src Source, dst *pgx.Conn, opt Options) (*Result, error) {
	tr := &transferRun{src: src, dst: dst, opt: opt, report: opt.Progress, start: time.Now()}
	if tr.report == nil {
		tr.report = func(Event) {}
	}
	res := &Result{Source: src.Describe(), DryRun: opt.DryRun}
	plan, err := tr.plan(ctx)
	res.Plan = plan
	if err != nil || opt.DryRun {
		res.Seconds = time.Since(tr.start).Seconds()
		return res, err
	}
	staged, err := src.Stage(ctx, dst, plan, tr.report)
	if err != nil {
		return res, err
	}
	defer staged.Discard(context.WithoutCancel(ctx))

	tx, err := dst.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("%w: begin on the target: %v", ErrConnect, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := tr.write(ctx, tx, plan, staged, res); err != nil {
		return res, err
	}
	if err := tr.sequencesAndHistory(ctx, tx, plan, res); err != nil {
		return res, err
	}
	tr.report(Event{Phase: PhaseCommit, Start: true})
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit the transfer: %w", err)
	}
	tr.report(Event{Phase: PhaseCommit, Done: true})
	res.Seconds = time.Since(tr.start).Seconds()
	return res, nil
}

// transferRun is one run of Transfer: what its phases share.
type transferRun struct {
	src    Source
	dst    *pgx.Conn
	opt    Options
	report func(Event)
	start  time.Time
}

// plan is the first phase: both catalogs, the mapping, the rows on both sides and the
// source sequences. The plan comes back with its problems, if any, as ErrPlan.
func (tr *transferRun) plan(ctx context.Context) (*Plan, error) {
	tr.report(Event{Phase: PhasePlan, Start: true})
	srcCat, err := tr.src.Catalog(ctx, tr.dst)
	if err != nil {
		return nil, err
	}
	dstCat, err := ReadCatalog(ctx, tr.dst)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	plan, err := BuildPlan(tr.opt.Request, srcCat, dstCat)
	if err != nil {
		return nil, err
	}
	if err := fillCounts(ctx, tr.src, tr.dst, plan); err != nil {
		return plan, err
	}
	if n := queueWorkers(ctx, tr.dst); n > 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d agentd queue listener(s) are connected to the target; the transfer's transaction will hold back their vacuum while it runs", n))
	}
	if len(plan.Problems) > 0 {
		return plan, &planError{msg: strings.Join(plan.Problems, "; "), notEmpty: plan.notEmpty}
	}
	tr.report(Event{Phase: PhasePlan, Done: true})
	return plan, nil
}

// write is the phase inside the transaction that puts the rows in place: the value checks
// over every row first, then (--truncate) the target tables emptied, then each table in
// foreign-key order, its count verified.
func (tr *transferRun) write(ctx context.Context, tx pgx.Tx, plan *Plan, staged Staged, res *Result) error {
	if err := staged.Check(ctx, tx, plan); err != nil {
		return err
	}
	if plan.Mode == ModeTruncate {
		names := make([]string, len(plan.Tables))
		for i, t := range plan.Tables {
			names[i] = quoteIdent(t.Target)
		}
		if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(names, ", ")); err != nil {
			return fmt.Errorf("truncate the target tables: %w; a table outside this transfer points to them: add it with --tables, or empty it first; nothing was changed", err)
		}
	}
	for _, t := range plan.Tables {
		tr, err := tr.writeTable(ctx, tx, plan.Mode, t, staged)
		if err != nil {
			return err
		}
		res.Tables = append(res.Tables, tr)
		res.Rows += tr.Rows
	}
	return nil
}

// writeTable writes one table and verifies it: the rows written are the rows the source
// holds (or, appending, the rows the table gained).
func (tr *transferRun) writeTable(ctx context.Context, tx pgx.Tx, mode Mode, t TablePlan, staged Staged) (TableResult, error) {
	start := time.Now()
	want := staged.Rows(t)
	ev := Event{Phase: PhaseWrite, Table: t.Target, Total: want}
	tr.report(Event{Phase: PhaseWrite, Table: t.Target, Total: want, Start: true})
	// A big load into an empty table: building its plain indexes once afterwards is far
	// cheaper than maintaining them row by row.
	var rebuild []string
	if mode != ModeAppend && (t.TargetRows == 0 || mode == ModeTruncate) && want >= RebuildIndexesAbove {
		var err error
		if rebuild, err = dropPlainIndexes(ctx, tx, t.Target); err != nil {
			return TableResult{}, err
		}
	}
	m := startMeter(func(rows int64) { ev.Rows = rows; tr.report(ev) })
	n, err := staged.Write(ctx, tx, t, mode, &m.rows)
	m.end()
	if err != nil {
		return TableResult{}, err
	}
	if len(rebuild) > 0 {
		tr.report(Event{Phase: PhaseIndex, Table: t.Target, Total: -1, Start: true})
		for _, def := range rebuild {
			if _, err := tx.Exec(ctx, def); err != nil {
				return TableResult{}, fmt.Errorf("rebuild an index of %s (%s): %w; nothing was changed", t.Target, def, err)
			}
		}
		tr.report(Event{Phase: PhaseIndex, Table: t.Target, Total: -1, Done: true})
	}
	if mode == ModeAppend {
		want = n // verified below against the target's count
	}
	var total int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.Target)).Scan(&total); err != nil {
		return TableResult{}, fmt.Errorf("count %s: %w", t.Target, err)
	}
	before := t.TargetRows
	if mode == ModeTruncate {
		before = 0
	}
	if n != want || total != before+n {
		return TableResult{}, fmt.Errorf("verify %s: %d rows read, %d written, %d in the table (had %d); nothing was changed", t.Target, staged.Rows(t), n, total, before)
	}
	res := TableResult{Target: t.Target, Source: t.Source, Rows: n, Seconds: (staged.Took(t) + time.Since(start)).Seconds()}
	if res.Seconds > 0 {
		res.RowsPerSec = float64(n) / res.Seconds
	}
	tr.report(Event{Phase: PhaseWrite, Table: t.Target, Rows: n, Total: ev.Total, Done: true})
	return res, nil
}

// sequencesAndHistory is the last phase before the commit: every id sequence moves past
// the source's and the table's largest id, and the target's history table records the
// transfer.
func (tr *transferRun) sequencesAndHistory(ctx context.Context, tx pgx.Tx, plan *Plan, res *Result) error {
	tr.report(Event{Phase: PhaseSequences, Start: true})
	for i, t := range plan.Tables {
		if t.Sequence == nil {
			continue
		}
		next, err := restartSequence(ctx, tx, t)
		if err != nil {
			return err
		}
		res.Tables[i].Sequence, res.Tables[i].RestartAt = t.Sequence.Target, next
	}
	if err := recordHistory(ctx, tx, res); err != nil {
		return err
	}
	tr.report(Event{Phase: PhaseSequences, Done: true})
	return nil
}

// planError is ErrPlan, and ErrNotEmpty too when a target table holds rows.
type planError struct {
	msg      string
	notEmpty bool
}

func (e *planError) Error() string { return ErrPlan.Error() + ": " + e.msg }

func (e *planError) Is(target error) bool {
	return target == ErrPlan || (e.notEmpty && target == ErrNotEmpty)
}

// RebuildIndexesAbove is the number of rows from which a load into an empty table drops the
// table's plain indexes and builds them again after (in the same transaction).
const RebuildIndexesAbove = 10000

// dropPlainIndexes drops the indexes of table that no constraint uses (primary keys, unique
// and foreign-key targets stay) and returns their definitions, to be built again.
func dropPlainIndexes(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname), pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = $1 AND n.nspname = current_schema()
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY 1`, table)
	if err != nil {
		return nil, fmt.Errorf("list the indexes of %s: %w", table, err)
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := tx.Exec(ctx, `DROP INDEX `+name); err != nil {
			return nil, fmt.Errorf("drop index %s for the load: %w", name, err)
		}
	}
	if len(defs) > 0 {
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// fillCounts reads the rows on both sides and the source sequences, and adds the problems
// only counts reveal (a non-empty target).
func fillCounts(ctx context.Context, src Source, dst *pgx.Conn, plan *Plan) error {
	for i := range plan.Tables {
		t := &plan.Tables[i]
		n, err := src.Count(ctx, t.Source)
		if err != nil {
			return err
		}
		t.SourceRows = n
		if err := dst.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.Target)).Scan(&t.TargetRows); err != nil {
			return fmt.Errorf("count rows of target table %s: %w", t.Target, err)
		}
		if t.TargetRows > 0 && plan.Mode == ModeEmpty {
			plan.notEmpty = true
			plan.Problems = append(plan.Problems, fmt.Sprintf("%v: %s holds %d rows; give --truncate to replace them or --append to add the rows above its max(id)", ErrNotEmpty, t.Target, t.TargetRows))
		}
		if plan.Mode == ModeAppend && !hasID(*t) {
			plan.Problems = append(plan.Problems, fmt.Sprintf("--append needs an id column on both sides; %s has none", t.Target))
		}
		if t.Sequence != nil && t.Sequence.Source != "" {
			last, ok, err := src.SequenceLast(ctx, t.Sequence.Source)
			if err != nil {
				return err
			}
			if ok {
				t.Sequence.SourceLast = last
			}
		}
	}
	return nil
}

func hasID(t TablePlan) bool {
	for _, c := range t.Columns {
		if c.Target == "id" && c.Source != "" {
			return true
		}
	}
	return false
}

// queueWorkers counts agentd processes listening for queue work on the target.
func queueWorkers(ctx context.Context, dst *pgx.Conn) int {
	var n int
	_ = dst.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE '%/listen'`).Scan(&n)
	return n
}

// checkValues runs, before anything is written, the checks of every table over its rows as
// from names them (the staged table, or the source table itself): a value that does not fit
// a narrowed column, and a cast or computed column that fails on some row. The first
// failure names the table, the column and the value (or PostgreSQL's message, which quotes
// it).
func checkValues(ctx context.Context, q Querier, plan *Plan, from func(TablePlan) string) error {
	for _, t := range plan.Tables {
		for _, c := range t.Columns {
			if c.check != "" {
				var bad *string
				err := q.QueryRow(ctx, fmt.Sprintf(`SELECT (%s)::text FROM %s WHERE %s LIMIT 1`, c.valueExpr(), from(t), c.check)).Scan(&bad)
				if err == nil {
					return valueError(t, c, bad)
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("%w: %s.%s (%s): %v; nothing was written", ErrValue, t.Target, c.Target, describe(c), err)
				}
			}
			if c.Kind == KindComputed || c.TypeChange == TypeCast {
				var n int64
				if err := q.QueryRow(ctx, fmt.Sprintf(`SELECT count(%s) FROM %s`, c.sourceExpr(), from(t))).Scan(&n); err != nil {
					return fmt.Errorf("%w: %s.%s (%s, as %s): %v; nothing was written", ErrValue, t.Target, c.Target, describe(c), c.ToType, pgMessage(err))
				}
			}
		}
	}
	return nil
}

// pgMessage is a server error's message without pgx's decoration.
func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func describe(c ColumnPlan) string {
	if c.Kind == KindComputed {
		return "computed by " + c.Expr
	}
	return "from " + c.Source
}

// restartSequence moves the target's id sequence past both the source sequence's last value
// and the largest id now in the table. ALTER SEQUENCE … RESTART is transactional; setval is not.
func restartSequence(ctx context.Context, tx pgx.Tx, t TablePlan) (int64, error) {
	var maxID int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM `+quoteIdent(t.Target)).Scan(&maxID); err != nil {
		return 0, fmt.Errorf("max(id) of %s: %w", t.Target, err)
	}
	next := max(maxID, t.Sequence.SourceLast) + 1
	if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER SEQUENCE %s RESTART WITH %d`, t.Sequence.Target, next)); err != nil {
		return 0, fmt.Errorf("move sequence %s of %s: %w", t.Sequence.Target, t.Target, err)
	}
	return next, nil
}

// recordHistory adds the transfer's row to the target's history table.
func recordHistory(ctx context.Context, tx pgx.Tx, res *Result) error {
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+HistoryTable+` (
		id bigserial PRIMARY KEY,
		at timestamptz NOT NULL DEFAULT now(),
		source text NOT NULL,
		mode text NOT NULL,
		tables jsonb NOT NULL)`); err != nil {
		return fmt.Errorf("create %s: %w", HistoryTable, err)
	}
	counts := map[string]int64{}
	for _, t := range res.Tables {
		counts[t.Target] = t.Rows
	}
	js, _ := json.Marshal(counts) // keys sorted
	if _, err := tx.Exec(ctx, `INSERT INTO `+HistoryTable+` (source, mode, tables) VALUES ($1, $2, $3)`,
		res.Source, string(res.Plan.Mode), string(js)); err != nil {
		return fmt.Errorf("record the transfer in %s: %w", HistoryTable, err)
	}
	return nil
}

func valueError(t TablePlan, c ColumnPlan, bad *string) error {
	v := "NULL"
	if bad != nil {
		v = *bad
	}
	return fmt.Errorf("%w: %s.%s is %s, and source value %s does not fit; nothing was written", ErrValue, t.Target, c.Target, c.ToType, v)
}
