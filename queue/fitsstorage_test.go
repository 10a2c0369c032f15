package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/queue"
)

// Rows FitsStorage's own software writes: its IngestQueue.add (every column it sets, naive
// UTC times, fail_dt = datetime.max) is claimed like ours; a second add of the same file is
// refused by its unique constraint, as FitsStorage expects; a row its pop() set in progress
// (no claim columns) neither breaks the status nor stays in progress for ever: the first
// rescue leases it, a rescue after the lease puts it back.
func TestRowsWrittenByFitsStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{Lease: 300 * time.Millisecond, ForeignLease: 600 * time.Millisecond})
	add := `INSERT INTO ingestqueue (filename, path, inprogress, fail_dt, added, force_md5, force, after, no_defer, sortkey, batch)
		VALUES ($1, '', $2, '9999-12-31 23:59:59.999999', now() AT TIME ZONE 'UTC', false, false, NULL, false, $3, 'fs')`
	if _, err := b.db.Exec(ctx, add, "N20200101S0001.fits", false, "z202001010001"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Exec(ctx, add, "N20200101S0001.fits", false, "z202001010001"); err == nil {
		t.Fatal("a second pending row of one file was accepted; FitsStorage's unique constraint must refuse it")
	}
	// What FitsStorage's pop() leaves: in progress, no token, no lease, no owner.
	if _, err := b.db.Exec(ctx, add, "N20200101S0002.fits", true, "z202001010002"); err != nil {
		t.Fatal(err)
	}
	st, err := b.q.Stats(ctx)
	if err != nil {
		t.Fatalf("status with a row FitsStorage set in progress: %v", err)
	}
	if st.Pending != 1 || len(st.Running) != 1 {
		t.Fatalf("status: %d pending, %d running; want 1 and 1", st.Pending, len(st.Running))
	}
	items, err := b.q.Claim(ctx, holders(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Label != "N20200101S0001.fits" {
		t.Fatalf("claimed %v; want FitsStorage's pending row", labels(items))
	}
	if n, err := b.q.Rescue(ctx); err != nil || n != 0 {
		t.Fatalf("first rescue: %d put back, %v; want the unleased row leased, not put back", n, err)
	}
	var holder string
	if err := b.db.QueryRow(ctx, `SELECT holder FROM ingestqueue WHERE filename = 'N20200101S0002.fits'`).Scan(&holder); err != nil || holder == "" {
		t.Fatalf("the unleased row was not leased: holder %q, %v", holder, err)
	}
	// Our own claim's lease ends first; FitsStorage's row keeps its longer one.
	time.Sleep(400 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("rescue after our lease: %d put back, %v; want 1 (ours), FitsStorage's row still leased", n, err)
	}
	time.Sleep(300 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("rescue after the foreign lease: %d put back, %v; want 1", n, err)
	}
	items, err = b.q.Claim(ctx, holders(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("after the rescue claimed %v; want both rows", labels(items))
	}
	lost, err := b.q.CompleteBatch(ctx, items)
	if err != nil || len(lost) != 0 {
		t.Fatalf("complete: lost %v, %v", labels(lost), err)
	}
	var left int
	if err := b.db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left after completing both, %v", left, err)
	}
}

// A row set in progress outside agentd has no owner. When its lease expires at its last
// attempt while agentd's own claims are recent (the rescue's test of life then has owners
// to compare its NULL with), it fails: the rescue ends it, never leaves it in progress.
func TestOwnerlessRowAtItsLastAttemptFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const lease = 5 * time.Second
	b := setup(t, queue.Options{Lease: lease, ForeignLease: 200 * time.Millisecond, MaxAttempts: 2})
	// A server started within a lease judges every holder alive (its sessions may still be
	// coming back), so the rescue would count no death: wait until it is older than that.
	var age time.Duration
	if err := b.db.QueryRow(ctx, `SELECT (extract(epoch FROM now() - pg_postmaster_start_time()) * 1e9)::bigint`).Scan(&age); err != nil {
		t.Fatal(err)
	}
	if age < lease+time.Second {
		time.Sleep(lease + time.Second - age)
	}
	if _, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey, inprogress, attempts)
		VALUES ('N20200101S0001.fits', '', 'z1', false, 0), ('N20200101S0002.fits', '', 'z2', true, 1)`); err != nil {
		t.Fatal(err)
	}
	if n, err := b.q.Rescue(ctx); err != nil || n != 0 {
		t.Fatalf("first rescue: %d ended, %v; want the unleased row leased", n, err)
	}
	if items, err := b.q.Claim(ctx, holders(1)); err != nil || len(items) != 1 {
		t.Fatalf("claim: %v, %v", labels(items), err)
	}
	time.Sleep(300 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("rescue after the foreign lease: %d ended, %v; want 1", n, err)
	}
	var inprogress, failed bool
	if err := b.db.QueryRow(ctx, `SELECT inprogress, fail_dt <> agentd_not_failed() FROM ingestqueue
		WHERE filename = 'N20200101S0002.fits'`).Scan(&inprogress, &failed); err != nil || inprogress || !failed {
		t.Fatalf("the ownerless row: in progress %v, failed %v (%v); want failed", inprogress, failed, err)
	}
}

// A failure FitsStorage recorded (no claim token) is re-armed by agentctl queue retry, and
// the older failures of the same file go.
func TestRetryReachesFailuresFitsStorageRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, queue.Options{Lease: time.Minute})
	if _, err := b.db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, inprogress, fail_dt, error, sortkey) VALUES
		('N20200101S0001.fits', '', false, '2020-01-01 00:00:00', 'old failure', 'z202001010001'),
		('N20200101S0001.fits', '', false, '2020-01-02 00:00:00', 'newest failure', 'z202001010001')`); err != nil {
		t.Fatal(err)
	}
	n, err := queue.Retry(ctx, b.db, queue.Ingest(), "N2020*")
	if err != nil || n != 1 {
		t.Fatalf("retry: %d re-armed, %v; want 1", n, err)
	}
	var rows, pending int
	if err := b.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE fail_dt = '9999-12-31 23:59:59.999999' AND error IS NULL)
		FROM ingestqueue`).Scan(&rows, &pending); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || pending != 1 {
		t.Fatalf("after retry: %d rows, %d pending; want the newest re-armed and the older deleted", rows, pending)
	}
}
