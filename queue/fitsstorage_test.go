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
	b := setup(t, queue.Options{Lease: 300 * time.Millisecond})
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
	time.Sleep(400 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 2 {
		// Our own claim of S0001 expired too (no heartbeat here).
		t.Fatalf("rescue after the lease: %d put back, %v; want 2", n, err)
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
