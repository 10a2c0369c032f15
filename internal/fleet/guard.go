package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/queue"
)

// itemKey names an ingest queue item: its pending key.
type itemKey struct{ filename, path string }

// interruptions counts, per ingest queue item, how often the rehearsal took its holder away
// while the item was claimed: the holder killed with SIGKILL, stopped past its lease, or cut
// off by the database restart. agentd's poison guard fails an item after MaxAttempts deaths
// of its holders (it cannot tell a kill from a crash the item caused); a failure is the
// guard's due only when the rehearsal itself interrupted the item at least that often.
//
// On one machine, hundreds of workers share two cores, so an item stays claimed for seconds
// where a real host takes milliseconds, and a kill rate meant for hosts meets each item many
// times more often: the guard can rightly fire on an item no agent ever failed.
type interruptions struct {
	mu   sync.Mutex
	held map[string]itemKey // claim token → its item, for each claim whose holder was interrupted
}

func newInterruptions() *interruptions { return &interruptions{held: map[string]itemKey{}} }

// note records the claims in progress whose holder matches the LIKE pattern (holders are
// host/pid/name/queue-i). A claim counts once however often it is seen. The database may be
// restarting: it retries for up to wait, which must stay below the lease (after it the rows
// may be rescued).
func (in *interruptions) note(ctx context.Context, db *pgxpool.Pool, like string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		claims, err := heldRows(ctx, db, like)
		if err == nil {
			in.mu.Lock()
			for token, k := range claims {
				in.held[token] = k
			}
			in.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("read the claims held by %s: %w", like, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count is how many interrupted claims the item had.
func (in *interruptions) count(k itemKey) int {
	n := 0
	for _, held := range in.held {
		if held == k {
			n++
		}
	}
	return n
}

func heldRows(ctx context.Context, db *pgxpool.Pool, like string) (map[string]itemKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := db.Query(ctx, `SELECT claim_token::text, filename, path FROM ingestqueue WHERE inprogress AND holder LIKE $1`, like)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	claims := map[string]itemKey{}
	for rows.Next() {
		var token string
		var k itemKey
		if err := rows.Scan(&token, &k.filename, &k.path); err != nil {
			return nil, err
		}
		claims[token] = k
	}
	return claims, rows.Err()
}

// HolderLike is the LIKE pattern of the queue holders of the agent name running as pid
// (holders are host/pid/name/queue-i).
func HolderLike(name string, pid int) string { return fmt.Sprintf("%%/%d/%s/%%", pid, name) }

// guarded is an item the poison guard failed.
type guarded struct {
	key                   itemKey
	attempts, interrupted int
}

func (g guarded) String() string {
	return fmt.Sprintf("%s (%d deaths counted, %d interruptions by the rehearsal)", g.key.filename, g.attempts, g.interrupted)
}

// poisonGuarded reads the items the poison guard failed, each with the interruptions the
// rehearsal caused it. An item failed for another reason is not among them.
func (in *interruptions) poisonGuarded(ctx context.Context, db *pgxpool.Pool) ([]guarded, error) {
	rows, err := db.Query(ctx, `SELECT filename, path, attempts FROM ingestqueue
		WHERE NOT coalesce(inprogress, false) AND fail_dt <> `+queue.NotFailed+` AND error LIKE 'worker died %'`)
	if err != nil {
		return nil, fmt.Errorf("read the failed items: %w", err)
	}
	defer rows.Close()
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []guarded
	for rows.Next() {
		var g guarded
		if err := rows.Scan(&g.key.filename, &g.key.path, &g.attempts); err != nil {
			return nil, err
		}
		g.interrupted = in.count(g.key)
		out = append(out, g)
	}
	return out, rows.Err()
}

// retryDue re-arms, as an operator would (agentctl queue retry), the items the poison guard
// failed with cause: interrupted by the rehearsal at least as often as their holders' deaths
// were counted. It returns them, and the others (a violation: a death nobody caused).
func (in *interruptions) retryDue(ctx context.Context, db *pgxpool.Pool) (due, undue []guarded, err error) {
	failed, err := in.poisonGuarded(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range failed {
		if g.interrupted < g.attempts {
			undue = append(undue, g)
			continue
		}
		n, err := queue.Retry(ctx, db, queue.Ingest(), g.key.filename)
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("retry %s: no failed row re-armed", g.key.filename)
		}
		due = append(due, g)
	}
	return due, undue, nil
}

func names(gs []guarded) string {
	var s []string
	for _, g := range gs {
		s = append(s, g.String())
	}
	return strings.Join(s, "; ")
}
