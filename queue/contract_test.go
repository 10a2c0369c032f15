package queue_test

// Tests of the queue's contract (package doc): a claim is let go only by a statement that
// ended its row; the heartbeat renews only what the process holds; a stop leaves nothing
// claimed; transient errors put items back. Locks are held by real side transactions, as a
// concurrent claim re-checking a row does; broken connections come from pg_terminate_backend
// or from pgtest.Proxy, a real TCP proxy between the pool and the server.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/filenames"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// contractBundle is a test database with its URL, for side connections.
type contractBundle struct {
	url string
	db  *pgxpool.Pool
}

func newContract(t *testing.T) contractBundle {
	t.Helper()
	url := pgtest.NewDB(t)
	return contractBundle{url: url, db: pgtest.Pool(t, url)}
}

func (b contractBundle) add(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := b.db.Exec(context.Background(), `INSERT INTO ingestqueue (filename, path, sortkey) VALUES ($1, 'p', $2)`,
			n, filenames.SortKey(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// lockRow holds the lock of the row carrying token in a side transaction until unlock, as
// a concurrent claim re-checking the row does.
func (b contractBundle) lockRow(t *testing.T, token string) (unlock func()) {
	return b.sideTx(t, token, `SELECT count(*) FROM (SELECT 1 FROM ingestqueue WHERE claim_token = $1::uuid FOR UPDATE) l`, false)
}

// renewRow updates the row's lease in a side transaction committed at unlock, as the
// heartbeat does: the row then has a newer version than the waiting statement's snapshot.
func (b contractBundle) renewRow(t *testing.T, token string) (unlock func()) {
	return b.sideTx(t, token, `WITH u AS (UPDATE ingestqueue SET lease_until = now() + interval '1 hour'
		WHERE claim_token = $1::uuid AND inprogress RETURNING 1) SELECT count(*) FROM u`, true)
}

func (b contractBundle) sideTx(t *testing.T, token, sql string, commit bool) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Conn(t, b.url)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow(ctx, sql, token).Scan(&n); err != nil || n != 1 {
		t.Fatalf("lock the row of %s: %d rows, %v", token, n, err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			if commit {
				tx.Commit(ctx)
			} else {
				tx.Rollback(ctx)
			}
		})
	}
	// Before the connection is closed (cleanups run last registered first): an unlock
	// called from a timer then also happens before the close.
	t.Cleanup(unlock)
	return unlock
}

// row is the queue row of a file as the tests see it.
type row struct {
	exists, inprogress, failed, deferred bool
	token                                string
	attempts                             int
}

func (b contractBundle) row(t *testing.T, name string) row {
	t.Helper()
	var r row
	err := b.db.QueryRow(context.Background(), `SELECT true, inprogress, fail_dt < '9999-12-31', coalesce(after > (now() AT TIME ZONE 'UTC'), false),
		coalesce(claim_token::text, ''), attempts FROM ingestqueue WHERE filename = $1`, name).
		Scan(&r.exists, &r.inprogress, &r.failed, &r.deferred, &r.token, &r.attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return row{}
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// syncBuffer is a log sink shared by the pool's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Each statement that ends a claim waits for a row lock held by someone else (a concurrent
// claim re-checking the row keeps it until its statement ends; a heartbeat renewing the
// lease writes a newer version of the row), then does its work. Before the fix Defer and
// Release skipped the locked row and reported the claim lost; a first fix that wrote the
// row by the ctid its lock returned missed the heartbeat's newer version the same way.
func TestEndingStatementsWaitForALockedRow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		end   func(ctx context.Context, b contractBundle, q *queue.Queue, it queue.Item) error
		check func(r row) bool
	}{
		{"defer", func(ctx context.Context, _ contractBundle, q *queue.Queue, it queue.Item) error {
			return q.Defer(ctx, it, time.Hour)
		}, func(r row) bool { return r.exists && !r.inprogress && r.deferred && r.token == "" }},
		{"release", func(ctx context.Context, _ contractBundle, q *queue.Queue, it queue.Item) error {
			n, err := q.Release(ctx, []string{it.Token}, false)
			if err == nil && n != 1 {
				err = fmt.Errorf("released %d, want 1", n)
			}
			return err
		}, func(r row) bool { return r.exists && !r.inprogress && !r.failed && r.attempts == 0 }},
		{"fail", func(ctx context.Context, _ contractBundle, q *queue.Queue, it queue.Item) error {
			return q.Fail(ctx, it, "broken")
		}, func(r row) bool { return r.exists && r.failed && !r.inprogress }},
		{"complete batch", func(ctx context.Context, _ contractBundle, q *queue.Queue, it queue.Item) error {
			lost, err := q.CompleteBatch(ctx, []queue.Item{it})
			if err == nil && len(lost) != 0 {
				err = fmt.Errorf("reported lost: %v", lost)
			}
			return err
		}, func(r row) bool { return !r.exists }},
		{"complete in a transaction", func(ctx context.Context, b contractBundle, q *queue.Queue, it queue.Item) error {
			tx, err := b.db.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			if err := it.CompleteTx(ctx, tx); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}, func(r row) bool { return !r.exists }},
	}
	lockers := map[string]func(b contractBundle, t *testing.T, token string) func(){
		"claim recheck": contractBundle.lockRow,
		"heartbeat":     contractBundle.renewRow,
	}
	for _, c := range cases {
		for lname, locker := range lockers {
			t.Run(c.name+" behind a "+lname, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				b := newContract(t)
				q := queue.New(b.db, queue.Ingest(), queue.Options{Owner: owner})
				b.add(t, "N20200101S0001.fits")
				items, err := q.Claim(ctx, holders(1))
				if err != nil || len(items) != 1 {
					t.Fatalf("claim: %v %v", items, err)
				}
				unlock := locker(b, t, items[0].Token)
				defer unlock()
				done := make(chan error, 1)
				go func() { done <- c.end(ctx, b, q, items[0]) }()
				select {
				case err := <-done:
					t.Fatalf("returned %v while another transaction held the row's lock; want it to wait", err)
				case <-time.After(300 * time.Millisecond):
				}
				unlock()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("after the lock was let go: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("still waiting 10 s after the lock was let go")
				}
				if r := b.row(t, "N20200101S0001.fits"); !c.check(r) {
					t.Fatalf("row after %s: %+v", c.name, r)
				}
			})
		}
	}
}

// A lock that is never let go ends in a bounded, transient error; the row stays claimed
// with our token (the caller still holds the item), never "lost".
func TestEndingStatementsGiveUpOnAStuckLockWithoutLosingTheItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	q := queue.New(b.db, queue.Ingest(), queue.Options{Owner: owner, LockWait: 200 * time.Millisecond})
	b.add(t, "N20200101S0001.fits")
	items, _ := q.Claim(ctx, holders(1))
	it := items[0]
	unlock := b.lockRow(t, it.Token)
	defer unlock()
	ops := map[string]func() error{
		"defer": func() error { return q.Defer(ctx, it, time.Hour) },
		"release": func() error {
			_, err := q.Release(ctx, []string{it.Token}, false)
			return err
		},
		"fail": func() error { return q.Fail(ctx, it, "broken") },
		"complete batch": func() error {
			_, err := q.CompleteBatch(ctx, []queue.Item{it})
			return err
		},
	}
	for name, op := range ops {
		start := time.Now()
		err := op()
		if err == nil || errors.Is(err, queue.ErrLeaseLost) || !queue.Transient(err) {
			t.Fatalf("%s on a row locked for good = %v; want a transient error, not lease lost", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s took %s with a lock wait of 200ms", name, d)
		}
		if r := b.row(t, "N20200101S0001.fits"); !r.inprogress || r.token != it.Token {
			t.Fatalf("after %s gave up the row is %+v; want it still claimed with our token", name, r)
		}
	}
}

// The heartbeat renews exactly the tokens it is given, not every row of the owner.
func TestHeartbeatRenewsOnlyTheGivenClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	q := queue.New(b.db, queue.Ingest(), queue.Options{Owner: owner, Lease: time.Second})
	b.add(t, "N20200101S0001.fits", "N20200102S0001.fits")
	items, _ := q.Claim(ctx, holders(2))
	got, err := queue.Heartbeat(ctx, b.db, []queue.Spec{queue.Ingest()}, [][]string{{items[0].Token}}, owner, time.Hour)
	if err != nil || got["ingest"] != 1 {
		t.Fatalf("Heartbeat = %v, %v; want 1 renewed", got, err)
	}
	var long, short int
	b.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE lease_until > now() + interval '10 minutes'),
		count(*) FILTER (WHERE lease_until < now() + interval '10 minutes') FROM ingestqueue WHERE inprogress`).Scan(&long, &short)
	if long != 1 || short != 1 {
		t.Fatalf("leases renewed %d, left alone %d; want 1 and 1", long, short)
	}
}

// poolFor runs a pool over b (through url, e.g. a proxy's) and returns its result channel.
func poolFor(cfg queue.PoolConfig, db *pgxpool.Pool, handler queue.Handler, workers int) *queue.Pool {
	cfg.DB = db
	if cfg.Owner == "" {
		cfg.Owner = owner
	}
	if cfg.Holder == "" {
		cfg.Holder = "test"
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	cfg.Queues = []queue.Workers{{Spec: queue.Ingest(), Count: workers, Handler: handler}}
	return queue.NewPool(cfg)
}

func runPool(t *testing.T, pool *queue.Pool, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := pool.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("pool still running after %s", timeout)
	}
	return err
}

// The pool settles verdicts on rows that others hold locked longer than its lock wait: it
// keeps the items, tries again, and nothing is lost.
func TestPoolHoldsItemsWhoseRowsAreLockedAndSettlesThemLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "defer.fits", "complete.fits", "fail.fits")
	var mu sync.Mutex
	runs := map[string]int{}
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		runs[it.Label]++
		n := runs[it.Label]
		mu.Unlock()
		if n == 1 {
			unlock := b.lockRow(t, it.Token)
			time.AfterFunc(time.Second, unlock) // five lock waits of 200ms
		}
		switch {
		case it.Label == "defer.fits" && n == 1:
			return queue.DeferFor(time.Millisecond), nil
		case it.Label == "fail.fits":
			return queue.Result{}, errors.New("not a FITS file")
		}
		return queue.Complete, nil
	}
	j := &memJournal{open: map[string]bool{}, outcomes: map[string]int{}}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, LockWait: 200 * time.Millisecond, Journal: j,
		Logger: testLogger(&logs)}, b.db, handler, 3)
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	counts := pool.State()[0].Counts
	if counts["lost"] != 0 || counts["completed"] != 2 || counts["failed"] != 1 || counts["deferred"] != 1 {
		t.Fatalf("counts %v; want 2 completed, 1 failed, 1 deferred, none lost\n%s", counts, logs.String())
	}
	if !strings.Contains(logs.String(), "holding the item and trying again") {
		t.Fatalf("no retry was logged; the locks did not outlast the lock wait?\n%s", logs.String())
	}
	if r := b.row(t, "fail.fits"); !r.failed {
		t.Fatalf("fail.fits row %+v, want failed", r)
	}
	var left int
	b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE fail_dt = '9999-12-31 23:59:59.999999'`).Scan(&left)
	if left != 0 || len(j.open) != 0 {
		t.Fatalf("%d rows left, %d claims still journaled", left, len(j.open))
	}
}

// Connections killed under the pool (pg_terminate_backend, as a server restart or an
// admin does) fail statements; the pool retries them and every item ends exactly once.
func TestPoolSurvivesTerminatedConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	if _, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 4, '0') FROM generate_series(1, 200) i`); err != nil {
		t.Fatal(err)
	}
	admin := pgtest.Conn(t, b.url)
	var adminMu sync.Mutex
	kill := func() {
		adminMu.Lock()
		defer adminMu.Unlock()
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Error(err)
		}
	}
	poolDB := pgtest.Pool(t, b.url)
	var mu sync.Mutex
	seen := map[string]int{}
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		seen[it.Label]++
		n, times := len(seen), seen[it.Label]
		mu.Unlock()
		if n%40 == 0 {
			kill()
		}
		switch {
		case n%7 == 0 && times == 1:
			return queue.DeferFor(time.Millisecond), nil
		case it.Label == "f13.fits":
			return queue.Result{}, errors.New("broken")
		}
		return queue.Complete, nil
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, Logger: testLogger(&logs)}, poolDB, handler, 4)
	if err := runPool(t, pool, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var left, failed int
	adminMu.Lock()
	err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE fail_dt = '9999-12-31 23:59:59.999999'), count(*) FILTER (WHERE fail_dt < '9999-12-31') FROM ingestqueue`).Scan(&left, &failed)
	adminMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	counts := pool.State()[0].Counts
	if left != 0 || failed != 1 || counts["lost"] != 0 || len(seen) != 200 {
		t.Fatalf("left %d, failed %d, counts %v, distinct items %d\n%s", left, failed, counts, len(seen), logs.String())
	}
	if !strings.Contains(logs.String(), "terminat") {
		t.Fatalf("no statement met a terminated connection; the test proved nothing\n%s", logs.String())
	}
}

// uuidBytes is a uuid as the binary protocol sends it.
func uuidBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("uuid %q: %v", s, err)
	}
	return b
}

// A statement that reached the server but whose answer never came back (the connection
// dropped after the server ran it): the pool must not lose, repeat or mis-count the item.
func TestPoolWhenTheAnswerIsLost(t *testing.T) {
	t.Parallel()
	type expect struct{ completed, deferred, failed, released int }
	cases := []struct {
		name    string
		holder  string
		arm     func(t *testing.T, p *pgtest.Proxy, it queue.Item, run int) (queue.Result, error)
		want    expect
		leftFor string // a file whose row stays (failed)
	}{
		{name: "claim", holder: "lose-the-claim", want: expect{completed: 5},
			arm: func(*testing.T, *pgtest.Proxy, queue.Item, int) (queue.Result, error) { return queue.Complete, nil }},
		{name: "complete", want: expect{completed: 5},
			arm: func(t *testing.T, p *pgtest.Proxy, it queue.Item, run int) (queue.Result, error) {
				if it.Label == "f3.fits" {
					p.LoseAnswer(uuidBytes(t, it.Token), []byte(it.Token))
				}
				return queue.Complete, nil
			}},
		{name: "defer", want: expect{completed: 5, deferred: 1},
			arm: func(t *testing.T, p *pgtest.Proxy, it queue.Item, run int) (queue.Result, error) {
				if it.Label == "f3.fits" && run == 1 {
					p.LoseAnswer(uuidBytes(t, it.Token), []byte(it.Token))
					return queue.DeferFor(time.Millisecond), nil
				}
				return queue.Complete, nil
			}},
		{name: "fail", want: expect{completed: 4, failed: 1}, leftFor: "f3.fits",
			arm: func(t *testing.T, p *pgtest.Proxy, it queue.Item, run int) (queue.Result, error) {
				if it.Label == "f3.fits" {
					p.LoseAnswer([]byte("broken-f3-marker"))
					return queue.Result{}, errors.New("broken-f3-marker")
				}
				return queue.Complete, nil
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := newContract(t)
			b.add(t, "f1.fits", "f2.fits", "f3.fits", "f4.fits", "f5.fits")
			proxy, proxyURL := pgtest.NewProxy(t, b.url)
			if c.holder != "" {
				proxy.LoseAnswer([]byte(c.holder))
			}
			var mu sync.Mutex
			runs := map[string]int{}
			attempts := map[string]int{}
			handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
				mu.Lock()
				runs[it.Label]++
				n := runs[it.Label]
				attempts[it.Label] += it.Attempts
				mu.Unlock()
				return c.arm(t, proxy, it, n)
			}
			var logs syncBuffer
			// Lease 3s: orphaned claims are swept (no attempt) long before they could expire.
			pool := poolFor(queue.PoolConfig{Empty: true, Lease: 3 * time.Second, NoListen: true, Holder: c.holder,
				Logger: testLogger(&logs)}, pgtest.Pool(t, proxyURL), handler, 2)
			if err := runPool(t, pool, time.Minute); err != nil {
				t.Fatal(err)
			}
			if proxy.Lost() != 1 {
				t.Fatalf("the proxy dropped %d answers, want 1: the test proved nothing\n%s", proxy.Lost(), logs.String())
			}
			counts := pool.State()[0].Counts
			got := expect{int(counts["completed"]), int(counts["deferred"]), int(counts["failed"]), int(counts["released"])}
			if got != c.want || counts["lost"] != 0 {
				t.Fatalf("counts %v, want %+v and none lost\n%s", counts, c.want, logs.String())
			}
			for name, n := range runs {
				if want := 1; n != want && !(c.name == "defer" && name == "f3.fits" && n == 2) {
					t.Fatalf("%s ran %d times", name, n)
				}
				if attempts[name] != 0 {
					t.Fatalf("%s was claimed after a counted death: its orphaned claim expired instead of being swept\n%s", name, logs.String())
				}
			}
			var left int
			b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE filename <> $1`, c.leftFor).Scan(&left)
			if left != 0 {
				t.Fatalf("%d rows left", left)
			}
			if c.leftFor != "" {
				if r := b.row(t, c.leftFor); !r.failed {
					t.Fatalf("%s: %+v, want failed", c.leftFor, r)
				}
			}
		})
	}
}

// A row claimed under the pool's owner that the pool does not hold (a claim whose answer
// never arrived, before any sweep) is not kept alive by the heartbeat: it expires and is
// rescued, while the item the pool works on keeps its lease.
func TestPoolHeartbeatLetsForgottenClaimsExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "held.fits", "N20200101S0001.fits")
	const lease = 900 * time.Millisecond
	if _, err := b.db.Exec(ctx, `UPDATE ingestqueue SET inprogress = true, claim_token = gen_random_uuid(), owner = $1,
		holder = 'test/forgotten', claimed_at = now(), lease_until = now() + interval '900 milliseconds'
		WHERE filename = 'N20200101S0001.fits'`, owner); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	attempts := map[string]int{}
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		attempts[it.Label] = it.Attempts
		mu.Unlock()
		if it.Label == "held.fits" {
			<-release
		}
		return queue.Complete, nil
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: lease, Logger: testLogger(&logs)}, b.db, handler, 2)
	done := make(chan error, 1)
	go func() { done <- runPool(t, pool, time.Minute) }()
	// The forgotten row must be rescued (attempt counted) and worked; the held one, held for
	// four more leases, never.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		_, forgottenWorked := attempts["N20200101S0001.fits"]
		mu.Unlock()
		if forgottenWorked {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the forgotten claim was never rescued\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(4 * lease)
	if r := b.row(t, "held.fits"); !r.inprogress || r.attempts != 0 {
		close(release)
		t.Fatalf("held.fits %+v: the heartbeat did not keep the held item's lease", r)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts["N20200101S0001.fits"] != 1 || attempts["held.fits"] != 0 {
		t.Fatalf("attempts %v: want the forgotten claim rescued once (expired), the held one never", attempts)
	}
}

// A clean stop leaves nothing claimed by the stopping process: rows of its owner that it
// did not track are released (no attempt) and logged.
func TestStopReleasesStragglers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits")
	if _, err := b.db.Exec(ctx, `UPDATE ingestqueue SET inprogress = true, claim_token = gen_random_uuid(), owner = $1,
		holder = 'test/stray', claimed_at = now(), lease_until = now() + interval '1 hour'`, owner); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Lease: time.Hour, Logger: testLogger(&logs)}, b.db,
		func(context.Context, queue.Item) (queue.Result, error) { return queue.Complete, nil }, 1)
	run := runBackground(ctx, pool)
	time.Sleep(300 * time.Millisecond)
	run.stop()
	if err := <-run.done; err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	r := b.row(t, "N20200101S0001.fits")
	if r.inprogress || r.attempts != 0 || !r.exists {
		t.Fatalf("straggler after the stop: %+v; want pending, no attempt", r)
	}
	if !strings.Contains(logs.String(), "straggler") || !strings.Contains(logs.String(), "N20200101S0001.fits") {
		t.Fatalf("the straggler was not logged by name:\n%s", logs.String())
	}
}

// With the database unreachable a stop logs what it leaves, returns an error within the
// grace period plus the cleanup, and keeps the claims journaled for the next start.
func TestStopWithTheDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "slow1.fits", "slow2.fits")
	proxy, proxyURL := pgtest.NewProxy(t, b.url)
	started := make(chan struct{}, 2)
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		return queue.Result{}, ctx.Err()
	}
	j := &memJournal{open: map[string]bool{}, outcomes: map[string]int{}}
	var logs syncBuffer
	const grace, cleanup = 200 * time.Millisecond, time.Second
	pool := poolFor(queue.PoolConfig{Lease: time.Minute, Grace: grace, Cleanup: cleanup, LockWait: 200 * time.Millisecond,
		NoListen: true, Journal: j, Logger: testLogger(&logs)}, pgtest.Pool(t, proxyURL), handler, 2)
	run := runBackground(ctx, pool)
	waitStarted(t, started, 2)
	proxy.Down(true)
	proxy.Cut()
	stopped := time.Now()
	run.stop()
	select {
	case err := <-run.done:
		if err == nil || !strings.Contains(err.Error(), "left") {
			t.Fatalf("stop with the database unreachable = %v; want an error saying what is left", err)
		}
		if d := time.Since(stopped); d > grace+cleanup+3*time.Second {
			t.Fatalf("stop took %s, more than grace + cleanup", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stop hangs with the database unreachable")
	}
	if !strings.Contains(logs.String(), "slow1.fits") || !strings.Contains(logs.String(), "slow2.fits") {
		t.Fatalf("the items left were not logged by name:\n%s", logs.String())
	}
	if len(j.open) != 2 {
		t.Fatalf("journal holds %d claims, want the 2 left for the next start", len(j.open))
	}
	var claimed int
	b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE inprogress AND owner = $1`, owner).Scan(&claimed)
	if claimed != 2 {
		t.Fatalf("%d rows claimed by the stopped pool, want 2 (nothing could release them)", claimed)
	}
	// The next start, with the database back, releases them from the journal.
	proxy.Down(false)
	next := poolFor(queue.PoolConfig{Lease: time.Minute, NoListen: true, Journal: j}, b.db, handler, 1)
	if err := next.RecoverJournal(ctx); err != nil {
		t.Fatal(err)
	}
	b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE inprogress`).Scan(&claimed)
	if claimed != 0 || len(j.open) != 0 {
		t.Fatalf("after the next start: %d claimed, %d journaled", claimed, len(j.open))
	}
}

// A run killed after a claim committed and before its journal recorded the claim leaves
// rows that only the run's owner names (the journal records the owner before the first
// claim). The next start releases them by that owner, each counting an attempt, and looks
// once more when a claim the dead run had sent can no longer commit: a claim of the dead
// run committing after the start is released then. Rows of an owner the journal never
// recorded (another agent's) stay claimed. A clean stop forgets the run.
func TestRestartReleasesClaimsItsJournalHadNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits", "N20200101S0002.fits", "N20200101S0003.fits", "N20200101S0004.fits",
		"N20200101S0005.fits", "N20200101S0006.fits")
	const dead, other = "d1e5d1e5-0000-4000-8000-00000000dead", "07e07e07-0000-4000-8000-0000000007e0"
	j := &memJournal{open: map[string]bool{}, outcomes: map[string]int{}}
	if err := j.Began("ingest", dead); err != nil {
		t.Fatal(err)
	}
	deadQ := queue.New(b.db, queue.Ingest(), queue.Options{Owner: dead, Lease: time.Hour})
	unjournaled, err := deadQ.Claim(ctx, []string{"dead/ingest-0", "dead/ingest-1"})
	if err != nil || len(unjournaled) != 2 {
		t.Fatalf("the dead run's claim: %d items, %v", len(unjournaled), err)
	}
	theirs, err := queue.New(b.db, queue.Ingest(), queue.Options{Owner: other, Lease: time.Hour}).Claim(ctx, []string{"other/ingest-0"})
	if err != nil || len(theirs) != 1 {
		t.Fatalf("the other agent's claim: %d items, %v", len(theirs), err)
	}
	inProgressOf := func(o string) int {
		var n int
		if err := b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue WHERE inprogress AND owner = $1`, o).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	started := make(chan struct{}, 8)
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		return queue.Result{}, ctx.Err()
	}
	var logs syncBuffer
	// The second look comes after the pool's ClaimTimeout (LockWait + 5 s): time enough,
	// even on a loaded machine, for the late claim below to commit before it.
	const lockWait = 2 * time.Second
	pool := poolFor(queue.PoolConfig{Lease: time.Hour, LockWait: lockWait, Grace: 10 * time.Millisecond, NoListen: true,
		Journal: j, Logger: testLogger(&logs)}, b.db, handler, 1)
	if err := pool.RecoverJournal(ctx); err != nil {
		t.Fatal(err)
	}
	if n := inProgressOf(dead); n != 0 {
		t.Fatalf("%d rows of the dead run still claimed after the start\n%s", n, logs.String())
	}
	for _, it := range unjournaled {
		var attempts int
		if err := b.db.QueryRow(ctx, `SELECT attempts FROM ingestqueue WHERE filename = $1 AND NOT inprogress`, it.Label).Scan(&attempts); err != nil || attempts != 1 {
			t.Fatalf("%s after the start: attempts %d, %v; want pending with one attempt (its holder died)", it.Label, attempts, err)
		}
		if !strings.Contains(logs.String(), it.Label) {
			t.Fatalf("the release of %s was not logged:\n%s", it.Label, logs.String())
		}
	}

	run := runBackground(ctx, pool)
	defer run.stop()
	waitStarted(t, started, 1)
	// The dead run's last claim commits only now (it was in flight on the server).
	late, err := deadQ.Claim(ctx, []string{"dead/ingest-0"})
	if err != nil || len(late) != 1 {
		t.Fatalf("the dead run's late claim: %d items, %v", len(late), err)
	}
	// The server ends a claim statement after ClaimTimeout: by then the pool looks again.
	deadline := time.Now().Add(deadQ.ClaimTimeout() + 15*time.Second)
	for inProgressOf(dead) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the dead run's late claim of %s is still held\n%s", late[0].Label, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for runs, _ := j.Runs("ingest"); len(runs) != 1 || runs[0] != owner; runs, _ = j.Runs("ingest") {
		if time.Now().After(deadline) {
			t.Fatalf("journaled runs %v, want only this run's (%s): the dead run is not forgotten after its second release", runs, owner)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), late[0].Label) {
		t.Fatalf("the late claim's release was not logged:\n%s", logs.String())
	}
	run.stop()
	if err := <-run.done; err != nil {
		t.Fatal(err)
	}
	if runs, _ := j.Runs("ingest"); len(runs) != 0 {
		t.Fatalf("runs journaled after a clean stop: %v, want none", runs)
	}
	if n := inProgressOf(other); n != 1 {
		t.Fatalf("the other agent holds %d rows, want its 1 untouched", n)
	}
}

// A handler that meets a transient database error (here a real lock timeout) puts the
// item back without counting an attempt or failing it; it runs again and completes.
func TestTransientHandlerErrorPutsTheItemBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits")
	// Another session holds a lock the handler needs.
	blocker := pgtest.Conn(t, b.url)
	btx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btx.Exec(ctx, `LOCK TABLE file IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seenAttempts []int
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		seenAttempts = append(seenAttempts, it.Attempts)
		first := len(seenAttempts) == 1
		mu.Unlock()
		if first {
			tx, err := b.db.Begin(ctx)
			if err != nil {
				return queue.Result{}, err
			}
			defer tx.Rollback(ctx)
			tx.Exec(ctx, `SET LOCAL lock_timeout = '50ms'`)
			_, err = tx.Exec(ctx, `SELECT count(*) FROM file`)
			btx.Rollback(ctx)
			return queue.Result{}, fmt.Errorf("read the file table: %w", err)
		}
		return queue.Complete, nil
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, Logger: testLogger(&logs)}, b.db, handler, 1)
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	counts := pool.State()[0].Counts
	if counts["failed"] != 0 || counts["released"] != 1 || counts["completed"] != 1 {
		t.Fatalf("counts %v; want released once then completed\n%s", counts, logs.String())
	}
	if len(seenAttempts) != 2 || seenAttempts[1] != 0 {
		t.Fatalf("attempts seen %v; want two runs, no attempt counted", seenAttempts)
	}
}

// A handler that cannot reach the database (a restart, a pooler refusing logins for a
// while) more often than transient errors are allowed in a row: the item is put back each
// time, never counted and never failed, and completes once the database answers.
func TestUnavailableDatabaseNeverFailsTheItem(t *testing.T) {
	t.Parallel()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits")
	var mu sync.Mutex
	runs := 0
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		runs++
		n := runs
		mu.Unlock()
		if n <= 8 {
			_, err := pgconn.Connect(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
			return queue.Result{}, fmt.Errorf("begin ingest of %s: %w", it.Label, err)
		}
		return queue.Complete, nil
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, RetryDelay: 5 * time.Millisecond, Logger: testLogger(&logs)}, b.db, handler, 1)
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	counts := pool.State()[0].Counts
	if counts["failed"] != 0 || counts["released"] != 8 || counts["completed"] != 1 {
		t.Fatalf("counts %v; want 8 put-backs, then completed\n%s", counts, logs.String())
	}
}

// A release at stop whose answer is lost: the pool tries again, finds the row pending, and
// the stop still ends with nothing claimed and nothing counted lost.
func TestStopReleaseWhoseAnswerIsLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "slow.fits")
	proxy, proxyURL := pgtest.NewProxy(t, b.url)
	started := make(chan struct{}, 1)
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		proxy.LoseAnswer(uuidBytes(t, it.Token), []byte(it.Token))
		return queue.Result{}, ctx.Err()
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Lease: time.Minute, Grace: 100 * time.Millisecond, NoListen: true,
		Logger: testLogger(&logs)}, pgtest.Pool(t, proxyURL), handler, 1)
	run := runBackground(ctx, pool)
	waitStarted(t, started, 1)
	run.stop()
	if err := <-run.done; err != nil {
		t.Fatalf("stop: %v\n%s", err, logs.String())
	}
	if proxy.Lost() != 1 {
		t.Fatalf("the proxy dropped %d answers, want 1\n%s", proxy.Lost(), logs.String())
	}
	counts := pool.State()[0].Counts
	if r := b.row(t, "slow.fits"); !r.exists || r.inprogress || r.attempts != 0 {
		t.Fatalf("row after the stop %+v; want pending, no attempt", r)
	}
	if counts["released"] != 1 || counts["lost"] != 0 {
		t.Fatalf("counts %v; want 1 released, none lost\n%s", counts, logs.String())
	}
}

// A handler whose database connection drops mid-statement gets a bare io.ErrUnexpectedEOF
// from pgx: the item is put back (no attempt), not failed, and completes on its next run.
func TestHandlerConnectionDropPutsTheItemBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits")
	proxy, proxyURL := pgtest.NewProxy(t, b.url)
	db := pgtest.Pool(t, proxyURL)
	var mu sync.Mutex
	var attempts []int
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		attempts = append(attempts, it.Attempts)
		first := len(attempts) == 1
		mu.Unlock()
		if first {
			time.AfterFunc(300*time.Millisecond, proxy.Cut)
			var one int
			err := db.QueryRow(ctx, `SELECT 1 FROM pg_sleep(3)`).Scan(&one)
			return queue.Result{}, fmt.Errorf("file row of %s: %w", it.Label, err)
		}
		return queue.Complete, nil
	}
	var logs syncBuffer
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, NoListen: true, Logger: testLogger(&logs)}, db, handler, 1)
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	counts := pool.State()[0].Counts
	if counts["failed"] != 0 || counts["released"] != 1 || counts["completed"] != 1 {
		t.Fatalf("counts %v; want the dropped connection put back, then completed\n%s", counts, logs.String())
	}
	if len(attempts) != 2 || attempts[1] != 0 {
		t.Fatalf("attempts %v; want two runs and no attempt counted", attempts)
	}
	var left int
	b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d rows left", left)
	}
}

// A handler error marked Permanent fails the item even when it wraps an error a dropped
// connection also produces (a truncated file ends in io.ErrUnexpectedEOF too).
func TestPermanentHandlerErrorFails(t *testing.T) {
	t.Parallel()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits.bz2")
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		return queue.Result{}, queue.Permanent(fmt.Errorf("corrupt compressed file: %w", io.ErrUnexpectedEOF))
	}
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute}, b.db, handler, 1)
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := b.row(t, "N20200101S0001.fits.bz2"); !r.failed {
		t.Fatalf("row %+v, want failed", r)
	}
}

// A handler whose error is transient every time does not loop for ever: after five
// put-backs in a row the item fails, with the error and the count.
func TestEndlessTransientErrorFailsTheItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits")
	runs := 0
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		runs++
		return queue.Result{}, fmt.Errorf("calibration lookup: %w", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"})
	}
	// Put-backs wait 10 ms, doubling (2 s by default).
	pool := poolFor(queue.PoolConfig{Empty: true, Lease: time.Minute, RetryDelay: 10 * time.Millisecond}, b.db, handler, 1)
	if err := runPool(t, pool, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var msg string
	if err := b.db.QueryRow(ctx, `SELECT error FROM ingestqueue WHERE fail_dt < '9999-12-31'`).Scan(&msg); err != nil {
		t.Fatalf("the item did not fail: %v (runs %d)", err, runs)
	}
	if runs != 6 || !strings.Contains(msg, "statement timeout") || !strings.Contains(msg, "6 times in a row") {
		t.Fatalf("runs %d, error %q; want 6 runs and a failure that says why", runs, msg)
	}
}

// In Empty mode the pool returns once every queue reported idle, but an item that a queue
// took after its report still runs to its end: nothing is cancelled or left pending.
func TestEmptyModeLetsLateItemsFinish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	if _, err := b.db.Exec(ctx, `CREATE TABLE secondqueue (LIKE ingestqueue INCLUDING ALL)`); err != nil {
		t.Fatal(err)
	}
	second := queue.Spec{Name: "second", Table: "secondqueue", RunKey: func(a string) string { return a + ".filename" },
		PendingKey: []string{"sortkey", "path", "filename"}, Order: []string{"sortkey", "path", "filename"},
		Payload: []string{"filename"}, Label: "filename"}
	b.add(t, "slow.fits")
	var mu sync.Mutex
	var secondDone, secondCancelled bool
	slow := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		// The second queue has reported idle by now; give it work, then finish.
		time.Sleep(500 * time.Millisecond)
		if _, err := b.db.Exec(ctx, `INSERT INTO secondqueue (filename, path, sortkey) VALUES ('late.fits', '', 'x')`); err != nil {
			return queue.Result{}, err
		}
		time.Sleep(300 * time.Millisecond)
		return queue.Complete, nil
	}
	late := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		select {
		case <-time.After(1500 * time.Millisecond):
			mu.Lock()
			secondDone = true
			mu.Unlock()
			return queue.Complete, nil
		case <-ctx.Done():
			mu.Lock()
			secondCancelled = true
			mu.Unlock()
			return queue.Result{}, ctx.Err()
		}
	}
	pool := queue.NewPool(queue.PoolConfig{DB: b.db, Owner: owner, Holder: "test", Lease: time.Minute, Poll: 50 * time.Millisecond,
		Empty: true, Grace: 30 * time.Second, Queues: []queue.Workers{
			{Spec: queue.Ingest(), Count: 1, Handler: slow},
			{Spec: second, Count: 1, Handler: late},
		}})
	if err := runPool(t, pool, time.Minute); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var left int
	b.db.QueryRow(ctx, `SELECT count(*) FROM secondqueue`).Scan(&left)
	if secondCancelled || (left != 0 && !secondDone) {
		t.Fatalf("the late item was cancelled (%v) or left (%d rows)", secondCancelled, left)
	}
}

// A lease that expires while its holder's process still has a session on the server (the
// process stopped, or its heartbeat could not reach a loaded database in time) is rescued
// like any other, but no death is counted against the item: the poison guard counts the
// deaths of holders, and this one lives. A holder with no session left died: one attempt.
func TestRescueCountsNoDeathForAHolderThatLives(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits", "N20200101S0002.fits")
	q := queue.New(b.db, queue.Ingest(), queue.Options{Owner: owner, Lease: 300 * time.Millisecond})
	// Newest first: S0002 goes to the live holder, S0001 to the gone one.
	items, err := q.Claim(ctx, []string{"testhost/4242/alive/ingest-0", "testhost/4243/gone/ingest-0"})
	if err != nil || len(items) != 2 || items[0].Label != "N20200101S0002.fits" {
		t.Fatalf("claim: %v %v", items, err)
	}
	// The live holder's process: a connection named as agentd names its own, in a
	// transaction that names its worker (as ingest does) and another that does not.
	cfg, err := pgx.ParseConfig(b.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "testhost/4242/alive"
	live, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(ctx)
	time.Sleep(500 * time.Millisecond) // both leases expire
	if n, err := q.Rescue(ctx); err != nil || n != 2 {
		t.Fatalf("rescue = %d, %v; want the 2 expired claims", n, err)
	}
	if r := b.row(t, "N20200101S0002.fits"); r.inprogress || r.attempts != 0 {
		t.Errorf("the live holder's item: %+v; want pending, no death counted", r)
	}
	if r := b.row(t, "N20200101S0001.fits"); r.inprogress || r.attempts != 1 {
		t.Errorf("the gone holder's item: %+v; want pending, one death counted", r)
	}

	// Its worker's transaction names itself host/pid/name/queue-i: still the live process.
	items, err = q.Claim(ctx, []string{"testhost/4242/alive/ingest-1"})
	if err != nil || len(items) != 1 {
		t.Fatalf("claim: %v %v", items, err)
	}
	tx, err := live.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the test's end
	if _, err := tx.Exec(ctx, `SELECT set_config('application_name', 'testhost/4242/alive/ingest-1', true)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n, err := q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("rescue = %d, %v; want 1", n, err)
	}
	before := map[string]int{"N20200101S0002.fits": 0, "N20200101S0001.fits": 1}[items[0].Label]
	if r := b.row(t, items[0].Label); r.inprogress || r.attempts != before {
		t.Errorf("the live worker's item %s: %+v; want pending with %d attempts still", items[0].Label, r, before)
	}
}

// Through a transaction pooler a live process may have no session of its own: a claim it
// made in the last half lease shows it lives, and its lapsed lease counts no death.
func TestRescueCountsNoDeathForAHolderThatClaimsStill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newContract(t)
	b.add(t, "N20200101S0001.fits", "N20200101S0002.fits", "N20200101S0003.fits")
	const lease = 2 * time.Second
	busy := queue.New(b.db, queue.Ingest(), queue.Options{Owner: "5b0d7c3e-6d0a-4b8e-9a51-0c1f2e3d4a5b", Lease: lease})
	gone := queue.New(b.db, queue.Ingest(), queue.Options{Owner: "0f4e2d1c-3b5a-4c69-8d7e-9f0a1b2c3d4e", Lease: lease})
	if items, err := busy.Claim(ctx, []string{"testhost/5000/busy/ingest-0"}); err != nil || len(items) != 1 || items[0].Label != "N20200101S0003.fits" {
		t.Fatalf("claim: %v %v", items, err)
	}
	if items, err := gone.Claim(ctx, []string{"testhost/5001/gone/ingest-0"}); err != nil || len(items) != 1 {
		t.Fatalf("claim: %v %v", items, err)
	}
	time.Sleep(lease + 200*time.Millisecond) // both leases expire; neither process has a session
	if items, err := busy.Claim(ctx, []string{"testhost/5000/busy/ingest-1"}); err != nil || len(items) != 1 {
		t.Fatalf("claim: %v %v", items, err) // the busy one claims again: it lives
	}
	if n, err := busy.Rescue(ctx); err != nil || n != 2 {
		t.Fatalf("rescue = %d, %v; want the 2 expired claims", n, err)
	}
	if r := b.row(t, "N20200101S0003.fits"); r.inprogress || r.attempts != 0 {
		t.Errorf("the item of the process that claims still: %+v; want pending, no death counted", r)
	}
	if r := b.row(t, "N20200101S0002.fits"); r.inprogress || r.attempts != 1 {
		t.Errorf("the item of the gone process: %+v; want pending, one death counted", r)
	}
}
