package queue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrLeaseLost is returned when a fenced operation, having waited for the row's lock,
	// finds no in-progress row carrying the item's claim token: someone else ended or took
	// the item (typically a rescue after the lease expired). The caller's transaction must
	// roll back. A lock wait that times out is not this error (see Transient).
	ErrLeaseLost = errors.New("lease lost: the row no longer carries this claim")
	// errNotClaimed is returned by Item.CompleteTx for an item no queue claimed.
	errNotClaimed = errors.New("the item was not claimed from a queue")
	// ErrUnknownQueue is returned for a queue name that is not in Specs.
	ErrUnknownQueue = errors.New("unknown queue")
)

// DefaultMaxAttempts is how many holders may die on one item before it fails: an item that
// kills its worker every time (a poison file) stops there. A death cannot be told from a
// host that was killed under it (a spot interruption, a crash of another worker), so the
// limit leaves room for bad luck: in the rehearsal's chaos (a tenth of the agents killed
// every few seconds, bench/rehearsal) an innocent item died under 3 holders in a run of
// 2,000 files, and a limit of 3 failed it.
const DefaultMaxAttempts = 5

// Item is one claimed row.
type Item struct {
	Token    string // claim token (uuid text): names the row while it is claimed
	Label    string // e.g. the file name
	Holder   string
	Attempts int    // holders that died on this item before this claim
	Payload  []any  // values of Spec.Payload, in order
	spec     *Spec  // for Field lookups
	q        *Queue // the queue that claimed it: CompleteTx
}

// CompleteTx deletes the item in the handler's transaction tx, fenced by its claim token:
// the row goes only if this claim still holds it, and with it the failed rows of the same
// item. ErrLeaseLost means the claim is gone and the handler must roll back; the handler then
// returns CompletedTx only after tx commits.
func (it Item) CompleteTx(ctx context.Context, tx pgx.Tx) error {
	if it.q == nil {
		return fmt.Errorf("complete item %s: %w", it.Label, errNotClaimed)
	}
	return it.q.completeTx(ctx, tx, it)
}

// QueueComplete adds to b what CompleteTx does, for a caller that sends the item's writes
// and its completion in one round trip: b sent outside a transaction is one implicit
// transaction, which the completion's statement fails when the row is no longer the item's
// (none of b's writes commit then); sent in the caller's transaction, that transaction must
// roll back. check, given the error of b's Close, returns nil when the item was completed,
// an error wrapping ErrLeaseLost when its claim was lost, or the batch's error.
func (it Item) QueueComplete(b *pgx.Batch) (check func(error) error) {
	if it.q == nil {
		return func(error) error { return fmt.Errorf("complete item %s: %w", it.Label, errNotClaimed) }
	}
	return it.q.queueComplete(b, it)
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
	// LockWait bounds how long a statement that ends a claim waits for the row's lock
	// (lock_timeout; default DefaultLockWait). Past it the statement fails with a
	// transient error and the caller keeps the item to try again.
	LockWait time.Duration
	// ForeignLease is the lease a rescue gives a row that another program (FitsStorage) set
	// in progress without one (default DefaultForeignLease).
	ForeignLease time.Duration
}

// DefaultForeignLease is how long a row FitsStorage's own worker set in progress may stay so
// before agentd puts it back: the hour after which FitsStorage's queue monitor reports a row
// as stuck.
const DefaultForeignLease = time.Hour

// DefaultLockWait is how long a statement ending a claim waits for a row lock. The locks it
// meets are held by single statements (another agent's claim re-checking a row it lost, a
// rescue), which end in milliseconds.
const DefaultLockWait = 5 * time.Second

// Queue is a handle on one queue table for one process.
type Queue struct {
	spec Spec
	db   *pgxpool.Pool
	opt  Options
	sql  statements

	claimsMu sync.Mutex
	claims   map[int]string // the claim statement by batch size (see claimSize)
}

// statements are the spec's SQL, built once.
type statements struct {
	claim, complete, completeBatch, fail, idle string
}

// New returns a handle on the queue described by spec.
func New(db *pgxpool.Pool, spec Spec, opt Options) *Queue {
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.Lease <= 0 {
		opt.Lease = time.Minute
	}
	if opt.LockWait <= 0 {
		opt.LockWait = DefaultLockWait
	}
	q := &Queue{spec: spec, db: db, opt: opt, claims: map[int]string{}}
	q.sql = build(spec)
	return q
}

// Spec returns the queue's description.
func (q *Queue) Spec() Spec { return q.spec }

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func build(s Spec) statements {
	t := s.table()
	rk := s.RunKey // rk("c"): the run key of the row aliased c
	var payload, payloadNames []string
	for _, c := range s.Payload {
		payload = append(payload, "t."+ident(c))
		payloadNames = append(payloadNames, ident(c))
	}
	var pkCols []string
	for _, c := range s.PendingKey {
		pkCols = append(pkCols, ident(c))
	}
	// cleared deletes the failed rows of the items in done. done is read into arrays (one
	// evaluation each, no join): a join with done, or with the array of tokens, needs
	// the whole row of each of its rows for the planner's re-checks, and a plan that
	// rescanned it for every row of the other side cost 320 µs per completed item.
	// The rows compare whole, where two NULLs are equal: a key column that is NULL matches
	// nothing, as it did in a join.
	sameItem := "f." + pkCols[0] + " = ANY(ARRAY(SELECT " + pkCols[0] + " FROM done))"
	if len(pkCols) > 1 {
		sameItem += " AND ROW(" + prefixed("f.", pkCols) + ") = ANY(ARRAY(SELECT ROW(" + strings.Join(pkCols, ", ") + ") FROM done))"
		for _, c := range pkCols[1:] {
			sameItem += " AND f." + c + " IS NOT NULL"
		}
	}
	cleared := `DELETE FROM ` + t + ` f WHERE f.fail_dt <> ` + notFailed + ` AND ` + sameItem
	var ordCols, newest []string
	for _, c := range s.Order {
		ordCols = append(ordCols, ident(c))
		newest = append(newest, ident(c)+" DESC")
	}
	order := strings.Join(newest, ", ")
	return statements{
		// Newest first (the order index read backwards); at most one in-progress row per run
		// key, also within the batch. Each candidate's run key is looked up in the run-key
		// index (running_uq, WHERE inprogress): a probe per candidate, whatever the fleet
		// holds. The key is compared by >= and <=, not =, so that the planner cannot hash the
		// subquery: with =, it read every row in progress into a hashed set at each claim
		// (1.2 of a 64-row claim's 2.8 ms with 4,800 held; 22 ms with 190,000 dead entries
		// in the index), and a join let it compare every candidate with every row in progress
		// (40 ms for 200 candidates against 600), its statistics of a queue being always
		// stale (plans: TestClaimProbesTheRunKeysOfItsCandidates). A probe per candidate can
		// be estimated dear enough to pass jit_above_cost (15 ms of JIT compilation a claim,
		// seen with a scalar subquery): the claim runs with jit off (see claim).
		//
		// The rows are updated by the ctid their lock returned, each getting the holder of its
		// place in the batch: TID scans (a locked row cannot move before this statement
		// ends), where a join on ctid had the planner read the whole table into a hash (5 ms
		// per claim at 20,000 rows).
		// A row whose last locker or updater (xmax) had not finished when this statement's
		// snapshot was taken (running then, or begun since) is passed over before any lock
		// is tried: another agent's claim has it, or has just taken it. Locking it, FOR
		// UPDATE in READ COMMITTED would have found the row's new version (the other claim
		// committed), locked it, re-checked it, skipped it and kept it locked until this
		// claim committed, the other agent's completion of it waiting so long; when a
		// fleet's claims all read the head of the queue at once, each claim locked hundreds
		// of such rows to take a few dozen (bench/queuebench -fleet: claim p99 -30 %,
		// throughput +8 %, docs/benchmarks.md). A row whose locker has ended, by commit (a
		// twin left out of a batch) or rollback (a claim that failed), keeps its place. (No
		// row of a queue is ever share-locked, nothing references them: their xmax is a
		// transaction id, never a multixact.) The tokens come with the statement (see
		// newTokens).
		claim: `WITH cand AS (
			SELECT ctid AS tid, ` + rk("c") + ` AS rk, ` + strings.Join(ordCols, ", ") + ` FROM ` + t + ` c
			WHERE NOT inprogress AND fail_dt = ` + notFailed + ` AND (after IS NULL OR after <= ` + nowUTC + `)
			  AND (` + rk("c") + ` IS NULL OR NOT EXISTS (
				SELECT 1 FROM ` + t + ` r WHERE r.inprogress AND ` + rk("r") + ` >= ` + rk("c") + ` AND ` + rk("r") + ` <= ` + rk("c") + `))
			  AND c.xmax NOT IN (SELECT xid(x) FROM pg_snapshot_xip(pg_current_snapshot()) x)
			  AND age(c.xmax) > (SELECT age(xid(pg_snapshot_xmax(pg_current_snapshot()))))
			ORDER BY ` + order + `
			LIMIT ` + claimLimit + `
			FOR UPDATE SKIP LOCKED
		), pick AS (
			SELECT array_agg(tid ORDER BY ` + order + `) AS tids FROM (
				SELECT DISTINCT ON (rk) tid, ` + strings.Join(ordCols, ", ") + ` FROM cand ORDER BY rk, ` + order + `) d
		), claimed AS (
			UPDATE ` + t + ` t SET inprogress = true, claim_token = ($4::uuid[])[p.n], owner = $1::uuid,
				holder = ($2::text[])[p.n], lease_until = now() + $3 * interval '1 millisecond', claimed_at = now()
			FROM unnest((SELECT tids FROM pick)) WITH ORDINALITY AS p(tid, n)
			WHERE t.ctid = p.tid
			RETURNING p.n, t.claim_token::text AS token, coalesce(t.` + ident(s.Label) + `::text, '') AS label,
				t.holder, t.attempts, ` + strings.Join(payload, ", ") + `
		)
		SELECT token, label, holder, attempts, ` + strings.Join(payloadNames, ", ") + ` FROM claimed ORDER BY n`,
		// The statements that find rows by token test "inprogress IS TRUE", not
		// "inprogress": no index predicate WHERE inprogress is proven from it, so the token
		// index (WHERE claim_token IS NOT NULL) is the only one they can use. With
		// "inprogress" the planner, its statistics taken when nothing was in progress, read
		// every row in progress through the run-key index and filtered them by token: a
		// completion's cost grew with the claims the whole fleet held (migration 11).
		//
		// Fenced: only the holder of the token deletes (waiting for the row's lock, then
		// re-checking the token); failed rows of the same item go too. With no row deleted
		// the statement fails (agentd_claim_held, SQLSTATE AGL01), and so does the
		// transaction it is part of.
		complete: `WITH done AS (
			DELETE FROM ` + t + ` WHERE claim_token = $1::uuid AND inprogress IS TRUE RETURNING ` + strings.Join(pkCols, ", ") + `
		), cleared AS (` + cleared + `)
		SELECT agentd_claim_held(count(*), $2) FROM done`,
		// The delete waits for each row's lock (then re-checks the token). The tokens are an
		// array, not a join; the rows are locked in the token index's order or, for many
		// tokens, in the table's (a bitmap scan), either one order for every agent, though
		// not the token order of ReleaseTokens. A separate locking pass would cost each row a
		// second heap write and WAL record; a deadlock, should one happen, is retried like
		// any transient error.
		completeBatch: `WITH done AS (
			DELETE FROM ` + t + ` WHERE claim_token = ANY($1::uuid[]) AND inprogress IS TRUE
			RETURNING claim_token::text AS token, ` + strings.Join(pkCols, ", ") + `
		), cleared AS (` + cleared + `)
		SELECT token FROM done`,
		// Anything pending (deferred included) or in progress. The pending probe is the
		// claim's order, LIMIT 1: the order index read backwards from its first entry.
		// Written as EXISTS, the planner took a scan of the whole table whenever its
		// statistics still counted the pending rows of a queue just emptied, which they
		// do until the table is next analyzed: at the end of a fleet's rebuild, every
		// host's check read every page of rows already deleted, 160-370 ms each
		// (bench/queuebench -fleet, docs/benchmarks.md), where the index's dead entries
		// are marked so by the first reader and skipped by the others.
		idle: `SELECT (SELECT true FROM ` + t + ` WHERE NOT inprogress AND fail_dt = ` + notFailed + `
			ORDER BY ` + order + ` LIMIT 1) IS NOT NULL
			OR EXISTS (SELECT 1 FROM ` + t + ` WHERE inprogress)`,
		// A failed row keeps its claim token: it names the row for agentctl queue retry.
		fail: `UPDATE ` + t + ` SET inprogress = false, fail_dt = ` + nowUTC + `, error = $2, owner = NULL, lease_until = NULL
			WHERE claim_token = $1::uuid AND inprogress IS TRUE`,
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
// returns fewer (or none) when fewer are ready, and asks for up to 1/8 fewer when more
// than 16 are wanted (see claimSize).
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

// ClaimTimeout bounds a claim statement on the server (statement_timeout): a claim whose
// client gave up (Options.LockWait + 10 s in the pool) cannot commit long after, unseen.
func (q *Queue) ClaimTimeout() time.Duration { return q.opt.LockWait + 5*time.Second }

// claimLimit stands for the batch size in the claim statement's text (see claimSQL).
const claimLimit = "{{limit}}"

// claimSize is the batch size a claim for n holders asks for: n itself up to 16, above
// that n rounded down to its 4 leading bits (17 → 16, 200 → 192, 1000 → 960), at most
// 1/8 fewer. Each size is a statement of its own, with the size in its text: PostgreSQL
// re-plans a statement whose LIMIT is a parameter at every claim (its generic plan
// cannot know the size, and would pick a different plan), and planning cost a claim of
// 200 rows 0.8 of its 9 ms; with the size written out, the plan is made once per
// connection and size, and sizes are few.
func claimSize(n int) int {
	if n <= 16 {
		return n
	}
	shift := bits.Len(uint(n)) - 4
	return n >> shift << shift
}

// claimSQL is the claim statement for batches of n rows.
func (q *Queue) claimSQL(n int) string {
	q.claimsMu.Lock()
	defer q.claimsMu.Unlock()
	stmt, ok := q.claims[n]
	if !ok {
		stmt = strings.Replace(q.sql.claim, claimLimit, strconv.Itoa(n), 1)
		q.claims[n] = stmt
	}
	return stmt
}

func (q *Queue) claim(ctx context.Context, holders []string) ([]Item, error) {
	holders = holders[:claimSize(len(holders))]
	var items []Item
	// The claim's commit does not wait for its WAL to reach the disk (synchronous_commit
	// off): a claim lost in a crash of the server only leaves its rows pending, and every
	// statement that relies on it is fenced by its token, so it fails and nothing is done
	// twice; a later commit that waits for the disk (a completion) flushes the claim's
	// record first. Waiting cost a fleet's claims a third of their time (WALWrite and
	// WALSync waits), and the rows a claim locks without taking them (a twin left out of
	// the batch) stayed locked that much longer. JIT compilation never pays for itself in a
	// statement of a few hundred rows (see the run-key probe in build).
	timeout := fmt.Sprintf("%dms", q.ClaimTimeout().Milliseconds())
	settings := []setting{{"statement_timeout", timeout}, {"synchronous_commit", "off"}, {"jit", "off"}}
	err := q.inBatch(ctx, settings, q.claimSQL(len(holders)), func(rows pgx.Rows) error {
		for rows.Next() {
			it := Item{spec: &q.spec, q: q, Payload: make([]any, len(q.spec.Payload))}
			dest := []any{&it.Token, &it.Label, &it.Holder, &it.Attempts}
			for i := range it.Payload {
				dest = append(dest, &it.Payload[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			items = append(items, it)
		}
		return nil
	}, q.opt.Owner, holders, q.opt.Lease.Milliseconds(), newTokens(len(holders)))
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", q.spec.Table, err)
	}
	return items, nil
}

// newTokens makes n claim tokens, which the claim gives its rows in batch order: UUIDs of
// version 7 (RFC 9562), whose first 48 bits are the time in milliseconds, then a counter
// of the batch (12 bits), then 62 random bits. The server's gen_random_uuid() cost 2.3 µs a
// row on this project's benchmark machine; and tokens that grow with time are entered at
// the right edge of the token index and of the journal's B+tree (keyed by token) instead
// of all over them, so a claim or a completion dirties few of their pages.
func newTokens(n int) []pgtype.UUID {
	ms := uint64(time.Now().UnixMilli())
	tokens := make([]pgtype.UUID, n)
	for i := range tokens {
		b := &tokens[i].Bytes
		binary.BigEndian.PutUint64(b[0:8], ms<<16|0x7000|uint64(i)&0x0fff)
		rand.Read(b[8:])        // never fails (crypto/rand)
		b[8] = b[8]&0x3f | 0x80 // variant RFC 9562
		tokens[i].Valid = true
	}
	return tokens
}

// tokenArray is the parameter for a list of claim tokens: UUIDs, which pgx sends in binary.
// Sent as strings, the list went as text (pgx tried binary first, and made an error to
// find it could not) and the server parsed each token: 5 % of a busy agent's own CPU
// (bench/queuebench, 100 workers). A token that is not a UUID leaves the list as it came
// (a copy), for the server to refuse.
func tokenArray(tokens []string) any {
	out := make([]pgtype.UUID, len(tokens))
	for i, t := range tokens {
		if err := out[i].Scan(t); err != nil {
			return slices.Clone(tokens)
		}
	}
	return out
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
