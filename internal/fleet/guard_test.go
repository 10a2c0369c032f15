package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// The poison guard fails an item after five deaths of its holders. The rehearsal re-arms
// such an item only when it interrupted the item's holder at least as often itself: here
// a.fits was held by the agent the rehearsal "killed" at each of its five deaths, b.fits at
// two of them (its three other deaths nobody caused: a violation, left failed).
func TestPoisonGuardFailuresTheRehearsalCaused(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	for _, n := range []string{"a.fits", "b.fits"} {
		if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey) VALUES ($1, 'p', $1)`, n); err != nil {
			t.Fatal(err)
		}
	}
	q := queue.New(db, queue.Ingest(), queue.Options{Owner: "8c8a5a56-4e39-4c43-9a1d-1f4f8b0d0c01", Lease: time.Minute})
	in := newInterruptions()
	for death := 1; death <= queue.DefaultMaxAttempts; death++ {
		items, err := q.Claim(ctx, []string{"vm/78/b1/ingest-0", "vm/77/a1/ingest-0"}) // newest first
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 2 || items[0].Label != "b.fits" || items[1].Label != "a.fits" {
			t.Fatalf("death %d: claimed %v, want b.fits then a.fits", death, items)
		}
		if err := in.note(ctx, db, HolderLike("a1", 77), time.Second); err != nil {
			t.Fatal(err)
		}
		if death <= 2 {
			if err := in.note(ctx, db, HolderLike("b1", 78), time.Second); err != nil {
				t.Fatal(err)
			}
		}
		// Not the holder of another pid nor an agent whose name only starts alike.
		if err := in.note(ctx, db, HolderLike("a1", 7), time.Second); err != nil {
			t.Fatal(err)
		}
		if err := in.note(ctx, db, HolderLike("a", 77), time.Second); err != nil {
			t.Fatal(err)
		}
		var tokens []string
		for _, it := range items {
			tokens = append(tokens, it.Token)
		}
		if _, err := q.Release(ctx, tokens, true); err != nil { // the holder died
			t.Fatal(err)
		}
	}
	due, undue, err := in.retryDue(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].key.filename != "a.fits" || due[0].interrupted != 5 || due[0].attempts != 5 {
		t.Errorf("re-armed %v, want a.fits (5 deaths counted, 5 interruptions)", due)
	}
	if len(undue) != 1 || undue[0].key.filename != "b.fits" || undue[0].interrupted != 2 {
		t.Errorf("left failed %v, want b.fits (2 interruptions)", undue)
	}
	var pending, failed int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE fail_dt = `+queue.NotFailed+` AND NOT inprogress AND filename = 'a.fits'),
		count(*) FILTER (WHERE fail_dt <> `+queue.NotFailed+` AND filename = 'b.fits') FROM ingestqueue`).Scan(&pending, &failed); err != nil {
		t.Fatal(err)
	}
	if pending != 1 || failed != 1 {
		t.Errorf("a.fits pending %d, b.fits failed %d; want 1 and 1", pending, failed)
	}
}
