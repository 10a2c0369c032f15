package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Stats is the state of one queue for humans and scripts.
type Stats struct {
	Queue      string    `json:"queue"`
	Pending    int64     `json:"pending"`     // ready to be claimed
	Deferred   int64     `json:"deferred"`    // pending, not before their after time
	InProgress int64     `json:"in_progress"` // claimed, lease alive (or set in progress without a lease)
	Expired    int64     `json:"expired"`     // claimed, lease expired: will be rescued
	Failed     int64     `json:"failed"`
	Running    []Running `json:"running"`  // in-progress items (at most 100)
	Failures   []Failure `json:"failures"` // newest failures (at most 20)
	// Stuck are the items claimed longer than the threshold given to Stuck, oldest first
	// (at most 1000); nil when not asked.
	Stuck []Running `json:"stuck,omitempty"`
}

// Running is one in-progress item. ClaimedAt and LeaseUntil are null for a row set in
// progress by software that does not lease (FitsStorage's own pop()).
type Running struct {
	Label      string     `json:"label"`
	Holder     string     `json:"holder"`
	ClaimedAt  *time.Time `json:"claimed_at"`
	LeaseUntil *time.Time `json:"lease_until"`
	Attempts   int        `json:"attempts"`
	AgeSeconds float64    `json:"age_seconds"` // since the claim (0 when unknown)
}

// Failure is one failed item.
type Failure struct {
	Label  string    `json:"label"`
	FailDT time.Time `json:"failed_at"`
	Error  string    `json:"error"`
}

// Stats reads the queue's counts, its running items and its newest failures.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	return StatsOf(ctx, q.db, q.spec)
}

// StatsOf reads the state of the queue described by spec.
func StatsOf(ctx context.Context, db *pgxpool.Pool, spec Spec) (Stats, error) {
	t := spec.table()
	label := "coalesce(" + ident(spec.Label) + "::text, '')"
	st := Stats{Queue: spec.Name, Running: []Running{}, Failures: []Failure{}}
	err := db.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE NOT inprogress AND fail_dt = `+notFailed+` AND (after IS NULL OR after <= `+nowUTC+`)),
		count(*) FILTER (WHERE NOT inprogress AND fail_dt = `+notFailed+` AND after > `+nowUTC+`),
		count(*) FILTER (WHERE inprogress AND (lease_until IS NULL OR lease_until >= now())),
		count(*) FILTER (WHERE inprogress AND lease_until < now()),
		count(*) FILTER (WHERE fail_dt <> `+notFailed+`)
		FROM `+t).Scan(&st.Pending, &st.Deferred, &st.InProgress, &st.Expired, &st.Failed)
	if err != nil {
		return st, fmt.Errorf("count %s: %w", spec.Table, err)
	}
	rows, err := db.Query(ctx, `SELECT `+runningColumns(spec)+` FROM `+t+` r WHERE inprogress ORDER BY claimed_at LIMIT 100`)
	if err != nil {
		return st, fmt.Errorf("list running %s: %w", spec.Table, err)
	}
	st.Running, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Running])
	if err != nil {
		return st, fmt.Errorf("list running %s: %w", spec.Table, err)
	}
	rows, err = db.Query(ctx, `SELECT `+label+`, fail_dt, coalesce(error, '')
		FROM `+t+` WHERE fail_dt <> `+notFailed+` ORDER BY fail_dt DESC LIMIT 20`)
	if err != nil {
		return st, fmt.Errorf("list failed %s: %w", spec.Table, err)
	}
	st.Failures, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Failure])
	if err != nil {
		return st, fmt.Errorf("list failed %s: %w", spec.Table, err)
	}
	return st, nil
}

// runningColumns selects, from the row aliased r, the columns of Running in order.
func runningColumns(spec Spec) string {
	return `coalesce(r.` + ident(spec.Label) + `::text, ''), coalesce(r.holder, ''), r.claimed_at, r.lease_until, r.attempts,
		coalesce(extract(epoch FROM now() - r.claimed_at)::float8, 0)`
}

// Stuck lists the items of the queue claimed longer ago than olderThan, oldest first (at
// most 1000), with their holder and age: what an operator looks at before releasing a
// holder's items. Rows in progress with no claim time (set by software that does not lease)
// are listed too.
func Stuck(ctx context.Context, db *pgxpool.Pool, spec Spec, olderThan time.Duration) ([]Running, error) {
	t := spec.table()
	rows, err := db.Query(ctx, `SELECT `+runningColumns(spec)+` FROM `+t+` r WHERE inprogress AND (claimed_at IS NULL OR claimed_at < now() - $1 * interval '1 millisecond')
		ORDER BY claimed_at NULLS FIRST LIMIT 1000`, olderThan.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("list stuck %s items: %w", spec.Table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Running])
	if err != nil {
		return nil, fmt.Errorf("list stuck %s items: %w", spec.Table, err)
	}
	return out, nil
}

// Pending counts the items waiting to be claimed (deferred ones included).
func Pending(ctx context.Context, db *pgxpool.Pool, spec Spec) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM `+spec.table()+` WHERE NOT inprogress AND fail_dt = `+notFailed+``).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending %s items: %w", spec.Table, err)
	}
	return n, nil
}

// PendingUpTo counts the items waiting to be claimed, reading at most limit of them: a
// count whose cost does not grow with the queue, for status lines many hosts refresh.
func PendingUpTo(ctx context.Context, db *pgxpool.Pool, spec Spec, limit int64) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+spec.table()+` WHERE NOT inprogress AND fail_dt = `+notFailed+` LIMIT $1) p`,
		limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending %s items: %w", spec.Table, err)
	}
	return n, nil
}

// Idle reports whether nothing is left to do: no pending item (whatever its after time) and
// no live lease. Expired leases count as work: rescue them first.
func (q *Queue) Idle(ctx context.Context) (bool, error) {
	var busy bool
	err := q.db.QueryRow(ctx, q.sql.idle).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("check %s for work: %w", q.spec.Table, err)
	}
	return !busy, nil
}

// Retry re-arms failed items whose label matches the shell pattern (* and ?; "" = all) and
// returns how many are pending again. Of several failed rows of one item the newest is
// re-armed and the others deleted; a failed row whose item is pending already is deleted.
func Retry(ctx context.Context, db *pgxpool.Pool, spec Spec, pattern string) (int64, error) {
	t := spec.table()
	like := globToLike(pattern)
	var pk, twin []string
	for _, c := range spec.PendingKey {
		pk = append(pk, ident(c))
		twin = append(twin, "p."+ident(c)+" = f."+ident(c))
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", spec.Name, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE retry_pick ON COMMIT DROP AS
		SELECT id, row_number() OVER (PARTITION BY `+strings.Join(pk, ", ")+` ORDER BY fail_dt DESC, id DESC) AS rn,
		       EXISTS (SELECT 1 FROM `+t+` p WHERE NOT p.inprogress AND p.fail_dt = `+notFailed+` AND `+strings.Join(twin, " AND ")+`) AS pending
		FROM `+t+` f WHERE fail_dt <> `+notFailed+` AND coalesce(`+ident(spec.Label)+`::text, '') LIKE $1`, like); err != nil {
		return 0, fmt.Errorf("retry %s: %w", spec.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+t+` USING retry_pick r
		WHERE `+t+`.id = r.id AND `+t+`.fail_dt <> `+notFailed+` AND (r.rn > 1 OR r.pending)`); err != nil {
		return 0, fmt.Errorf("retry %s: %w", spec.Name, err)
	}
	tag, err := tx.Exec(ctx, `UPDATE `+t+` SET fail_dt = `+notFailed+`, error = NULL, attempts = 0, after = NULL,
		claim_token = NULL, holder = NULL
		FROM retry_pick r WHERE `+t+`.id = r.id AND `+t+`.fail_dt <> `+notFailed+` AND r.rn = 1 AND NOT r.pending`)
	if err != nil {
		return 0, fmt.Errorf("retry %s: %w", spec.Name, err)
	}
	if tag.RowsAffected() > 0 {
		if err := Notify(ctx, tx, spec); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("retry %s: %w", spec.Name, err)
	}
	return tag.RowsAffected(), nil
}

// globToLike turns a shell pattern into a LIKE pattern.
func globToLike(glob string) string {
	if glob == "" {
		return "%"
	}
	var b strings.Builder
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
