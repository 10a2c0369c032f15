package queue

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/filenames"
)

// IngestItem is a file to add to the ingest queue.
type IngestItem struct {
	Filename string // the file's name, as stored (with .bz2 when compressed)
	Path     string // its directory, relative to the storage root ("" at the root)
	Force    bool   // ingest even when unchanged
	ForceMD5 bool   // compare md5 even when the modification time is unchanged
	After    time.Time
}

// CalcacheItem is an observation to add to the calcache queue.
type CalcacheItem struct {
	ObsHID   int64  // header.id of the observation
	Filename string // its file name, for humans and the sortkey
}

// PreviewItem is a FITS diskfile whose preview is to be made.
type PreviewItem struct {
	DiskfileID int64  // diskfile.id
	Filename   string // its file name, for humans and the sortkey
	Force      bool   // make it even when the preview exists
}

// NewItem is an item to add to a queue: an IngestItem, a CalcacheItem or a PreviewItem.
type NewItem interface {
	IngestItem | CalcacheItem | PreviewItem
}

// smallBatch is the most items InsertTx adds with one INSERT … VALUES; more go by COPY.
const smallBatch = 64

// MaxQueueInsert is the most items one QueueInsert takes.
const MaxQueueInsert = smallBatch

// Inserter adds new items to a queue, batch by batch, each in its caller's transaction (the
// producer's own writes commit with them, or none do). A batch is idempotent on the queue's
// pending key: an item whose key is pending already is skipped and not counted as added.
// Each batch that adds a row announces it (one NOTIFY), unless Quiet. An Inserter may be
// shared by goroutines, each with its own transaction; its zero value is ready.
//
// Large batches go by COPY in text format, encoded here: straight into the queue table
// while no pending key has been met (the fast path of a rebuild's empty queue), under a
// savepoint; when one is met, the savepoint is rolled back and the Inserter takes, for
// good, the careful path: COPY into a temporary table, then one INSERT … ON CONFLICT DO
// NOTHING. Small batches are one INSERT … ON CONFLICT DO NOTHING.
type Inserter[T NewItem] struct {
	// Quiet sends no NOTIFY: the queue's agents find the rows at their next poll. For a
	// producer that adds an item or two in each of many small transactions (ingest adding
	// calcache work), whose NOTIFYs would serialize their commits on the server's notify lock.
	Quiet   bool
	careful atomic.Bool
}

// Analyze refreshes the planner's statistics of the queue of spec. A producer that fills a
// queue in bulk calls it after its first batch and at its end: until then the statistics
// are those of the table when it was empty (or, on a database just created, none), and the
// planner, which then takes every pending row for a candidate, reads them all and sorts
// them for each claim instead of reading the order index from its end: 41–43 ms for a
// claim of 64 from a queue of 20,000 against 2 ms once analyzed, more for a bigger queue,
// for every claim of a fleet until autovacuum comes by (TestAnalyzeMakesClaimsReadTheOrderIndex).
// Only the table's owner (or a superuser) analyzes it; for another role the server skips it
// with a warning, which is no error here.
func Analyze(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, spec Spec) error {
	if _, err := db.Exec(ctx, `ANALYZE `+spec.table()); err != nil {
		return fmt.Errorf("analyze %s: %w", spec.Table, err)
	}
	return nil
}

// InsertTx adds items in tx and returns how many rows are new.
func (in *Inserter[T]) InsertTx(ctx context.Context, tx pgx.Tx, items []T) (int64, error) {
	if len(items) == 0 {
		return 0, nil
	}
	b := encode(items)
	var added int64
	var err error
	switch {
	case len(items) <= smallBatch:
		added, err = b.insertValues(ctx, tx)
	case !in.careful.Load():
		var direct bool
		added, direct, err = b.copyDirect(ctx, tx)
		if err == nil && !direct {
			in.careful.Store(true)
			added, err = b.copyCareful(ctx, tx)
		}
	default:
		added, err = b.copyCareful(ctx, tx)
	}
	if err != nil {
		return 0, fmt.Errorf("add %d items to the %s queue: %w", len(items), b.spec.Name, err)
	}
	if added > 0 && !in.Quiet {
		if err := Notify(ctx, tx, b.spec); err != nil {
			return 0, err
		}
	}
	return added, nil
}

// batch is a batch of new items, as rows of the queue's columns.
type batch struct {
	spec    Spec
	columns []string
	types   []string // the columns' SQL types
	staging string   // the columns of the careful path's temporary table, with their types
	rows    int
	args    func() []any  // the values, row by row (small batches)
	copy    func() []byte // COPY text (large batches)
}

func encode[T NewItem](items []T) batch {
	switch v := any(items).(type) {
	case []IngestItem:
		return encodeIngest(v)
	case []CalcacheItem:
		return encodeCalcache(v)
	case []PreviewItem:
		return encodePreview(v)
	}
	panic("unreachable: NewItem is IngestItem, CalcacheItem or PreviewItem")
}

// encodeIngest writes the columns every row needs, plus force, force_md5 and after only
// when an item of the batch sets them (the table's defaults otherwise): less to encode, send
// and parse per row.
func encodeIngest(items []IngestItem) batch {
	b := batch{spec: Ingest(), columns: []string{"filename", "path", "sortkey"}, types: []string{"text", "text", "text"},
		staging: "filename text, path text, sortkey text, force boolean, force_md5 boolean, after timestamp", rows: len(items)}
	var force, forceMD5, after bool
	for _, it := range items {
		force, forceMD5, after = force || it.Force, forceMD5 || it.ForceMD5, after || !it.After.IsZero()
	}
	if force {
		b.columns, b.types = append(b.columns, "force"), append(b.types, "boolean")
	}
	if forceMD5 {
		b.columns, b.types = append(b.columns, "force_md5"), append(b.types, "boolean")
	}
	if after {
		b.columns, b.types = append(b.columns, "after"), append(b.types, "timestamp")
	}
	b.args = func() []any {
		args := make([]any, 0, len(items)*len(b.columns))
		for _, it := range items {
			args = append(args, it.Filename, it.Path, filenames.SortKey(it.Filename))
			if force {
				args = append(args, it.Force)
			}
			if forceMD5 {
				args = append(args, it.ForceMD5)
			}
			if after {
				args = append(args, naiveUTC(it.After))
			}
		}
		return args
	}
	b.copy = func() []byte {
		buf := make([]byte, 0, len(items)*80)
		for _, it := range items {
			buf = appendCopyField(buf, it.Filename)
			buf = append(buf, '\t')
			buf = appendCopyField(buf, it.Path)
			buf = append(buf, '\t')
			buf = appendCopyField(buf, filenames.SortKey(it.Filename))
			if force {
				buf = appendCopyBool(buf, it.Force)
			}
			if forceMD5 {
				buf = appendCopyBool(buf, it.ForceMD5)
			}
			if after {
				buf = append(buf, '\t')
				if it.After.IsZero() {
					buf = append(buf, `\N`...)
				} else {
					buf = it.After.UTC().AppendFormat(buf, "2006-01-02 15:04:05.999999") // naive UTC, as the queue keeps it
				}
			}
			buf = append(buf, '\n')
		}
		return buf
	}
	return b
}

func encodeCalcache(items []CalcacheItem) batch {
	b := batch{spec: Calcache(), columns: []string{"obs_hid", "filename", "sortkey"}, types: []string{"integer", "text", "text"},
		staging: "obs_hid integer, filename text, sortkey text", rows: len(items)}
	b.args = func() []any {
		args := make([]any, 0, len(items)*3)
		for _, it := range items {
			args = append(args, it.ObsHID, it.Filename, filenames.SortKey(it.Filename))
		}
		return args
	}
	b.copy = func() []byte { return copyText(b.args(), len(b.columns)) }
	return b
}

func encodePreview(items []PreviewItem) batch {
	b := batch{spec: Preview(), columns: []string{"diskfile_id", "filename", "sortkey", "force"},
		types: []string{"integer", "text", "text", "boolean"}, staging: "diskfile_id integer, filename text, sortkey text, force boolean",
		rows: len(items)}
	b.args = func() []any {
		args := make([]any, 0, len(items)*4)
		for _, it := range items {
			args = append(args, it.DiskfileID, it.Filename, filenames.SortKey(it.Filename), it.Force)
		}
		return args
	}
	b.copy = func() []byte { return copyText(b.args(), len(b.columns)) }
	return b
}

// copyText writes values, ncols to a row, in COPY's text format. The ingest queue's
// batches, which a rebuild sends by the million, are written by hand instead (no boxing).
func copyText(values []any, ncols int) []byte {
	buf := make([]byte, 0, len(values)*20)
	for i, v := range values {
		if i%ncols > 0 {
			buf = append(buf, '\t')
		}
		switch v := v.(type) {
		case nil:
			buf = append(buf, `\N`...)
		case string:
			buf = appendCopyField(buf, v)
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case bool:
			if v {
				buf = append(buf, 't')
			} else {
				buf = append(buf, 'f')
			}
		default:
			panic(fmt.Sprintf("queue: no COPY text for %T", v)) // the encoders give only these
		}
		if i%ncols == ncols-1 {
			buf = append(buf, '\n')
		}
	}
	return buf
}

// naiveUTC is a time as the queue's timestamp columns keep it (nil for the zero time: the
// column's default).
func naiveUTC(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05.999999")
}

// QueueInsert adds to b the statement that InsertTx would run for at most 64 items (one
// INSERT … VALUES … ON CONFLICT DO NOTHING, then a NOTIFY unless Quiet when a row is new),
// for a caller that sends several statements in one round trip. *added is set when b's
// results are read.
func (in *Inserter[T]) QueueInsert(b *pgx.Batch, items []T, added *int64) error {
	if len(items) == 0 {
		*added = 0
		return nil
	}
	if len(items) > smallBatch {
		return fmt.Errorf("add %d items to a queue in a batch of statements: at most %d", len(items), smallBatch)
	}
	e := encode(items)
	sql := `WITH ins AS (` + e.valuesSQL() + ` RETURNING 1) SELECT count(*) FROM ins`
	args := e.args()
	if !in.Quiet {
		args = append(args, e.spec.Channel())
		sql = `WITH ins AS (` + e.valuesSQL() + ` RETURNING 1), n AS (SELECT count(*) AS n FROM ins)
			SELECT n, CASE WHEN n > 0 THEN pg_notify($` + strconv.Itoa(len(args)) + `, '') END FROM n`
	}
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		if in.Quiet {
			return row.Scan(added)
		}
		var notified any
		return row.Scan(added, &notified)
	})
	return nil
}

// insertValues is one INSERT … VALUES … ON CONFLICT DO NOTHING.
func (b batch) insertValues(ctx context.Context, tx pgx.Tx) (int64, error) {
	tag, err := tx.Exec(ctx, b.valuesSQL(), b.args()...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// valuesSQL is the INSERT … VALUES … ON CONFLICT DO NOTHING of the batch's rows ($1…).
func (b batch) valuesSQL() string {
	var sql strings.Builder
	sql.WriteString("INSERT INTO " + b.spec.table() + " (" + strings.Join(b.columns, ", ") + ") VALUES ")
	n := 1
	for r := 0; r < b.rows; r++ {
		if r > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString("(")
		for c := range b.columns {
			if c > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("$" + strconv.Itoa(n) + "::" + b.types[c])
			n++
		}
		sql.WriteString(")")
	}
	sql.WriteString(" ON CONFLICT DO NOTHING")
	return sql.String()
}

// copyDirect COPYs the batch straight into the queue table under a savepoint. direct is
// false when a pending key was met: the savepoint is rolled back and nothing was added.
func (b batch) copyDirect(ctx context.Context, tx pgx.Tx) (added int64, direct bool, err error) {
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return 0, false, err
	}
	tag, err := sp.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b.copy()),
		`COPY `+b.spec.table()+` (`+strings.Join(b.columns, ", ")+`) FROM STDIN`)
	if isUniqueViolation(err) {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return 0, false, rerr
		}
		return 0, false, nil
	}
	if err != nil {
		_ = sp.Rollback(ctx)
		return 0, false, err
	}
	if err := sp.Commit(ctx); err != nil { // releases the savepoint
		return 0, false, err
	}
	return tag.RowsAffected(), true, nil
}

// copyCareful COPYs the batch into a temporary table, then inserts the rows whose pending
// key is not pending yet. The table lives as long as the session and is emptied after each
// batch; it has every column a batch of the queue may give.
func (b batch) copyCareful(ctx context.Context, tx pgx.Tx) (int64, error) {
	staging := pgx.Identifier{"agentd_new_" + b.spec.Table}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+staging+` (`+b.staging+`) ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("create the staging table: %w", err)
	}
	list := strings.Join(b.columns, ", ")
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b.copy()), `COPY `+staging+` (`+list+`) FROM STDIN`); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+b.spec.table()+` (`+list+`) SELECT `+list+` FROM `+staging+` ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `TRUNCATE `+staging); err != nil { // a second batch in this transaction starts empty
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// appendCopyField appends s escaped for COPY's text format: backslash, tab, newline and
// carriage return are the characters it gives a meaning to.
func appendCopyField(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

func appendCopyBool(buf []byte, v bool) []byte {
	if v {
		return append(buf, '\t', 't')
	}
	return append(buf, '\t', 'f')
}

// DropPendingTx deletes, in tx, the pending (not claimed, not failed) items of a queue
// whose single integer pending key (calcache's obs_hid, preview's diskfile_id) is one of
// keys: work a bulk job has just done. It returns how many it deleted.
func DropPendingTx(ctx context.Context, tx pgx.Tx, spec Spec, keys []int64) (int64, error) {
	if len(spec.PendingKey) != 1 {
		return 0, fmt.Errorf("drop pending %s items: its pending key is not one column", spec.Name)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+spec.table()+` WHERE `+ident(spec.PendingKey[0])+` = ANY($1)
		AND NOT inprogress AND fail_dt = `+notFailed, keys)
	if err != nil {
		return 0, fmt.Errorf("drop pending %s items: %w", spec.Name, err)
	}
	return tag.RowsAffected(), nil
}
