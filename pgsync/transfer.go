package pgsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/connstr"
)

// ErrConnect is returned when the source or the target cannot be reached or read.
var ErrConnect = errors.New("cannot reach the database")

// HistoryTable is where the target records each transfer.
const HistoryTable = "agentd_transfer_history"

// Options are a transfer's settings.
type Options struct {
	Request
	DryRun bool
	Logger *slog.Logger
	// Progress, when set, hears of each table's phases ("staging", "staged", "writing",
	// "loaded") with the rows so far, every 200 ms while rows stream, and the rows the
	// source holds (-1 when not known: dumps).
	Progress func(table, phase string, rows, total int64)
	// Step, when set, is called at each named point of the transfer ("staged <table>",
	// "begin", "loaded <table>", "sequences", "commit"); tests stop the process there.
	Step func(point string)
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
// carries it out: stage every table's raw rows into temporary tables, then one transaction
// that checks values, writes the tables in foreign-key order, moves the sequences, verifies
// the counts and records a history row. On any error the target tables are as they were.
func Transfer(ctx context.Context, src Source, dst *pgx.Conn, opt Options) (*Result, error) {
	start := time.Now()
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	step := opt.Step
	if step == nil {
		step = func(string) {}
	}
	totals := map[string]int64{}
	progress := func(table, phase string, rows int64) {
		if opt.Progress != nil {
			opt.Progress(table, phase, rows, totals[table])
		}
	}
	res := &Result{Source: src.Describe(), DryRun: opt.DryRun}

	srcCat, err := src.Catalog(ctx)
	if err != nil {
		return res, err
	}
	if live, ok := src.(*Live); !ok {
		if err := resolveDumpTypes(ctx, dst, srcCat); err != nil {
			return res, err
		}
	} else if live.desc == connstr.Describe(&dst.Config().Config) {
		// The source's snapshot would block the target's TRUNCATE for ever.
		return res, &planError{msg: "the source and the target are the same database (" + live.desc + ")"}
	}
	dstCat, err := ReadCatalog(ctx, dst)
	if err != nil {
		return res, fmt.Errorf("target: %w", err)
	}
	plan, err := BuildPlan(opt.Request, srcCat, dstCat)
	if err != nil {
		return res, err
	}
	res.Plan = plan
	if err := fillCounts(ctx, src, dst, plan); err != nil {
		return res, err
	}
	for _, t := range plan.Tables {
		totals[t.Target] = t.SourceRows
	}
	if n := queueWorkers(ctx, dst); n > 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d agentd queue listener(s) are connected to the target; the transfer's transaction will hold back their vacuum while it runs", n))
	}
	if len(plan.Problems) > 0 {
		return res, &planError{msg: strings.Join(plan.Problems, "; "), notEmpty: plan.notEmpty}
	}
	if opt.DryRun {
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	// A live source computes the mapped columns itself and streams them straight into the
	// target tables inside the one transaction: one pass, nothing staged. Other sources
	// stage their raw rows in temporary tables first (they vanish with the session, so a
	// killed transfer leaves nothing) and the transaction maps them with INSERT … SELECT.
	live, direct := src.(*Live)
	expected := map[string]int64{}
	stageTime := map[string]time.Duration{}
	write := func(ctx context.Context, tx pgx.Tx, t TablePlan) (int64, error) { return load(ctx, tx, t, plan.Mode) }
	if direct {
		if err := checkValues(ctx, live.tx, plan, func(t TablePlan) string { return quoteIdent(t.Source) }); err != nil {
			return res, err
		}
		for _, t := range plan.Tables {
			expected[t.Target] = t.SourceRows // counted in the same snapshot
		}
		write = func(ctx context.Context, tx pgx.Tx, t TablePlan) (int64, error) {
			m := startMeter(progress, t.Target, "writing")
			defer m.end()
			return live.copyMapped(ctx, tx, t, plan.Mode, m)
		}
	} else {
		// Temporary tables live in the session's own buffers: give them room first.
		if _, err := dst.Exec(ctx, `SET temp_buffers = '1GB'`); err != nil {
			log.Warn("could not raise temp_buffers; staging will be slower", "err", err)
		}
		if err := stageAll(ctx, src, dst, plan, expected, stageTime, progress, step, log); err != nil {
			return res, err
		}
		// A plain dump sets its sequences among its data: known only now.
		for i := range plan.Tables {
			if sp := plan.Tables[i].Sequence; sp != nil && sp.Source != "" {
				if last, ok, err := src.SequenceLast(ctx, sp.Source); err == nil && ok {
					sp.SourceLast = last
				}
			}
		}
		defer func() {
			for _, t := range plan.Tables {
				_, _ = dst.Exec(context.Background(), `DROP TABLE IF EXISTS pg_temp.`+stageName(t))
			}
		}()
	}

	tx, err := dst.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("%w: begin on the target: %v", ErrConnect, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	step("begin")
	if !direct {
		if err := checkValues(ctx, tx, plan, func(t TablePlan) string { return "pg_temp." + stageName(t) }); err != nil {
			return res, err
		}
	}
	if plan.Mode == ModeTruncate {
		names := make([]string, len(plan.Tables))
		for i, t := range plan.Tables {
			names[i] = quoteIdent(t.Target)
		}
		if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(names, ", ")); err != nil {
			return res, fmt.Errorf("truncate the target tables: %w; a table outside this transfer points to them: add it with --tables, or empty it first; nothing was changed", err)
		}
	}
	for _, t := range plan.Tables {
		tstart := time.Now()
		// A big load into an empty table: building its plain indexes once afterwards is
		// far cheaper than maintaining them row by row.
		var rebuild []string
		if plan.Mode != ModeAppend && (t.TargetRows == 0 || plan.Mode == ModeTruncate) && expectedRows(t, expected) >= RebuildIndexesAbove {
			if rebuild, err = dropPlainIndexes(ctx, tx, t.Target); err != nil {
				return res, err
			}
		}
		progress(t.Target, "writing", 0)
		n, err := write(ctx, tx, t)
		if err != nil {
			return res, err
		}
		if len(rebuild) > 0 {
			progress(t.Target, "indexing", n)
			for _, def := range rebuild {
				if _, err := tx.Exec(ctx, def); err != nil {
					return res, fmt.Errorf("rebuild an index of %s (%s): %w; nothing was changed", t.Target, def, err)
				}
			}
			step("indexed " + t.Target)
		}
		want := expected[t.Target]
		if plan.Mode == ModeAppend {
			want = n // verified below against the target's count
		}
		var total int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.Target)).Scan(&total); err != nil {
			return res, fmt.Errorf("count %s: %w", t.Target, err)
		}
		before := t.TargetRows
		if plan.Mode == ModeTruncate {
			before = 0
		}
		if n != want || total != before+n {
			return res, fmt.Errorf("verify %s: %d rows read, %d written, %d in the table (had %d); nothing was changed", t.Target, expected[t.Target], n, total, before)
		}
		tr := TableResult{Target: t.Target, Source: t.Source, Rows: n, Seconds: (stageTime[t.Target] + time.Since(tstart)).Seconds()}
		if tr.Seconds > 0 {
			tr.RowsPerSec = float64(n) / tr.Seconds
		}
		res.Tables = append(res.Tables, tr)
		res.Rows += n
		progress(t.Target, "loaded", n)
		step("loaded " + t.Target)
	}
	step("sequences")
	for i, t := range plan.Tables {
		if t.Sequence == nil {
			continue
		}
		next, err := restartSequence(ctx, tx, t)
		if err != nil {
			return res, err
		}
		res.Tables[i].Sequence, res.Tables[i].RestartAt = t.Sequence.Target, next
	}
	if err := recordHistory(ctx, tx, res); err != nil {
		return res, err
	}
	step("commit")
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit the transfer: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
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

func expectedRows(t TablePlan, expected map[string]int64) int64 {
	if n, ok := expected[t.Target]; ok {
		return n
	}
	return t.SourceRows
}

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

func stageName(t TablePlan) string { return quoteIdent("pgsync_" + t.Target) }

// streamStager is a source read in one pass (a plain dump): it hands over each wanted
// table's rows in the order they come.
type streamStager interface {
	onePass() bool
	streamStage(ctx context.Context, tables map[string]TablePlan, stage func(TablePlan, io.Reader) error) error
}

// stageAll creates every staging table and fills them from the source; expected and
// stageTime get each table's rows and time.
func stageAll(ctx context.Context, src Source, dst *pgx.Conn, plan *Plan, expected map[string]int64,
	stageTime map[string]time.Duration, progress func(string, string, int64), step func(string), log *slog.Logger) error {
	for _, t := range plan.Tables {
		if err := createStage(ctx, dst, t); err != nil {
			return err
		}
	}
	fill := func(t TablePlan, r io.Reader) error {
		progress(t.Target, "staging", 0)
		start := time.Now()
		m := startMeter(progress, t.Target, "staging")
		if src.Format(t.Source) == "text" {
			r = lineCounter{r, m}
		}
		n, err := fillStage(ctx, dst, t, r, src.Format(t.Source))
		m.end()
		stageTime[t.Target] += time.Since(start)
		if err != nil {
			return err
		}
		expected[t.Target] = n
		progress(t.Target, "staged", n)
		log.Info("staged", "table", t.Target, "from", t.Source, "rows", n)
		step("staged " + t.Target)
		return nil
	}
	if ss, ok := src.(streamStager); ok && ss.onePass() {
		byName := map[string]TablePlan{}
		for _, t := range plan.Tables {
			byName[t.Source] = t
		}
		return ss.streamStage(ctx, byName, fill)
	}
	for _, t := range plan.Tables {
		serr, err := pipe(true, func(w io.Writer) error { return src.CopyOut(ctx, t.Source, t.srcCols, w) },
			func(r io.Reader) error { return fill(t, r) })
		if serr != nil {
			return serr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// createStage creates the temporary table of t: each column as the type its dump type
// resolved to on the target (one of stagedTypes), or text.
func createStage(ctx context.Context, dst *pgx.Conn, t TablePlan) error {
	defs := make([]string, len(t.srcCols))
	for i, c := range t.srcCols {
		typ := "text"
		if stagedTypes[strings.TrimRight(c.Cast, "[]")] {
			typ = c.Cast
		}
		defs[i] = quoteIdent(c.Name) + " " + typ
	}
	name := stageName(t)
	if _, err := dst.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.`+name+`; CREATE TEMP TABLE `+name+` (`+strings.Join(defs, ", ")+`)`); err != nil {
		return fmt.Errorf("create the staging table of %s: %w", t.Target, err)
	}
	return nil
}

// fillStage copies rows in COPY format from r into t's staging table.
func fillStage(ctx context.Context, dst *pgx.Conn, t TablePlan, r io.Reader, format string) (int64, error) {
	names := make([]string, len(t.srcCols))
	for i, c := range t.srcCols {
		names[i] = quoteIdent(c.Name)
	}
	sql := fmt.Sprintf(`COPY %s (%s) FROM STDIN (FORMAT %s)`, stageName(t), strings.Join(names, ", "), format)
	tag, err := dst.PgConn().CopyFrom(ctx, r, sql)
	if err != nil {
		return 0, fmt.Errorf("stage %s into the target: %w", t.Source, err)
	}
	return tag.RowsAffected(), nil
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

// load writes one table from its staging table and returns the rows written.
func load(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode) (int64, error) {
	var cols, exprs []string
	var idExpr string
	for _, c := range t.Columns {
		e := c.sourceExpr()
		if e == "" {
			continue // default or NULL
		}
		cols = append(cols, quoteIdent(c.Target))
		exprs = append(exprs, e)
		if c.Target == "id" {
			idExpr = e
		}
	}
	overriding := ""
	if t.identity {
		overriding = " OVERRIDING SYSTEM VALUE"
	}
	where := ""
	if mode == ModeAppend {
		where = fmt.Sprintf(` WHERE %s > (SELECT coalesce(max(id), 0) FROM %s)`, idExpr, quoteIdent(t.Target))
	}
	sql := fmt.Sprintf(`INSERT INTO %s (%s)%s SELECT %s FROM pg_temp.%s%s`,
		quoteIdent(t.Target), strings.Join(cols, ", "), overriding, strings.Join(exprs, ", "), stageName(t), where)
	tag, err := tx.Exec(ctx, sql)
	if err != nil {
		return 0, fmt.Errorf("write %s from %s: %w; nothing was changed", t.Target, t.Source, err)
	}
	return tag.RowsAffected(), nil
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
