package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrLeaseLost is returned when a fenced operation finds its claim gone: the lease
	// expired and another agent rescued the item. The caller's transaction must roll back.
	ErrLeaseLost = errors.New("lease lost: the item was rescued by another agent")
	// ErrUnknownQueue is returned for a queue name that is not in Specs.
	ErrUnknownQueue = errors.New("unknown queue")
)

// DefaultMaxAttempts is how many holders may die on one item before it fails.
const DefaultMaxAttempts = 3

// Item is one claimed row.
type Item struct {
	Token    string // claim token (uuid text): names the row while it is claimed
	Label    string // e.g. the file name
	Holder   string
	Attempts int   // holders that died on this item before this claim
	Payload  []any // values of Spec.Payload, in order
	spec     *Spec // for Field lookups
}

// Field returns the payload value of column col (nil when absent).
func (it Item) Field(col string) any {
	if it.spec == nil {
		return nil
	}
	for i, c := range it.spec.Payload {
		if c == col {
			return it.Payload[i]
		}
	}
	return nil
}

// String returns a text payload column ("" when NULL).
func (it Item) String(col string) string { s, _ := it.Field(col).(string); return s }

// Bool returns a boolean payload column.
func (it Item) Bool(col string) bool { b, _ := it.Field(col).(bool); return b }

// Int returns an integer payload column.
func (it Item) Int(col string) int64 {
	switch v := it.Field(col).(type) {
	case int32:
		return int64(v)
	case int64:
		return v
	}
	return 0
}

// Options configures a Queue handle.
type Options struct {
	Owner       string        // uuid of this process run: the heartbeat renews its leases
	Lease       time.Duration // how long a claim lives without a heartbeat
	MaxAttempts int           // deaths before an item fails (default DefaultMaxAttempts)
}

// Queue is a handle on one queue table for one process.
type Queue struct {
	spec Spec
	db   *pgxpool.Pool
	opt  Options
	sql  statements
}

// statements are the spec's SQL, built once.
type statements struct {
	claim, complete, completeBatch, fail string
}

// New returns a handle on the queue described by spec.
func New(db *pgxpool.Pool, spec Spec, opt Options) *Queue {
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.Lease <= 0 {
		opt.Lease = time.Minute
	}
	q := &Queue{spec: spec, db: db, opt: opt}
	q.sql = build(spec)
	return q
}

// Spec returns the queue's description.
func (q *Queue) Spec() Spec { return q.spec }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func build(s Spec) statements {
	t := s.table()
	rk := s.RunKey // rk("c"): the run key of the row aliased c
	var payload []string
	for _, c := range s.Payload {
		payload = append(payload, "t."+ident(c))
	}
	var pkEq []string
	for _, c := range s.PendingKey {
		pkEq = append(pkEq, "f."+ident(c)+" = done."+ident(c))
	}
	var pkCols []string
	for _, c := range s.PendingKey {
		pkCols = append(pkCols, ident(c))
	}
	var ordCols, newest []string
	for _, c := range s.Order {
		ordCols = append(ordCols, ident(c))
		newest = append(newest, ident(c)+" DESC")
	}
	order := strings.Join(newest, ", ")
	return statements{
		// Newest first (the order index read backwards); at most one in-progress row per run
		// key, also within the batch. The rows are updated by the ctid their lock returned:
		// a locked row cannot move before this statement ends.
		claim: `WITH cand AS (
			SELECT ctid AS tid, ` + rk("c") + ` AS rk, ` + strings.Join(ordCols, ", ") + ` FROM ` + t + ` c
			WHERE NOT inprogress AND fail_dt IS NULL AND (after IS NULL OR after <= now())
			  AND NOT EXISTS (SELECT 1 FROM ` + t + ` r WHERE r.inprogress AND ` + rk("r") + ` = ` + rk("c") + `)
			ORDER BY ` + order + `
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		), one AS (
			SELECT tid, row_number() OVER (ORDER BY ` + order + `) AS n FROM (
				SELECT DISTINCT ON (rk) tid, ` + strings.Join(ordCols, ", ") + ` FROM cand ORDER BY rk, ` + order + `) d
		)
		UPDATE ` + t + ` t SET inprogress = true, claim_token = gen_random_uuid(), owner = $2::uuid,
			holder = ($3::text[])[one.n], lease_until = now() + $4 * interval '1 millisecond', claimed_at = now()
		FROM one WHERE t.ctid = one.tid
		RETURNING t.claim_token::text, coalesce(t.` + ident(s.Label) + `::text, ''), t.holder, t.attempts, ` + strings.Join(payload, ", "),
		// Fenced: only the holder of the token deletes; failed rows of the same item go too.
		complete: `WITH done AS (
			DELETE FROM ` + t + ` WHERE claim_token = $1::uuid AND inprogress RETURNING ` + strings.Join(pkCols, ", ") + `
		), cleared AS (
			DELETE FROM ` + t + ` f USING done WHERE f.fail_dt IS NOT NULL AND ` + strings.Join(pkEq, " AND ") + `
		)
		SELECT count(*) FROM done`,
		completeBatch: `WITH done AS (
			DELETE FROM ` + t + ` t USING unnest($1::uuid[]) AS c(token)
			WHERE t.claim_token = c.token AND t.inprogress RETURNING c.token::text AS token, ` + prefixed("t.", pkCols) + `
		), cleared AS (
			DELETE FROM ` + t + ` f USING done WHERE f.fail_dt IS NOT NULL AND ` + strings.Join(pkEq, " AND ") + `
		)
		SELECT token FROM done`,
		// A failed row keeps its claim token: it names the row for agentctl queue retry.
		fail: `UPDATE ` + t + ` SET inprogress = false, fail_dt = now(), error = $2, owner = NULL, lease_until = NULL
			WHERE claim_token = $1::uuid AND inprogress`,
	}
}

func prefixed(p string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + c
	}
	return strings.Join(out, ", ")
}

// Claim takes up to len(holders) items, newest first; item i is held by holders[i]. It
// returns fewer (or none) when fewer are ready.
func (q *Queue) Claim(ctx context.Context, holders []string) ([]Item, error) {
	for attempt := 0; ; attempt++ {
		items, err := q.claim(ctx, holders)
		// Two agents racing on twins of one file (X.fits and X.fits.bz2): the loser hits
		// the one-in-progress index. Claiming again sees the winner's row and skips it.
		if isUniqueViolation(err) && attempt < 5 {
			continue
		}
		return items, err
	}
}

func (q *Queue) claim(ctx context.Context, holders []string) ([]Item, error) {
	rows, err := q.db.Query(ctx, q.sql.claim, len(holders), q.opt.Owner, holders, q.opt.Lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", q.spec.Table, err)
	}
	defer rows.Close()
	var items []Item
	for rows.Next() {
		it := Item{spec: &q.spec, Payload: make([]any, len(q.spec.Payload))}
		dest := []any{&it.Token, &it.Label, &it.Holder, &it.Attempts}
		for i := range it.Payload {
			dest = append(dest, &it.Payload[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("claim from %s: %w", q.spec.Table, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim from %s: %w", q.spec.Table, err)
	}
	return items, nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Complete deletes the item in the caller's transaction, fenced by its claim token, together
// with failed rows of the same item. ErrLeaseLost means the caller must roll back.
func (q *Queue) Complete(ctx context.Context, tx pgx.Tx, it Item) error {
	var n int
	if err := tx.QueryRow(ctx, q.sql.complete, it.Token).Scan(&n); err != nil {
		return fmt.Errorf("complete %s item %s: %w", q.spec.Name, it.Label, err)
	}
	if n == 0 {
		return fmt.Errorf("complete %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
	}
	return nil
}

// CompleteBatch deletes items that need no other write, in one statement. It returns the
// items whose lease was lost (not deleted).
func (q *Queue) CompleteBatch(ctx context.Context, items []Item) (lost []Item, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	tokens := make([]string, len(items))
	for i, it := range items {
		tokens[i] = it.Token
	}
	rows, err := q.db.Query(ctx, q.sql.completeBatch, tokens)
	if err != nil {
		return nil, fmt.Errorf("complete %d %s items: %w", len(items), q.spec.Name, err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("complete %d %s items: %w", len(items), q.spec.Name, err)
	}
	gone := make(map[string]bool, len(done))
	for _, token := range done {
		gone[token] = true
	}
	for _, it := range items {
		if !gone[it.Token] {
			lost = append(lost, it)
		}
	}
	return lost, nil
}

// Fail records the item as failed with msg; it is not retried automatically.
func (q *Queue) Fail(ctx context.Context, it Item, msg string) error {
	tag, err := q.db.Exec(ctx, q.sql.fail, it.Token, msg)
	if err != nil {
		return fmt.Errorf("fail %s item %s: %w", q.spec.Name, it.Label, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("fail %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
	}
	return nil
}

// Defer puts the item back, not to be claimed before delay has passed (a file still being
// written). When a pending twin exists the item is deleted instead.
func (q *Queue) Defer(ctx context.Context, it Item, delay time.Duration) error {
	n, err := q.requeue(ctx, "claim_token = ANY($1::uuid[])", []string{it.Token}, false, delay)
	if err != nil {
		return fmt.Errorf("defer %s item %s: %w", q.spec.Name, it.Label, err)
	}
	if n == 0 {
		return fmt.Errorf("defer %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
	}
	return nil
}

// Release puts back the items with these claim tokens. crashed says the holder died (a
// restart releasing its journal): that counts an attempt, and past the limit the item fails.
// A clean shutdown releases with crashed false.
func (q *Queue) Release(ctx context.Context, tokens []string, crashed bool) (int, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	n, err := q.requeue(ctx, "claim_token = ANY($1::uuid[])", tokens, crashed, 0)
	if err != nil {
		return 0, fmt.Errorf("release %d %s items: %w", len(tokens), q.spec.Name, err)
	}
	return n, nil
}

// Rescue puts back the items whose lease expired (their holder died or stalled). Any agent
// may run it; concurrent rescuers skip each other's rows.
func (q *Queue) Rescue(ctx context.Context) (int, error) {
	n, err := q.requeue(ctx, "lease_until < now()", nil, true, 0)
	if err != nil {
		return 0, fmt.Errorf("rescue expired %s leases: %w", q.spec.Name, err)
	}
	return n, nil
}

// requeue re-pends the in-progress rows matching where (whose $1 is arg), in one
// transaction: rows with a pending twin are deleted, rows past the attempt limit fail.
func (q *Queue) requeue(ctx context.Context, where string, arg any, countAttempt bool, delay time.Duration) (int, error) {
	for attempt := 0; ; attempt++ {
		n, err := q.requeueOnce(ctx, where, arg, countAttempt, delay)
		if isUniqueViolation(err) && attempt < 5 { // a twin was enqueued meanwhile
			continue
		}
		return n, err
	}
}

func (q *Queue) requeueOnce(ctx context.Context, where string, arg any, countAttempt bool, delay time.Duration) (int, error) {
	t := q.spec.table()
	tx, err := q.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	args := []any{}
	if arg != nil {
		args = append(args, arg)
	}
	rows, err := tx.Query(ctx, `SELECT claim_token::text FROM `+t+` WHERE inprogress AND `+where+`
		ORDER BY claim_token LIMIT 10000 FOR UPDATE SKIP LOCKED`, args...)
	if err != nil {
		return 0, err
	}
	tokens, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tokens) == 0 {
		return 0, err
	}
	inc := 0
	if countAttempt {
		inc = 1
		if _, err := tx.Exec(ctx, `UPDATE `+t+` SET inprogress = false, fail_dt = now(),
			attempts = attempts + 1, owner = NULL, lease_until = NULL,
			error = format('worker died %s times on this item (last holder %s); fix the cause, then agentctl queue retry', attempts + 1, holder)
			WHERE claim_token = ANY($1::uuid[]) AND inprogress AND attempts + 1 >= $2`, tokens, q.opt.MaxAttempts); err != nil {
			return 0, err
		}
	}
	var twin []string
	for _, c := range q.spec.PendingKey {
		twin = append(twin, "p."+ident(c)+" = r."+ident(c))
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+t+` r WHERE r.claim_token = ANY($1::uuid[]) AND r.inprogress
		AND EXISTS (SELECT 1 FROM `+t+` p WHERE NOT p.inprogress AND p.fail_dt IS NULL AND `+strings.Join(twin, " AND ")+`)`, tokens); err != nil {
		return 0, err
	}
	var after any
	if delay > 0 {
		after = delay.Milliseconds()
	}
	if _, err := tx.Exec(ctx, `UPDATE `+t+` SET inprogress = false, claim_token = NULL, owner = NULL,
		holder = NULL, lease_until = NULL, claimed_at = NULL, attempts = attempts + $2,
		after = CASE WHEN $3::bigint IS NULL THEN after ELSE now() + $3::bigint * interval '1 millisecond' END
		WHERE claim_token = ANY($1::uuid[]) AND inprogress`, tokens, inc, after); err != nil {
		return 0, err
	}
	return len(tokens), tx.Commit(ctx)
}

// Heartbeat renews, in one statement, every lease that owner holds in the given queues, and
// returns how many it renewed per table.
func Heartbeat(ctx context.Context, db *pgxpool.Pool, specs []Spec, owner string, lease time.Duration) (map[string]int, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	var ctes, counts []string
	for i, s := range specs {
		ctes = append(ctes, fmt.Sprintf(`h%d AS (UPDATE %s SET lease_until = now() + $2 * interval '1 millisecond'
			WHERE owner = $1::uuid AND inprogress RETURNING 1)`, i, s.table()))
		counts = append(counts, fmt.Sprintf(`(SELECT count(*) FROM h%d)`, i))
	}
	sql := `WITH ` + strings.Join(ctes, ", ") + ` SELECT ` + strings.Join(counts, ", ")
	got := make([]int64, len(specs))
	dest := make([]any, len(specs))
	for i := range got {
		dest[i] = &got[i]
	}
	if err := db.QueryRow(ctx, sql, owner, lease.Milliseconds()).Scan(dest...); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	out := make(map[string]int, len(specs))
	for i, s := range specs {
		out[s.Name] = int(got[i])
	}
	return out, nil
}
