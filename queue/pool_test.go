package queue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/queue"
)

// memJournal is an in-memory Journal for pool tests (agentd's is bbolt: internal/state).
type memJournal struct {
	mu       sync.Mutex
	open     map[string]bool
	outcomes map[string]int
	runs     []string
}

func (j *memJournal) Began(_, owner string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs = append(j.runs, owner)
	return nil
}

func (j *memJournal) Runs(string) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.runs), nil
}

func (j *memJournal) Finished(_ string, owners []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs = slices.DeleteFunc(j.runs, func(o string) bool { return slices.Contains(owners, o) })
	return nil
}

func (j *memJournal) Claimed(_ string, items []queue.Item) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, it := range items {
		j.open[it.Token] = true
	}
	return nil
}

func (j *memJournal) Ended(_ string, done []queue.Done) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, d := range done {
		delete(j.open, d.Item.Token)
		j.outcomes[d.Outcome]++
	}
	return nil
}

func (j *memJournal) Outstanding(string) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for t := range j.open {
		out = append(out, t)
	}
	return out, nil
}

// running is a pool run in the background.
type running struct {
	stop context.CancelFunc
	done chan error
}

// runBackground starts pool.Run; stop cancels it.
func runBackground(ctx context.Context, pool *queue.Pool) running {
	runCtx, stop := context.WithCancel(ctx)
	r := running{stop: stop, done: make(chan error, 1)}
	go func() { r.done <- pool.Run(runCtx) }()
	return r
}

// waitStarted waits for n signals on started (handlers that began), failing the test after
// 10 s.
func waitStarted(t *testing.T, started <-chan struct{}, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("items not started")
		}
	}
}

func TestPoolEmptiesQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	_, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || i FROM generate_series(1, 300) i`)
	if err != nil {
		t.Fatal(err)
	}
	b.add(t, "bad.fits", "later.fits")
	var mu sync.Mutex
	seen := map[string]int{}
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		mu.Lock()
		seen[it.Label]++
		n := seen[it.Label]
		mu.Unlock()
		switch {
		case it.Label == "bad.fits":
			return queue.Result{}, errors.New("not a FITS file")
		case it.Label == "later.fits" && n == 1:
			return queue.DeferFor(10 * time.Millisecond), nil
		}
		return queue.Complete, nil
	}
	j := &memJournal{open: map[string]bool{}, outcomes: map[string]int{}}
	pool := queue.NewPool(queue.PoolConfig{
		DB: b.db, Owner: owner, Holder: "test", Lease: time.Minute, Poll: 50 * time.Millisecond,
		Empty: true, Journal: j,
		Queues: []queue.Workers{{Spec: queue.Ingest(), Count: 4, Handler: handler}},
	})
	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := pool.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	if runCtx.Err() != nil {
		t.Fatal("pool did not return on an empty queue")
	}
	st, _ := b.q.Stats(ctx)
	if st.Pending != 0 || st.InProgress != 0 || st.Failed != 1 || st.Deferred != 0 {
		t.Fatalf("after the pool: %+v, want only the failed item left", st)
	}
	if !strings.Contains(st.Failures[0].Error, "not a FITS file") {
		t.Fatalf("failure text %q", st.Failures[0].Error)
	}
	if len(j.open) != 0 || j.outcomes["completed"] != 301 || j.outcomes["failed"] != 1 || j.outcomes["deferred"] != 1 {
		t.Fatalf("journal open %d, outcomes %v", len(j.open), j.outcomes)
	}
	for label, n := range seen {
		if n != 1 && label != "later.fits" {
			t.Fatalf("%s worked %d times", label, n)
		}
	}
	counts := pool.State()[0].Counts
	if counts["completed"] != 301 || counts["claimed"] != 303 {
		t.Fatalf("counts %v", counts)
	}
}

func TestPoolReleasesOnShutdownAfterGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	b.add(t, "slow1.fits", "slow2.fits")
	started := make(chan struct{}, 2)
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		started <- struct{}{}
		<-ctx.Done() // never finishes by itself
		return queue.Result{}, ctx.Err()
	}
	pool := queue.NewPool(queue.PoolConfig{
		DB: b.db, Owner: owner, Holder: "test", Lease: time.Minute, Grace: 100 * time.Millisecond,
		Queues: []queue.Workers{{Spec: queue.Ingest(), Count: 2, Handler: handler}},
	})
	run := runBackground(ctx, pool)
	waitStarted(t, started, 2)
	run.stop()
	select {
	case err := <-run.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pool did not stop after the grace period")
	}
	st, _ := b.q.Stats(ctx)
	if st.Pending != 2 || st.InProgress != 0 || st.Failed != 0 {
		t.Fatalf("after shutdown: %+v, want both items pending again", st)
	}
	items, _ := b.q.Claim(ctx, holders(2))
	for _, it := range items {
		if it.Attempts != 0 {
			t.Fatalf("a clean shutdown counted an attempt: %+v", it)
		}
	}
}

// A drained pool claims nothing and, with Empty, does not end while items are pending; the
// item it was working when drained finishes; resumed, it claims the rest and ends.
func TestPoolDrainStopsClaimsUntilResumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{})
	if _, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || i FROM generate_series(1, 50) i`); err != nil {
		t.Fatal(err)
	}
	var worked atomic.Int64
	release := make(chan struct{})
	first := make(chan struct{}, 1)
	handler := func(ctx context.Context, it queue.Item) (queue.Result, error) {
		if worked.Add(1) == 1 {
			first <- struct{}{}
			<-release // the first item runs across the drain
		}
		return queue.Complete, nil
	}
	pool := queue.NewPool(queue.PoolConfig{
		DB: b.db, Owner: owner, Holder: "test", Lease: time.Minute, Poll: 20 * time.Millisecond, Empty: true,
		Queues: []queue.Workers{{Spec: queue.Ingest(), Count: 1, Handler: handler}},
	})
	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r := runBackground(runCtx, pool)
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("no item started")
	}
	pool.Drain(true)
	if !pool.Drained() {
		t.Fatal("not drained")
	}
	close(release)
	// The running item and the one prefetched with it end and are settled (the pool holds
	// no claim); then nothing more is claimed.
	deadline := time.Now().Add(20 * time.Second)
	for pool.State()[0].Held > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("claims still held while drained: %+v", pool.State()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	settled := worked.Load()
	time.Sleep(time.Second)
	if n := worked.Load(); n != settled || n > 2 {
		t.Fatalf("%d items worked while drained (%d once the claims held were settled)", n, settled)
	}
	select {
	case err := <-r.done:
		t.Fatalf("the pool ended while drained with items pending: %v", err)
	default:
	}
	pool.Drain(false)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pool did not end once resumed")
	}
	if n := worked.Load(); n != 50 {
		t.Fatalf("%d items worked, want 50", n)
	}
}

// Claims are held while any reason holds them: lifting one of two leaves the pool drained,
// lifting both resumes it.
func TestPoolHoldReasons(t *testing.T) {
	t.Parallel()
	pool := queue.NewPool(queue.PoolConfig{Queues: []queue.Workers{{Spec: queue.Ingest(), Count: 1}}})
	pool.Hold("spot rebalance recommendation", true)
	pool.Drain(true)
	pool.Hold("spot rebalance recommendation", false)
	if !pool.Drained() || strings.Join(pool.Holds(), ",") != "drain" {
		t.Fatalf("after lifting one of two: drained %v, holds %v", pool.Drained(), pool.Holds())
	}
	pool.Drain(false)
	if pool.Drained() || len(pool.Holds()) != 0 {
		t.Fatalf("after lifting both: drained %v, holds %v", pool.Drained(), pool.Holds())
	}
}
