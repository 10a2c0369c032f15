package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/queue"
)

// BenchmarkClaimComplete is the fetcher's serial path on a quiet server: claim a batch of
// 192 rows of 20,000 queued, then complete them in one statement. It is the statement pair
// that bounds one process's throughput with no-op items (bench/queuebench, 100 workers).
// The variants change the indexes to show what each costs a claim ("lease-owner-ix": the
// lease and owner indexes migration 10 dropped):
//
//	go test ./queue -run '^$' -bench ClaimComplete -count 5
func BenchmarkClaimComplete(b *testing.B) {
	for _, v := range []struct {
		name string
		ddl  []string
	}{
		{"schema", nil},
		{"lease-owner-ix", []string{
			`CREATE INDEX ingestqueue_lease_ix ON ingestqueue (lease_until) WHERE inprogress`,
			`CREATE INDEX ingestqueue_owner_ix ON ingestqueue (owner) WHERE inprogress`}},
	} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.Pool(b, pgtest.NewDB(b))
			for _, ddl := range v.ddl {
				if _, err := db.Exec(ctx, ddl); err != nil {
					b.Fatal(err)
				}
			}
			q := queue.New(db, queue.Ingest(), queue.Options{Owner: owner})
			const batch, queued = 192, 20000 // 192: a size claimSize keeps
			fill := func() {
				if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
					SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0')
					FROM generate_series(1, $1) i ON CONFLICT DO NOTHING`, queued); err != nil {
					b.Fatal(err)
				}
				if _, err := db.Exec(ctx, `VACUUM ANALYZE ingestqueue`); err != nil {
					b.Fatal(err)
				}
			}
			fill()
			h := holders(batch)
			left := queued
			var claiming time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if left < batch {
					b.StopTimer()
					fill()
					left = queued
					b.StartTimer()
				}
				claiming += claimAndComplete(ctx, b, q, h)
				left -= batch
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1000, "µs/item")
			b.ReportMetric(float64(claiming.Nanoseconds())/float64(b.N*batch)/1000, "claim-µs/item")
		})
	}
}

// BenchmarkClaimWhileOthersHold is one agent's claim of 64 rows (its 8 workers' prefetch)
// and their completion while other claims are held: the 64 of one process, and the 4,800
// of a fleet of 600 workers holding 8 items each. With the statistics of the queue
// before the claims, as on a server whose autovacuum has not come by since. A claim's cost
// should not grow with the claims other agents hold:
//
//	go test ./queue -run '^$' -bench ClaimWhileOthersHold -count 5
func BenchmarkClaimWhileOthersHold(b *testing.B) {
	for _, held := range []int{64, 4800} {
		b.Run(fmt.Sprintf("held-%d", held), func(b *testing.B) {
			ctx := context.Background()
			q, _, _ := queueHolding(b, 200000, held) // enough rows for the iterations not to run dry
			const batch = 64
			h := holders(batch)
			var claiming time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				claiming += claimAndComplete(ctx, b, q, h)
			}
			b.ReportMetric(float64(claiming.Microseconds())/float64(b.N), "claim-µs")
		})
	}
}

// claimAndComplete claims a batch for holders h, completes it and returns how long the
// claim took.
func claimAndComplete(ctx context.Context, b *testing.B, q *queue.Queue, h []string) time.Duration {
	start := time.Now()
	items, err := q.Claim(ctx, h)
	took := time.Since(start)
	if err != nil || len(items) != len(h) {
		b.Fatalf("claimed %d of %d: %v", len(items), len(h), err)
	}
	if lost, err := q.CompleteBatch(ctx, items); err != nil || len(lost) > 0 {
		b.Fatalf("complete: %d lost, %v", len(lost), err)
	}
	return took
}
