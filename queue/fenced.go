package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The statements in this file end claims: complete, fail, defer, release. Each waits for the
// row's lock (bounded by Options.LockWait through lock_timeout, set for its own implicit
// transaction), then re-checks the token; rows are locked in token order. Zero rows after
// that wait proves the row no longer carries the token (ErrLeaseLost); a lock wait that
// times out is a transient error and proves nothing. Only Rescue and the heartbeat skip
// locked rows: they are sweepers that look again soon. The orphan sweep (ReleaseOwned)
// waits like the rest, bounded by LockWait.

// lockTimeout is the value for set_config('lock_timeout', …).
func (q *Queue) lockTimeout() string {
	return strconv.FormatInt(max(q.opt.LockWait.Milliseconds(), 1), 10) + "ms"
}

// completeTx is Item.CompleteTx. It waits at most Options.LockWait for the row's lock; the
// transaction's own lock_timeout is restored afterwards.
func (q *Queue) completeTx(ctx context.Context, tx pgx.Tx, it Item) error {
	b := &pgx.Batch{}
	check := q.queueComplete(b, it)
	return check(tx.SendBatch(ctx, b).Close())
}

// claimLostCode is the SQLSTATE agentd_claim_held raises (migration 9): the completion
// found no row carrying the claim's token.
const claimLostCode = "AGL01"

// queueComplete adds completeTx's statements to b. check, given the error of b's Close,
// returns nil when the item was completed, ErrLeaseLost (wrapped) when the row was no
// longer the item's (the statement failed, and with it the transaction), else the error.
func (q *Queue) queueComplete(b *pgx.Batch, it Item) (check func(error) error) {
	b.Queue(`SELECT set_config('agentd.saved_lock_timeout', current_setting('lock_timeout'), true),
		set_config('lock_timeout', $1, true)`, q.lockTimeout())
	n := -1
	b.Queue(q.sql.complete, it.Token, q.spec.Name+" item "+it.Label).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	b.Queue(`SELECT set_config('lock_timeout', current_setting('agentd.saved_lock_timeout'), true)`)
	return func(err error) error {
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == claimLostCode:
			return fmt.Errorf("complete %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
		case err != nil:
			return fmt.Errorf("complete %s item %s: %w", q.spec.Name, it.Label, err)
		case n < 1:
			return fmt.Errorf("complete %s item %s: the batch was not sent or its results not read", q.spec.Name, it.Label)
		}
		return nil
	}
}

// fenced runs stmt (with args) with lock_timeout set (see inBatch); scan reads its rows.
func (q *Queue) fenced(ctx context.Context, stmt string, scan func(pgx.Rows) error, args ...any) error {
	return q.inBatch(ctx, []setting{{"lock_timeout", q.lockTimeout()}}, stmt, scan, args...)
}

// setting is a server setting and its value, for one statement.
type setting struct{ name, value string }

// inBatch runs stmt (with args) after set_config(name, value, local) of each setting, as
// one implicit transaction in one round trip, so the settings hold for stmt alone; scan
// reads its rows.
func (q *Queue) inBatch(ctx context.Context, settings []setting, stmt string, scan func(pgx.Rows) error, args ...any) error {
	b := &pgx.Batch{}
	var set []string
	var values []any
	for i, s := range settings {
		set = append(set, fmt.Sprintf("set_config($%d, $%d, true)", 2*i+1, 2*i+2))
		values = append(values, s.name, s.value)
	}
	b.Queue(`SELECT `+strings.Join(set, ", "), values...)
	b.Queue(stmt, args...).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		if err := scan(rows); err != nil {
			return err
		}
		return rows.Err()
	})
	return q.db.SendBatch(ctx, b).Close()
}

// CompleteBatch deletes items that need no other write, in one statement. It returns the
// items whose row no longer carries their token (lost). An error means nothing was deleted:
// the caller still holds every item.
func (q *Queue) CompleteBatch(ctx context.Context, items []Item) (lost []Item, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	tokens := make([]string, len(items))
	for i, it := range items {
		tokens[i] = it.Token
	}
	slices.Sort(tokens) // one lock order (see the statement)
	gone := make(map[string]bool, len(items))
	err = q.fenced(ctx, q.sql.completeBatch, func(rows pgx.Rows) error {
		for rows.Next() {
			var token string
			if err := rows.Scan(&token); err != nil {
				return err
			}
			gone[token] = true
		}
		return nil
	}, tokenArray(tokens))
	if err != nil {
		return nil, fmt.Errorf("complete %d %s items: %w", len(items), q.spec.Name, err)
	}
	for _, it := range items {
		if !gone[it.Token] {
			lost = append(lost, it)
		}
	}
	return lost, nil
}

// Fail records the item as failed with msg; it is not retried automatically. msg is made
// storable text (valid UTF-8, no NUL) first.
func (q *Queue) Fail(ctx context.Context, it Item, msg string) error {
	msg = strings.ToValidUTF8(strings.ReplaceAll(msg, "\x00", ""), "\uFFFD")
	n := 0
	err := q.fenced(ctx, q.sql.fail+` RETURNING 1`, func(rows pgx.Rows) error {
		for rows.Next() {
			n++
		}
		return nil
	}, it.Token, msg)
	if err != nil {
		return fmt.Errorf("fail %s item %s: %w", q.spec.Name, it.Label, err)
	}
	if n == 0 {
		return fmt.Errorf("fail %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
	}
	return nil
}

// Defer puts the item back, not to be claimed before delay has passed (a file still being
// written). When a pending twin exists the item is deleted instead.
func (q *Queue) Defer(ctx context.Context, it Item, delay time.Duration) error {
	ended, err := q.requeue(ctx, requeueArgs{byToken: true, where: "claim_token = ANY($4::uuid[])", args: []any{tokenArray([]string{it.Token})}, delay: delay})
	if err != nil {
		return fmt.Errorf("defer %s item %s: %w", q.spec.Name, it.Label, err)
	}
	if len(ended) == 0 {
		return fmt.Errorf("defer %s item %s: %w", q.spec.Name, it.Label, ErrLeaseLost)
	}
	return nil
}

// Release puts back the items with these claim tokens and returns how many it put back (a
// token missing from the count is no longer on an in-progress row: someone else ended it).
// crashed says the holder died (a restart releasing its journal): that counts an attempt,
// and past the limit the item fails. A clean shutdown releases with crashed false.
func (q *Queue) Release(ctx context.Context, tokens []string, crashed bool) (int, error) {
	ended, err := q.ReleaseTokens(ctx, tokens, crashed, 0)
	return len(ended), err
}

// ReleaseTokens is Release returning the rows it ended; not before after (0: at once).
func (q *Queue) ReleaseTokens(ctx context.Context, tokens []string, crashed bool, after time.Duration) ([]Ended, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	ended, err := q.requeue(ctx, requeueArgs{byToken: true, where: "claim_token = ANY($4::uuid[])", args: []any{tokenArray(tokens)}, crashed: crashed, delay: after})
	if err != nil {
		return nil, fmt.Errorf("release %d %s items: %w", len(tokens), q.spec.Name, err)
	}
	return ended, nil
}

// ReleaseOwned puts back every row claimed under this queue handle's owner whose token is
// not in keep (no attempt counted), and returns them. With keep empty it is the last
// statement of a clean stop; with the tokens a process holds, it frees claims the process
// never saw (a claim whose answer was lost). Rows locked by others are waited for.
func (q *Queue) ReleaseOwned(ctx context.Context, keep []string) ([]Ended, error) {
	if keep == nil {
		keep = []string{}
	}
	ended, err := q.requeue(ctx, requeueArgs{where: "owner = $4::uuid AND NOT (claim_token = ANY($5::uuid[]))",
		args: []any{q.opt.Owner, tokenArray(keep)}})
	if err != nil {
		return nil, fmt.Errorf("release the %s claims of owner %s: %w", q.spec.Name, q.opt.Owner, err)
	}
	return ended, nil
}

// ReleaseRuns releases every row still claimed under one of owners, the owners of earlier
// runs of this process that died (their journal recorded the owner before the first claim,
// so a row claimed just before the death, not yet journaled by token, is found by it). Each
// counts an attempt, as a release from the journal does.
func (q *Queue) ReleaseRuns(ctx context.Context, owners []string) ([]Ended, error) {
	if len(owners) == 0 {
		return nil, nil
	}
	ended, err := q.requeue(ctx, requeueArgs{where: "r.owner = ANY($4::uuid[])", args: []any{tokenArray(owners)}, crashed: true})
	if err != nil {
		return nil, fmt.Errorf("release the %s claims of %d earlier runs: %w", q.spec.Name, len(owners), err)
	}
	return ended, nil
}

// HolderPattern is the SQL condition (over the row aliased r, parameter $4) that matches a
// holder as operators name it: a worker ("host/pid/name/ingest-0"), a process
// ("host/pid/name") or a host ("host"): the holder itself or any holder under it.
const holderPattern = "(r.holder = $4::text OR starts_with(r.holder, $4::text || '/'))"

// HeldBy lists the in-progress items whose holder is holder or lies under it (see
// ReleaseHolder), oldest claim first.
func (q *Queue) HeldBy(ctx context.Context, holder string) ([]Running, error) {
	t := q.spec.table()
	rows, err := q.db.Query(ctx, `SELECT `+runningColumns(q.spec)+` FROM `+t+` r WHERE r.inprogress AND `+strings.ReplaceAll(holderPattern, "$4", "$1")+` ORDER BY r.claimed_at`, holder)
	if err != nil {
		return nil, fmt.Errorf("list the %s items of %s: %w", q.spec.Name, holder, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Running])
	if err != nil {
		return nil, fmt.Errorf("list the %s items of %s: %w", q.spec.Name, holder, err)
	}
	return out, nil
}

// ReleaseHolder puts back (pending, no attempt counted) every in-progress item whose holder
// is holder or lies under it: "host/pid/name" names every worker of one agentd process,
// "host" every process of a host. It is the operator's remedy for a holder known to be
// dead or wedged; a live holder then finds its claims gone (counted lost, nothing written
// twice: completions are fenced by the token).
func (q *Queue) ReleaseHolder(ctx context.Context, holder string) ([]Ended, error) {
	if strings.TrimSpace(holder) == "" {
		return nil, fmt.Errorf("release by holder: no holder given")
	}
	ended, err := q.requeue(ctx, requeueArgs{where: holderPattern, args: []any{holder}})
	if err != nil {
		return nil, fmt.Errorf("release the %s items of %s: %w", q.spec.Name, holder, err)
	}
	return ended, nil
}

// holderAlive is SQL true when the process holding the row aliased r (its holder is
// host/pid/name/queue-i) shows it lives although its lease expired (it was stopped, or its
// heartbeat could not reach a loaded database in time): then no death is counted against
// the item. Signs of life, leaseMs (SQL) being the lease:
//   - a session of the process on the server: agentd names its connections host/pid/name
//     (a transaction may add /queue-i). Through a transaction pooler a live agent may have
//     no session of its own at the moment;
//   - a claim of the process (its owner) in the last half lease: a dead process claims
//     nothing, and its rows expire at least two thirds of a lease after its last heartbeat;
//   - the server started within a lease: sessions are still coming back, nothing can be
//     judged.
//
// The recent claims' owners are read once per statement (a hashed subplan over the
// in-progress rows, which are few), not once per expired row: no index has the owner. The
// test is false, never NULL, for a row without an owner (set in progress outside agentd):
// a NULL would leave the row neither put back nor failed.
func holderAlive(table, leaseMs string) string {
	agent := `array_to_string((string_to_array(r.holder, '/'))[1:3], '/')`
	return `(pg_postmaster_start_time() > now() - ` + leaseMs + ` * interval '1 millisecond'
		OR (r.owner IS NOT NULL AND r.owner IN (SELECT o.owner FROM ` + table + ` o
			WHERE o.inprogress AND o.owner IS NOT NULL AND o.claimed_at > now() - ` + leaseMs + ` * interval '0.5 millisecond'))
		OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = ` + agent + `
			OR starts_with(a.application_name, ` + agent + ` || '/')))`
}

// rescueBatch bounds one rescue statement; Rescue loops until a statement finds fewer.
const rescueBatch = 1000

// Rescue puts back the items whose lease expired (their holder died or stalled). Any agent
// may run it; concurrent rescuers skip each other's rows (a skipped row is looked at again
// by the next rescue).
//
// A row that another program set in progress without a lease (FitsStorage's own pop(), which
// only sets inprogress) gets a token and a lease of ForeignLease from the first rescue that
// sees it — FitsStorage's own queue monitor calls a row stuck after an hour; its worker, which
// agentd cannot see, may take long — and is put back like any other once that lease
// expires, unless its own worker ended it first.
func (q *Queue) Rescue(ctx context.Context) (int, error) {
	t := q.spec.table()
	foreign := q.opt.ForeignLease
	if foreign <= 0 {
		foreign = DefaultForeignLease
	}
	if _, err := q.db.Exec(ctx, `UPDATE `+t+` t SET claim_token = gen_random_uuid(),
			lease_until = now() + $1 * interval '1 millisecond', holder = coalesce(t.holder, 'outside agentd (no lease)')
		FROM (SELECT ctid AS tid FROM `+t+` WHERE inprogress AND (lease_until IS NULL OR claim_token IS NULL)
			FOR UPDATE SKIP LOCKED) f
		WHERE t.ctid = f.tid`, foreign.Milliseconds()); err != nil {
		return 0, fmt.Errorf("lease the %s items set in progress outside agentd: %w", q.spec.Name, err)
	}
	total := 0
	for {
		ended, err := q.requeue(ctx, requeueArgs{where: "lease_until < now()", crashed: true, skipLocked: true, limit: rescueBatch, judgeLiveness: true})
		if err != nil {
			return total, fmt.Errorf("rescue expired %s leases: %w", q.spec.Name, err)
		}
		total += len(ended)
		if len(ended) < rescueBatch {
			return total, nil
		}
	}
}

// Ended is one claim a requeue statement ended.
type Ended struct {
	Token string `json:"token"`
	Label string `json:"label"`
	// How: "pending" (back in the queue), "merged" (deleted: the item was pending again
	// already) or "failed" (past the attempt limit).
	How string `json:"how"`
}

type requeueArgs struct {
	where string // over the row aliased r; its parameters start at $4
	// byToken says where names rows by their tokens: the statement then reaches them
	// through the token index only (inprogress IS TRUE, see build), not by reading every
	// row in progress.
	byToken    bool
	args       []any
	crashed    bool          // the holder died: count an attempt
	delay      time.Duration // not before now + delay (0: leave after as it is)
	skipLocked bool          // sweepers only
	limit      int           // 0: no limit
	// judgeLiveness counts the attempt only when the holder's process shows no sign of
	// life (see holderAlive).
	judgeLiveness bool
}

// requeue re-pends the in-progress rows matching a.where in one statement (after lock_timeout
// is set, in the same implicit transaction): rows with a pending twin are deleted, rows past
// the attempt limit fail. It returns the rows it ended.
//
// The writes find the locked rows by token, not by the ctid the lock returned: a row updated
// after the statement's snapshot (a heartbeat renewing its lease) is locked in its newest
// version, whose ctid the snapshot cannot see; by token, the write re-checks the newest
// version (READ COMMITTED) and updates it.
func (q *Queue) requeue(ctx context.Context, a requeueArgs) ([]Ended, error) {
	for attempt := 0; ; attempt++ {
		ended, err := q.requeueOnce(ctx, a)
		if isUniqueViolation(err) && attempt < 5 { // a twin was enqueued meanwhile
			continue
		}
		return ended, err
	}
}

func (q *Queue) requeueOnce(ctx context.Context, a requeueArgs) ([]Ended, error) {
	stmt, args := q.requeueStatement(a)
	var ended []Ended
	err := q.fenced(ctx, stmt, func(rows pgx.Rows) error {
		for rows.Next() {
			var e Ended
			if err := rows.Scan(&e.Token, &e.Label, &e.How); err != nil {
				return err
			}
			ended = append(ended, e)
		}
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// requeueStatement is the statement of requeueOnce and its arguments.
func (q *Queue) requeueStatement(a requeueArgs) (string, []any) {
	t := q.spec.table()
	var twin []string
	for _, c := range q.spec.PendingKey {
		twin = append(twin, "p."+ident(c)+" = r."+ident(c))
	}
	lock := "FOR UPDATE OF r"
	if a.skipLocked {
		lock += " SKIP LOCKED"
	}
	limit := ""
	if a.limit > 0 {
		limit = " LIMIT " + strconv.Itoa(a.limit)
	}
	inc := 0
	if a.crashed {
		inc = 1
	}
	var after any
	if a.delay > 0 {
		after = a.delay.Milliseconds()
	}
	label := "coalesce(r." + ident(q.spec.Label) + "::text, '')"
	// The rows to lock: by token through the token index only (see build); otherwise by
	// reading the rows in progress. The writes reach the locked rows through the token
	// index, by the array of their tokens: joined to l alone, the planner (both sides
	// estimated at one row) could as well read every token of the index and compare each
	// with l's (BenchmarkDeferOne: 1.2-1.8 ms instead of 1.0 with 2,400 rows held).
	held := "r.inprogress"
	if a.byToken {
		held = "r.inprogress IS TRUE"
	}
	written := "t.inprogress IS TRUE AND t.claim_token = ANY(ARRAY(SELECT claim_token FROM l))"
	args := append([]any{inc, q.opt.MaxAttempts, after}, a.args...)
	alive := "false"
	if a.judgeLiveness {
		args = append(args, q.opt.Lease.Milliseconds())
		alive = holderAlive(t, "$"+strconv.Itoa(len(args))+"::bigint")
	}
	// Each write is gated by an EXISTS over l (a one-time filter): when no row of its kind
	// was locked, its scan is never run. Joined to l alone, the writes read every row in
	// progress three times over whenever the planner's statistics, always stale on a
	// queue, put the table on the outer side: a rescue that found nothing expired, which
	// every agent runs, cost 1.75 ms instead of 0.7 with 2,400 rows held
	// (BenchmarkRescueNothingExpired).
	stmt := `WITH locked AS (
			SELECT r.claim_token, ` + label + ` AS label, r.attempts, ` + alive + ` AS alive,
				EXISTS (SELECT 1 FROM ` + t + ` p WHERE NOT p.inprogress AND p.fail_dt = ` + notFailed + ` AND ` + strings.Join(twin, " AND ") + `) AS twin
			FROM ` + t + ` r WHERE ` + held + ` AND (` + a.where + `)
			ORDER BY r.claim_token` + limit + ` ` + lock + `
		), l AS (
			SELECT claim_token, label, twin, CASE WHEN alive THEN 0 ELSE $1::int END AS inc,
				NOT alive AND $1::int > 0 AND attempts + $1::int >= $2::int AS dies
			FROM locked
		), failed AS (
			UPDATE ` + t + ` t SET inprogress = false, fail_dt = ` + nowUTC + `, attempts = t.attempts + 1, owner = NULL, lease_until = NULL,
				error = format('worker died %s times on this item (last holder %s); fix the cause, then agentctl queue retry', t.attempts + 1, t.holder)
			FROM l WHERE EXISTS (SELECT 1 FROM l WHERE dies) AND t.claim_token = l.claim_token AND ` + written + ` AND l.dies
			RETURNING l.claim_token::text, l.label, 'failed'
		), merged AS (
			DELETE FROM ` + t + ` t USING l WHERE EXISTS (SELECT 1 FROM l WHERE NOT dies AND twin) AND t.claim_token = l.claim_token
				AND ` + written + ` AND NOT l.dies AND l.twin
			RETURNING l.claim_token::text, l.label, 'merged'
		), pending AS (
			UPDATE ` + t + ` t SET inprogress = false, claim_token = NULL, owner = NULL, holder = NULL, lease_until = NULL,
				claimed_at = NULL, attempts = t.attempts + l.inc,
				after = CASE WHEN $3::bigint IS NULL THEN t.after ELSE ` + nowUTC + ` + $3::bigint * interval '1 millisecond' END
			FROM l WHERE EXISTS (SELECT 1 FROM l WHERE NOT dies AND NOT twin) AND t.claim_token = l.claim_token
				AND ` + written + ` AND NOT l.dies AND NOT l.twin
			RETURNING l.claim_token::text, l.label, 'pending'
		)
		SELECT * FROM failed UNION ALL SELECT * FROM merged UNION ALL SELECT * FROM pending`
	return stmt, args
}

// Whereabouts says where an item whose claim was found gone is now, as evidence for a
// "lost" log line: who holds its file now, or that it is pending, failed or gone.
func (q *Queue) Whereabouts(ctx context.Context, it Item) string {
	t := q.spec.table()
	rows, err := q.db.Query(ctx, `SELECT coalesce(claim_token::text, ''), coalesce(inprogress, false), coalesce(fail_dt <> `+notFailed+`, false),
			coalesce(holder, ''), attempts
		FROM `+t+` WHERE `+ident(q.spec.Label)+`::text = $1 LIMIT 5`, it.Label)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var token, holder string
		var inprogress, failed bool
		var attempts int
		if err := rows.Scan(&token, &inprogress, &failed, &holder, &attempts); err != nil {
			return "unknown (" + err.Error() + ")"
		}
		switch {
		case inprogress && token == it.Token:
			parts = append(parts, "still claimed with our token (holder "+holder+")")
		case inprogress:
			parts = append(parts, fmt.Sprintf("claimed by %s with token %s (attempts %d)", holder, token, attempts))
		case failed && token == it.Token:
			parts = append(parts, fmt.Sprintf("failed by a rescuer with our token (attempts %d)", attempts))
		case failed:
			parts = append(parts, "failed under token "+token)
		default:
			parts = append(parts, fmt.Sprintf("pending again (attempts %d)", attempts))
		}
	}
	if err := rows.Err(); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	if len(parts) == 0 {
		return "no row: completed or merged by another agent"
	}
	return strings.Join(parts, "; ")
}
