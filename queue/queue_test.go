package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/filenames"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

type testBundle struct {
	db *pgxpool.Pool
	q  *queue.Queue
}

const owner = "00000000-0000-0000-0000-00000000000a"

func setup(t *testing.T, opt queue.Options) testBundle {
	t.Helper()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	if opt.Owner == "" {
		opt.Owner = owner
	}
	return testBundle{db: db, q: queue.New(db, queue.Ingest(), opt)}
}

// add enqueues files directly (path "p").
func (b testBundle) add(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := b.db.Exec(context.Background(), `INSERT INTO ingestqueue (filename, path, sortkey)
			VALUES ($1, 'p', $2)`, n, filenames.SortKey(n))
		if err != nil {
			t.Fatal(err)
		}
	}
}

func holders(n int) []string {
	h := make([]string, n)
	for i := range h {
		h[i] = fmt.Sprintf("test/%d", i)
	}
	return h
}

func labels(items []queue.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Label)
	}
	return out
}

func TestClaimNewestFirstOnePerFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "N20200101S0001.fits", "N20200103S0001.fits", "N20200102S0001.fits.bz2", "N20200102S0001.fits", "other.fits")
	items, err := b.q.Claim(ctx, holders(10))
	if err != nil {
		t.Fatal(err)
	}
	// One of the twins N20200102S0001.fits(.bz2) only: they are one file.
	if len(items) != 4 {
		t.Fatalf("claimed %v, want 4 items (twins never together)", labels(items))
	}
	if items[0].Label != "N20200103S0001.fits" || items[3].Label != "other.fits" {
		t.Fatalf("claim order %v, want newest first, other last", labels(items))
	}
	if items[0].Holder != "test/0" || items[1].Holder != "test/1" {
		t.Fatalf("holders %q %q", items[0].Holder, items[1].Holder)
	}
	if items[0].String("path") != "p" || items[0].String("filename") != "N20200103S0001.fits" {
		t.Fatalf("payload %v", items[0].Payload)
	}
	more, err := b.q.Claim(ctx, holders(10))
	if err != nil || len(more) != 0 {
		t.Fatalf("second claim while the twin runs = %v, %v; want nothing", labels(more), err)
	}
	var twin queue.Item
	for _, it := range items {
		if filenames.FileName(it.Label) == "N20200102S0001.fits" {
			twin = it
		}
	}
	if _, err := b.q.CompleteBatch(ctx, []queue.Item{twin}); err != nil {
		t.Fatal(err)
	}
	more, err = b.q.Claim(ctx, holders(10))
	if err != nil || len(more) != 1 || filenames.FileName(more[0].Label) != "N20200102S0001.fits" {
		t.Fatalf("after the twin completed, claim = %v, %v; want the other twin", labels(more), err)
	}
}

// The claim passes over rows whose last locker or updater had not finished when the claim's
// snapshot was taken (another agent's claim in flight) without trying to lock them; a row
// whose locker has finished, by commit or rollback, is claimed at once and in its place,
// even while a transaction older than that locker is still open.
func TestClaimTakesRowsLockedByFinishedTransactionsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "N20200101S0001.fits", "N20200102S0001.fits", "N20200103S0001.fits", "N20200104S0001.fits")
	// An older transaction with an xid, open throughout: every snapshot's oldest xid.
	older, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer older.Rollback(ctx) //nolint:errcheck // ends the test's transaction
	if _, err := older.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	lock := func(name string, commit bool) {
		t.Helper()
		tx, err := b.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM ingestqueue WHERE filename = $1 FOR UPDATE`, name); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	lock("N20200104S0001.fits", false) // a claim that failed
	lock("N20200103S0001.fits", true)  // a lock that ended (a twin not taken)
	// A row locked by a transaction still open is passed over.
	holding, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holding.Rollback(ctx) //nolint:errcheck // ends the test's transaction
	if _, err := holding.Exec(ctx, `SELECT 1 FROM ingestqueue WHERE filename = 'N20200102S0001.fits' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	items, err := b.q.Claim(ctx, holders(4))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(labels(items), " "), "N20200104S0001.fits N20200103S0001.fits N20200101S0001.fits"; got != want {
		t.Fatalf("claimed %q, want %q", got, want)
	}
	if err := holding.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	items, err = b.q.Claim(ctx, holders(4))
	if err != nil || len(items) != 1 || items[0].Label != "N20200102S0001.fits" {
		t.Fatalf("after the lock ended, claim = %v, %v; want N20200102S0001.fits", labels(items), err)
	}
}

func TestClaimHonoursAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "N20200101S0001.fits")
	b.db.Exec(ctx, `UPDATE ingestqueue SET after = now() + interval '1 hour'`)
	items, err := b.q.Claim(ctx, holders(1))
	if err != nil || len(items) != 0 {
		t.Fatalf("claimed a deferred item: %v %v", labels(items), err)
	}
	idle, err := b.q.Idle(ctx)
	if err != nil || idle {
		t.Fatalf("Idle with a deferred item = %v, %v; want false", idle, err)
	}
}

func TestCompleteIsFencedByToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{Lease: 50 * time.Millisecond})
	b.add(t, "N20200101S0001.fits")
	items, _ := b.q.Claim(ctx, holders(1))
	stale := items[0]
	time.Sleep(100 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("Rescue = %d, %v; want 1", n, err)
	}
	fresh, _ := b.q.Claim(ctx, holders(1))
	if len(fresh) != 1 || fresh[0].Attempts != 1 {
		t.Fatalf("reclaim after rescue = %+v, want one item with 1 attempt", fresh)
	}
	// The stalled worker wakes up: its writes must not commit.
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := stale.CompleteTx(ctx, tx); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("CompleteTx with a stale token = %v, want ErrLeaseLost", err)
	}
	tx.Rollback(ctx)
	if err := b.q.Fail(ctx, stale, "x"); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("Fail with a stale token = %v, want ErrLeaseLost", err)
	}
	if lost, err := b.q.CompleteBatch(ctx, []queue.Item{stale, fresh[0]}); err != nil || len(lost) != 1 || lost[0].Token != stale.Token {
		t.Fatalf("CompleteBatch lost = %v, %v; want the stale one", lost, err)
	}
}

func TestAttemptLimitFailsItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{Lease: 20 * time.Millisecond, MaxAttempts: 3})
	b.add(t, "N20200101S0001.fits")
	for i := 0; i < 3; i++ {
		items, err := b.q.Claim(ctx, holders(1))
		if err != nil || len(items) != 1 {
			t.Fatalf("round %d: claim = %v, %v", i, labels(items), err)
		}
		time.Sleep(40 * time.Millisecond)
		if _, err := b.q.Rescue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failed != 1 || st.Pending != 0 || len(st.Failures) != 1 {
		t.Fatalf("after 3 deaths: %+v, want one failed item", st)
	}
	if want := "worker died 3 times"; !strings.Contains(st.Failures[0].Error, want) {
		t.Fatalf("error %q, want %q", st.Failures[0].Error, want)
	}
	// Re-arm it.
	n, err := queue.Retry(ctx, b.db, queue.Ingest(), "N2020*")
	if err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	items, _ := b.q.Claim(ctx, holders(1))
	if len(items) != 1 || items[0].Attempts != 0 {
		t.Fatalf("after retry: %+v, want a fresh item", items)
	}
}

func TestReleaseAndDeferWithPendingTwin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "N20200101S0001.fits", "N20200102S0001.fits")
	items, _ := b.q.Claim(ctx, holders(2))
	b.add(t, "N20200101S0001.fits") // re-added while in progress: a pending twin
	if n, err := b.q.Release(ctx, []string{items[0].Token, items[1].Token}, false); err != nil || n != 2 {
		t.Fatalf("Release = %d, %v", n, err)
	}
	st, _ := b.q.Stats(ctx)
	if st.Pending != 2 || st.InProgress != 0 {
		t.Fatalf("after release: %+v, want 2 pending (twin merged)", st)
	}
	items, _ = b.q.Claim(ctx, holders(1))
	if err := b.q.Defer(ctx, items[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	st, _ = b.q.Stats(ctx)
	if st.Pending != 1 || st.Deferred != 1 {
		t.Fatalf("after defer: %+v, want 1 pending 1 deferred", st)
	}
}

func TestCrashReleaseCountsAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{MaxAttempts: 2})
	b.add(t, "N20200101S0001.fits")
	for i := 0; i < 2; i++ {
		items, _ := b.q.Claim(ctx, holders(1))
		if len(items) != 1 {
			t.Fatalf("round %d: nothing claimed", i)
		}
		if _, err := b.q.Release(ctx, []string{items[0].Token}, true); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := b.q.Stats(ctx)
	if st.Failed != 1 {
		t.Fatalf("after 2 crash releases with limit 2: %+v, want failed", st)
	}
}

func TestHeartbeatKeepsLeaseAlive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{Lease: 300 * time.Millisecond})
	b.add(t, "N20200101S0001.fits", "N20200102S0001.fits")
	items, err := b.q.Claim(ctx, holders(2))
	if err != nil {
		t.Fatal(err)
	}
	tokens := [][]string{{items[0].Token, items[1].Token}, nil}
	for i := 0; i < 5; i++ {
		time.Sleep(100 * time.Millisecond)
		got, err := queue.Heartbeat(ctx, b.db, []queue.Spec{queue.Ingest(), queue.Calcache()}, tokens, owner, 300*time.Millisecond)
		if err != nil || got["ingest"] != 2 {
			t.Fatalf("Heartbeat = %v, %v; want 2 ingest leases", got, err)
		}
	}
	if n, _ := b.q.Rescue(ctx); n != 0 {
		t.Fatalf("rescued %d items whose holder heartbeats", n)
	}
}

// Many claimers at once: every item is claimed exactly once.
func TestConcurrentClaimersNeverShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	const n = 500
	_, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || i FROM generate_series(1, $1) i`, n)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{} // by file name: unique in this test
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, err := b.q.Claim(ctx, holders(7))
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					seen[it.Label]++
				}
				mu.Unlock()
				if _, err := b.q.CompleteBatch(ctx, items); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct items, want %d", len(seen), n)
	}
	for name, c := range seen {
		if c != 1 {
			t.Fatalf("item %s claimed %d times", name, c)
		}
	}
}

// A failed row keeps its claim token (it names the row for Retry), but it is no longer
// claimed: a restart releasing that token from its journal, a late completion, and a second
// Fail must all leave it failed. Retry of several failed rows of one file re-arms one.
func TestFailedRowKeepsTokenButIsNotHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "N20200101S0001.fits")
	items, _ := b.q.Claim(ctx, holders(1))
	if err := b.q.Fail(ctx, items[0], "broken"); err != nil {
		t.Fatal(err)
	}
	failed := items[0]
	if n, err := b.q.Release(ctx, []string{failed.Token}, true); err != nil || n != 0 {
		t.Fatalf("release of a failed item's token = %d, %v; want 0", n, err)
	}
	if lost, err := b.q.CompleteBatch(ctx, []queue.Item{failed}); err != nil || len(lost) != 1 {
		t.Fatalf("completion of a failed item = lost %v, %v; want it lost", lost, err)
	}
	if err := b.q.Fail(ctx, failed, "again"); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("second Fail = %v, want ErrLeaseLost", err)
	}
	// The file fails a second time: two failed rows of one file.
	b.add(t, "N20200101S0001.fits")
	items, _ = b.q.Claim(ctx, holders(1))
	if err := b.q.Fail(ctx, items[0], "broken again"); err != nil {
		t.Fatal(err)
	}
	st, _ := b.q.Stats(ctx)
	if st.Failed != 2 || st.Pending != 0 || st.InProgress != 0 || st.Failures[0].Error != "broken again" {
		t.Fatalf("after two failures: %+v", st)
	}
	if n, err := queue.Retry(ctx, b.db, queue.Ingest(), ""); err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v; want 1 re-armed", n, err)
	}
	st, _ = b.q.Stats(ctx)
	if st.Failed != 0 || st.Pending != 1 {
		t.Fatalf("after retry: %+v, want one pending, none failed", st)
	}
	var stray int
	if err := b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE NOT inprogress AND fail_dt = '9999-12-31 23:59:59.999999'
		AND (claim_token IS NOT NULL OR holder IS NOT NULL)`).Scan(&stray); err != nil || stray != 0 {
		t.Fatalf("%d re-armed rows still carry a claim token or holder (err %v)", stray, err)
	}
}
