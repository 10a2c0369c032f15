package pgsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/pgdump"
)

// Dump is a pg_dump backup read as a source (package pgdump reads it). Its rows are staged
// in temporary tables of the target's session first — they vanish with the session, so a
// killed transfer leaves nothing — and the write transaction maps them with INSERT … SELECT.
type Dump struct {
	archive *pgdump.Archive
	log     *slog.Logger
}

// OpenDump opens the backup at path (a file or a directory) as a source; log hears of each
// staged table (nil: discard).
func OpenDump(ctx context.Context, path string, log *slog.Logger) (*Dump, error) {
	a, err := pgdump.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dump{archive: a, log: log}, nil
}

// Describe implements Source.
func (d *Dump) Describe() string { return d.archive.Describe() }

// Catalog implements Source: the dump's tables, each column's type text checked against the
// target (resolveDumpTypes).
func (d *Dump) Catalog(ctx context.Context, target *pgx.Conn) (Catalog, error) {
	cat := Catalog{}
	for name, t := range d.archive.Tables() {
		ct := &Table{Name: name, Sequence: t.Sequence}
		for _, c := range t.Columns {
			col := Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, Default: c.Default,
				Generated: c.Generated, Identity: c.Identity, TypeOID: 25}
			if c.Qualified {
				col.TypeOID = 16384 // not PostgreSQL's own: staged and written as text
			}
			ct.Columns = append(ct.Columns, col)
		}
		cat[name] = ct
	}
	if err := resolveDumpTypes(ctx, target, cat); err != nil {
		return nil, err
	}
	return cat, nil
}

// Count implements Source: a dump's rows are known once read.
func (d *Dump) Count(context.Context, string) (int64, error) { return -1, nil }

// SequenceLast implements Source. A plain dump's values are known once its data was read.
func (d *Dump) SequenceLast(_ context.Context, seq string) (int64, bool, error) {
	last, ok := d.archive.SequenceLast(seq)
	return last, ok, nil
}

// Close implements Source.
func (d *Dump) Close(context.Context) {}

// Stage implements Source: every table's rows into its temporary table on the target.
func (d *Dump) Stage(ctx context.Context, target *pgx.Conn, plan *Plan, report func(Event)) (Staged, error) {
	s := &stagedRows{target: target, rows: map[string]int64{}, took: map[string]time.Duration{}}
	// Temporary tables live in the session's own buffers: give them room first.
	if _, err := target.Exec(ctx, `SET temp_buffers = '1GB'`); err != nil {
		d.log.Warn("could not raise temp_buffers; staging will be slower", "err", err)
	}
	byName := map[string]TablePlan{}
	var want []pgdump.Want
	for _, t := range plan.Tables {
		if err := createStage(ctx, target, t); err != nil {
			s.Discard(context.WithoutCancel(ctx))
			return nil, err
		}
		s.created = append(s.created, t)
		byName[t.Source] = t
		w := pgdump.Want{Table: t.Source}
		for _, c := range t.srcCols {
			w.Columns = append(w.Columns, c.Name)
		}
		want = append(want, w)
	}
	err := d.archive.Data(ctx, want, func(table string, r io.Reader) error {
		t := byName[table]
		report(Event{Phase: PhaseStage, Table: t.Target, Total: -1, Start: true})
		start := time.Now()
		m := startMeter(func(rows int64) { report(Event{Phase: PhaseStage, Table: t.Target, Rows: rows, Total: -1}) })
		n, err := fillStage(ctx, target, t, lineCounter{r, &m.rows})
		m.end()
		s.took[t.Target] += time.Since(start)
		if err != nil {
			return err
		}
		s.rows[t.Target] = n
		report(Event{Phase: PhaseStage, Table: t.Target, Rows: n, Total: -1, Done: true})
		d.log.Info("staged", "table", t.Target, "from", t.Source, "rows", n)
		return nil
	})
	if err != nil {
		s.Discard(context.WithoutCancel(ctx))
		return nil, err
	}
	// A plain dump sets its sequences among its data: known only now.
	for i := range plan.Tables {
		if sp := plan.Tables[i].Sequence; sp != nil && sp.Source != "" {
			if last, ok := d.archive.SequenceLast(sp.Source); ok {
				sp.SourceLast = last
			}
		}
	}
	return s, nil
}

// stagedRows are a dump's rows in temporary tables of the target's session.
type stagedRows struct {
	target  *pgx.Conn
	created []TablePlan
	rows    map[string]int64
	took    map[string]time.Duration
}

// Check implements Staged over the staged tables, inside the write transaction.
func (s *stagedRows) Check(ctx context.Context, tx pgx.Tx, plan *Plan) error {
	return checkValues(ctx, tx, plan, func(t TablePlan) string { return "pg_temp." + stageName(t) })
}

func (s *stagedRows) Rows(t TablePlan) int64         { return s.rows[t.Target] }
func (s *stagedRows) Took(t TablePlan) time.Duration { return s.took[t.Target] }

// Write implements Staged: INSERT … SELECT from the staged table, mapping every column.
func (s *stagedRows) Write(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode, _ *atomic.Int64) (int64, error) {
	return load(ctx, tx, t, mode)
}

// Discard implements Staged: drops the temporary tables (a killed transfer's vanish with
// its session).
func (s *stagedRows) Discard(ctx context.Context) {
	for _, t := range s.created {
		_, _ = s.target.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.`+stageName(t))
	}
}

func stageName(t TablePlan) string { return quoteIdent("pgsync_" + t.Target) }

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

// fillStage copies rows in COPY text format from r into t's staging table.
func fillStage(ctx context.Context, dst *pgx.Conn, t TablePlan, r io.Reader) (int64, error) {
	names := make([]string, len(t.srcCols))
	for i, c := range t.srcCols {
		names[i] = quoteIdent(c.Name)
	}
	sql := fmt.Sprintf(`COPY %s (%s) FROM STDIN (FORMAT text)`, stageName(t), strings.Join(names, ", "))
	tag, err := dst.PgConn().CopyFrom(ctx, r, sql)
	if err != nil {
		return 0, fmt.Errorf("stage %s into the target: %w", t.Source, err)
	}
	return tag.RowsAffected(), nil
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
