package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// insertIn runs one InsertTx in its own transaction.
func insertIn[T queue.NewItem](t *testing.T, db *pgxpool.Pool, ins *queue.Inserter[T], items []T) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	n, err := ins.InsertTx(ctx, tx, items)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func files(from, to int) []queue.IngestItem {
	var items []queue.IngestItem
	for i := from; i < to; i++ {
		items = append(items, queue.IngestItem{Filename: fmt.Sprintf("N20200101S%04d.fits", i), Path: "2020/20200101"})
	}
	return items
}

func count(t *testing.T, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Batches large and small add each pending key once and count only the new rows; a large
// batch that meets a pending key switches the Inserter to the careful path for good.
func TestInserterIsIdempotentOnThePendingKey(t *testing.T) {
	t.Parallel()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	var ins queue.Inserter[queue.IngestItem]
	if n := insertIn(t, db, &ins, files(0, 1000)); n != 1000 {
		t.Fatalf("first batch added %d, want 1000", n)
	}
	if n := insertIn(t, db, &ins, files(500, 1500)); n != 500 {
		t.Fatalf("overlapping batch added %d, want the 500 new ones", n)
	}
	if n := insertIn(t, db, &ins, files(1490, 1510)); n != 10 {
		t.Fatalf("small overlapping batch added %d, want 10", n)
	}
	if n := insertIn(t, db, &ins, files(0, 1510)); n != 0 {
		t.Fatalf("a batch of pending names added %d, want 0", n)
	}
	if n := count(t, db, `SELECT count(*) FROM ingestqueue`); n != 1510 {
		t.Fatalf("%d rows, want 1510", n)
	}
	// The rows are what FitsStorage and the claim expect: pending, not failed, sortkey set.
	if n := count(t, db, `SELECT count(*) FROM ingestqueue WHERE NOT inprogress AND fail_dt = `+queue.NotFailed+`
		AND sortkey IS NOT NULL AND added IS NOT NULL AND NOT force AND NOT force_md5`); n != 1510 {
		t.Fatalf("%d rows with the defaults, want 1510", n)
	}
	// A name pending at another path is another item.
	other := files(0, 100)
	for i := range other {
		other[i].Path = "elsewhere"
	}
	if n := insertIn(t, db, &ins, other); n != 100 {
		t.Fatalf("same names at another path added %d, want 100", n)
	}
}

// The optional columns are written when an item sets them (the table's defaults for the
// others of its batch), names are stored byte for byte whatever COPY's text format makes of
// tabs, newlines and backslashes, and calcache items carry their header id.
func TestInserterColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	after := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
	for _, size := range []int{3, 200} { // one INSERT … VALUES, then COPY
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			if _, err := db.Exec(ctx, `TRUNCATE ingestqueue`); err != nil {
				t.Fatal(err)
			}
			items := files(0, size)
			items[0] = queue.IngestItem{Filename: "odd\tname\\with\nthings.fits", Path: `a\b`, Force: true, ForceMD5: true, After: after}
			var ins queue.Inserter[queue.IngestItem]
			if n := insertIn(t, db, &ins, items); n != int64(size) {
				t.Fatalf("added %d, want %d", n, size)
			}
			var force, md5 bool
			var at time.Time
			if err := db.QueryRow(ctx, `SELECT force, force_md5, after FROM ingestqueue WHERE filename = $1 AND path = $2`,
				items[0].Filename, items[0].Path).Scan(&force, &md5, &at); err != nil {
				t.Fatalf("the odd name was not stored as given: %v", err)
			}
			if !force || !md5 || !at.Equal(after) {
				t.Errorf("force %v, force_md5 %v, after %v; want true, true, %v (naive UTC)", force, md5, at, after)
			}
			if n := count(t, db, `SELECT count(*) FROM ingestqueue WHERE NOT force AND NOT force_md5 AND after IS NULL`); n != size-1 {
				t.Errorf("%d rows with the defaults, want %d", n, size-1)
			}
		})
	}
	// The header ids are made up: this test is about the queue's rows, not the headers.
	if _, err := db.Exec(ctx, `ALTER TABLE calcachequeue DROP CONSTRAINT calcachequeue_obs_hid_fkey`); err != nil {
		t.Fatal(err)
	}
	var cal queue.Inserter[queue.CalcacheItem]
	calItems := []queue.CalcacheItem{{ObsHID: 7, Filename: "N20200101S0007.fits"}, {ObsHID: 8, Filename: "N20200101S0008.fits"}}
	if n := insertIn(t, db, &cal, calItems); n != 2 {
		t.Fatalf("calcache added %d, want 2", n)
	}
	if n := insertIn(t, db, &cal, calItems[:1]); n != 0 {
		t.Fatalf("a pending observation added %d, want 0", n)
	}
	if n := count(t, db, `SELECT count(*) FROM calcachequeue WHERE obs_hid IN (7, 8) AND sortkey IS NOT NULL AND NOT inprogress`); n != 2 {
		t.Fatalf("%d calcache rows, want 2", n)
	}
	// By COPY: a batch larger than one INSERT takes, the pending one among them skipped.
	var many []queue.CalcacheItem
	for id := int64(7); id < 207; id++ {
		many = append(many, queue.CalcacheItem{ObsHID: id, Filename: fmt.Sprintf("N20200101S%04d.fits", id)})
	}
	if n := insertIn(t, db, &cal, many); n != 198 {
		t.Fatalf("a COPY of 200 observations, 2 pending, added %d; want 198", n)
	}
	var pre queue.Inserter[queue.PreviewItem]
	var previews []queue.PreviewItem
	for id := int64(1); id <= 100; id++ {
		previews = append(previews, queue.PreviewItem{DiskfileID: id, Filename: "x.fits", Force: id%2 == 0})
	}
	if _, err := db.Exec(ctx, `ALTER TABLE previewqueue DROP CONSTRAINT previewqueue_diskfile_id_fkey`); err != nil {
		t.Fatal(err)
	}
	if n := insertIn(t, db, &pre, previews); n != 100 || count(t, db, `SELECT count(*) FROM previewqueue WHERE force`) != 50 {
		t.Fatalf("a COPY of 100 previews added %d (%d forced); want 100, 50 forced", n, count(t, db, `SELECT count(*) FROM previewqueue WHERE force`))
	}
}

// InsertTx works in the producer's transaction: a rollback takes its items with it, and a
// large batch that meets a pending key rolls back only its own savepoint, not the writes
// the producer made before it.
func TestInserterRunsInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	var ins queue.Inserter[queue.IngestItem]
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ins.InsertTx(ctx, tx, files(0, 100)); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	if n := count(t, db, `SELECT count(*) FROM ingestqueue`); n != 0 {
		t.Fatalf("%d rows after a rollback, want 0", n)
	}

	insertIn(t, db, &queue.Inserter[queue.IngestItem]{}, files(0, 100))
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO file (name) VALUES ('producer.fits')`); err != nil {
			return err
		}
		n, err := ins.InsertTx(ctx, tx, files(50, 250)) // direct COPY meets pending keys
		if err == nil && n != 150 {
			err = fmt.Errorf("added %d, want 150", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM file WHERE name = 'producer.fits'`); n != 1 {
		t.Fatalf("the producer's own write was lost with the conflicting COPY")
	}
	if n := count(t, db, `SELECT count(*) FROM ingestqueue`); n != 250 {
		t.Fatalf("%d rows, want 250", n)
	}
}

// A batch that adds rows announces them on the queue's channel, unless the Inserter is
// Quiet; a batch that adds nothing says nothing.
func TestInserterNotifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDB(t)
	db := pgtest.Pool(t, url)
	listener := pgtest.Conn(t, url)
	if _, err := listener.Exec(ctx, `LISTEN `+queue.Ingest().Channel()); err != nil {
		t.Fatal(err)
	}
	heard := func() bool {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := listener.WaitForNotification(wctx)
		return err == nil
	}
	insertIn(t, db, &queue.Inserter[queue.IngestItem]{}, files(0, 10))
	if !heard() {
		t.Fatal("no notification for new items")
	}
	insertIn(t, db, &queue.Inserter[queue.IngestItem]{}, files(0, 10))
	if heard() {
		t.Fatal("a notification for a batch that added nothing")
	}
	insertIn(t, db, &queue.Inserter[queue.IngestItem]{Quiet: true}, files(10, 20))
	if heard() {
		t.Fatal("a Quiet inserter notified")
	}
}
