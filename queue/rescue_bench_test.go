package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// BenchmarkRescueNothingExpired is the rescue every agent runs on a timer (and, with
// --empty, each time it finds nothing to claim) while a fleet holds its claims: 2,400
// rows in progress (600 workers holding 4 items each), none of them expired. The statistics are
// those of the queue before the claims (analyzed full and pending), as they are on a
// server whose autovacuum has not come by since.
//
//	go test ./queue -run '^$' -bench RescueNothingExpired -count 5
func BenchmarkRescueNothingExpired(b *testing.B) {
	ctx := context.Background()
	q, _ := fleetHolding(b, 2400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := q.Rescue(ctx)
		if err != nil || n != 0 {
			b.Fatalf("rescued %d (none expired): %v", n, err)
		}
	}
}

// BenchmarkDeferOne is an agent's deferral of one young file (the requeue of one token)
// while a fleet holds 2,400 claims, with the statistics of the queue before the claims.
//
//	go test ./queue -run '^$' -bench DeferOne -count 5
func BenchmarkDeferOne(b *testing.B) {
	ctx := context.Background()
	q, held := fleetHolding(b, 2400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i >= len(held) {
			b.Fatalf("more rounds than claims held")
		}
		if err := q.Defer(ctx, held[i], time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// fleetHolding makes a queue of 20,000 items, analyzed while all were pending, and claims
// n of them (as a fleet holds its claims): the statistics then know of no row in progress.
func fleetHolding(b *testing.B, n int) (*queue.Queue, []queue.Item) {
	q, held, _ := queueHolding(b, 20000, n)
	return q, held
}

// queueHolding is fleetHolding with queued rows in the queue; it returns the database too.
func queueHolding(b *testing.B, queued, n int) (*queue.Queue, []queue.Item, *pgxpool.Pool) {
	ctx := context.Background()
	db := pgtest.Pool(b, pgtest.NewDB(b))
	if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0')
		FROM generate_series(1, $1) i`, queued); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, `VACUUM ANALYZE ingestqueue`); err != nil {
		b.Fatal(err)
	}
	q := queue.New(db, queue.Ingest(), queue.Options{Owner: owner})
	var held []queue.Item
	for len(held) < n {
		items, err := q.Claim(ctx, holders(min(192, n-len(held))))
		if err != nil || len(items) == 0 {
			b.Fatalf("claimed %d: %v", len(items), err)
		}
		held = append(held, items...)
	}
	return q, held, db
}

// BenchmarkHeartbeat is one agent's heartbeat of its 96 claims (8 workers holding 12 items)
// while a fleet holds 4,800, with the statistics of the queue before the claims. Its cost
// should be that of its own rows.
//
//	go test ./queue -run '^$' -bench Heartbeat -count 5
func BenchmarkHeartbeat(b *testing.B) {
	ctx := context.Background()
	_, held, db := queueHolding(b, 20000, 4800)
	tokens := make([]string, 96)
	for i := range tokens {
		tokens[i] = held[i].Token
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := queue.Heartbeat(ctx, db, []queue.Spec{queue.Ingest()}, [][]string{tokens}, owner, time.Minute)
		if err != nil || n["ingest"] != len(tokens) {
			b.Fatalf("renewed %v of %d: %v", n, len(tokens), err)
		}
	}
}
