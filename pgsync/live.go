package pgsync

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/connstr"
)

// Live is a source database read in one REPEATABLE READ, READ ONLY transaction: every table
// comes from the same snapshot, so no child row arrives without its parent. Nothing is
// staged: the source computes each target column itself and its rows stream straight into
// the target table inside the write transaction, in one pass.
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
func (l *Live) Catalog(ctx context.Context, target *pgx.Conn) (Catalog, error) {
	if l.desc == connstr.Describe(&target.Config().Config) {
		return nil, &planError{msg: "the source and the target are the same database (" + l.desc + ")"}
	}
	return ReadCatalog(ctx, l.tx)
}

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

// Stage implements Source: a live source stages nothing, its rows were counted in the
// snapshot they will be read from.
func (l *Live) Stage(context.Context, *pgx.Conn, *Plan, func(Event)) (Staged, error) {
	return liveRows{l}, nil
}

// Close implements Source.
func (l *Live) Close(ctx context.Context) {
	_ = l.tx.Rollback(ctx)
	_ = l.conn.Close(ctx)
}

// liveRows is a live source in the write phase.
type liveRows struct{ l *Live }

// Check runs the value checks over the source's own tables, in the snapshot.
func (r liveRows) Check(ctx context.Context, _ pgx.Tx, plan *Plan) error {
	return checkValues(ctx, r.l.tx, plan, func(t TablePlan) string { return quoteIdent(t.Source) })
}

func (r liveRows) Rows(t TablePlan) int64       { return t.SourceRows } // counted in the same snapshot
func (r liveRows) Took(TablePlan) time.Duration { return 0 }
func (r liveRows) Discard(context.Context)      {}
func (r liveRows) Write(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode, rows *atomic.Int64) (int64, error) {
	return r.l.copyMapped(ctx, tx, t, mode, rows)
}

// copyMapped streams table t from the snapshot into the target table within tx: the source
// computes each target column (renames, casts, expressions over the old row), and the rows
// go as one COPY, binary when every target type is PostgreSQL's own.
func (l *Live) copyMapped(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode, rows *atomic.Int64) (int64, error) {
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
	err, fromSource := pipe(func(w io.Writer) error {
		_, err := l.tx.Conn().PgConn().CopyTo(ctx, messageCounter{w, rows}, out)
		return err
	}, func(r io.Reader) error {
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, in)
		n = tag.RowsAffected()
		return err
	})
	if err != nil && fromSource {
		return 0, fmt.Errorf("read %s from the source: %w; nothing was changed", t.Source, err)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s from %s: %w; nothing was changed", t.Target, t.Source, err)
	}
	return n, nil
}
