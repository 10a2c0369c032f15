package pgsync

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/connstr"
)

// Source is the old database: its catalog and its rows, all from one consistent state.
type Source interface {
	// Describe names the source for messages and the history row (no password).
	Describe() string
	Catalog(ctx context.Context) (Catalog, error)
	// Count returns the rows of a table, or -1 when they are not known before reading.
	Count(ctx context.Context, table string) (int64, error)
	// SequenceLast returns the last value a sequence handed out (ok false when unknown).
	SequenceLast(ctx context.Context, seq string) (last int64, ok bool, err error)
	// CopyOut writes the rows of table (those columns, in that order) to w in COPY format
	// and says which ("binary" or "text").
	CopyOut(ctx context.Context, table string, cols []Column, w io.Writer) error
	// Format is the COPY format CopyOut writes for table.
	Format(table string) string
	Close(ctx context.Context)
}

// Live is a source database read in one REPEATABLE READ, READ ONLY transaction: every table
// comes from the same snapshot, so no child row arrives without its parent.
type Live struct {
	conn *pgx.Conn
	tx   pgx.Tx
	desc string
}

// OpenLive connects to the source and opens its snapshot.
func OpenLive(ctx context.Context, connString string) (*Live, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, connstr.ParseError("source", err)
	}
	cfg.RuntimeParams["application_name"] = "agentctl transfer (source)"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to source database %q: %v", ErrConnect, cfg.Database, err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("%w: open a snapshot of the source: %v", ErrConnect, err)
	}
	return &Live{conn: conn, tx: tx, desc: connstr.Describe(&cfg.Config)}, nil
}

// Describe implements Source.
func (l *Live) Describe() string { return l.desc }

// Catalog implements Source.
func (l *Live) Catalog(ctx context.Context) (Catalog, error) { return ReadCatalog(ctx, l.tx) }

// Count implements Source.
func (l *Live) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := l.tx.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(table)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rows of source table %s: %w", table, err)
	}
	return n, nil
}

// SequenceLast implements Source.
func (l *Live) SequenceLast(ctx context.Context, seq string) (int64, bool, error) {
	last, err := SequenceLast(ctx, l.tx, seq)
	return last, err == nil, err
}

// Format implements Source.
func (l *Live) Format(string) string { return "binary" }

// CopyOut implements Source.
func (l *Live) CopyOut(ctx context.Context, table string, cols []Column, w io.Writer) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.Name)
		if !builtin(c) {
			names[i] += "::text" // staged as text: the target may not know the type
		}
	}
	sql := fmt.Sprintf(`COPY (SELECT %s FROM %s) TO STDOUT (FORMAT binary)`, strings.Join(names, ", "), quoteIdent(table))
	if _, err := l.tx.Conn().PgConn().CopyTo(ctx, w, sql); err != nil {
		return fmt.Errorf("read source table %s: %w", table, err)
	}
	return nil
}

// Close implements Source.
func (l *Live) Close(ctx context.Context) {
	_ = l.tx.Rollback(ctx)
	_ = l.conn.Close(ctx)
}

// builtin reports whether the column's type is one of PostgreSQL's own (an OID below
// FirstNormalObjectId), which exists on the target under the same name and binary format.
func builtin(c Column) bool { return c.TypeOID < 16384 }

// stageType is the type a staged column gets.
func stageType(c Column) string {
	if builtin(c) {
		return c.Type
	}
	return "text"
}

// copyMapped streams table t from the snapshot into the target table within tx: the source
// computes each target column (renames, casts, expressions over the old row), and the rows
// go as one COPY, binary when every target type is PostgreSQL's own.
func (l *Live) copyMapped(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode, m *rowMeter) (int64, error) {
	format := "binary"
	for _, c := range t.Columns {
		if c.sourceExpr() != "" && !c.toBuiltin {
			format = "text" // the target's own type: its text input parses the value
		}
	}
	var cols, exprs []string
	idExpr := ""
	for _, c := range t.Columns {
		e := c.sourceExpr()
		if e == "" {
			continue // default or NULL
		}
		if format == "text" {
			e = c.valueExpr()
		}
		cols = append(cols, quoteIdent(c.Target))
		exprs = append(exprs, e)
		if c.Target == "id" {
			idExpr = c.valueExpr()
		}
	}
	where := ""
	if mode == ModeAppend {
		var maxID int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM `+quoteIdent(t.Target)).Scan(&maxID); err != nil {
			return 0, fmt.Errorf("max(id) of %s: %w", t.Target, err)
		}
		where = fmt.Sprintf(" WHERE %s > %d", idExpr, maxID)
	}
	out := fmt.Sprintf(`COPY (SELECT %s FROM %s%s) TO STDOUT (FORMAT %s)`, strings.Join(exprs, ", "), quoteIdent(t.Source), where, format)
	in := fmt.Sprintf(`COPY %s (%s) FROM STDIN (FORMAT %s)`, quoteIdent(t.Target), strings.Join(cols, ", "), format)

	var n int64
	rerr, err := pipe(true, func(w io.Writer) error {
		_, err := l.tx.Conn().PgConn().CopyTo(ctx, messageCounter{w, m}, out)
		return err
	}, func(r io.Reader) error {
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, in)
		n = tag.RowsAffected()
		return err
	})
	if rerr != nil {
		return 0, fmt.Errorf("read %s from the source: %w; nothing was changed", t.Source, rerr)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s from %s: %w; nothing was changed", t.Target, t.Source, err)
	}
	return n, nil
}
