package calcache

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/queue"
)

// DefaultBatch is how many observations a bulk rebuild recomputes per transaction.
const DefaultBatch = 2000

// RebuildOptions says which observations a bulk rebuild recomputes.
type RebuildOptions struct {
	Since      time.Time // observed at or after (zero: all)
	Instrument string    // header.instrument ("" = all)
	Batch      int       // observations per transaction (default DefaultBatch)
	Workers    int       // transactions side by side (default: this host's CPUs + 1)
	// Progress, when set, is called after each batch with the running totals; Total is set
	// before the first batch.
	Progress func(Rebuilt)
}

// Rebuilt counts what a bulk rebuild did.
type Rebuilt struct {
	Total        int64 `json:"total"`        // observations selected
	Observations int64 `json:"observations"` // recomputed so far
	Rows         int64 `json:"rows"`         // calcache rows written
	Dequeued     int64 `json:"dequeued"`     // pending calcache queue items made redundant
	// OneByOne counts the (observation, rule) pairs the set-based search left open and the
	// per-observation search answered (see setStatement): a handful in real data.
	OneByOne int64   `json:"one_by_one"`
	Seconds  float64 `json:"seconds"`
}

// Rebuild recomputes the calibration cache of every selected observation, set-based: the
// rules' statements over a batch of observations at a time, Workers batches side by side,
// each batch in one transaction that also drops their pending calcache queue items. The
// result equals the per-item worker's on the same data. The run is recorded for agentctl calcache status.
func (rs *Rules) Rebuild(ctx context.Context, db *pgxpool.Pool, opt RebuildOptions) (Rebuilt, error) {
	started := time.Now()
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	var since any
	if !opt.Since.IsZero() {
		since = opt.Since.UTC().Format("2006-01-02 15:04:05")
	}
	const selected = `($2::timestamp IS NULL OR ut_datetime >= $2) AND ($3 = '' OR instrument = $3)`
	var sum Rebuilt
	if err := db.QueryRow(ctx, `SELECT count(*) FROM header WHERE id > $1 AND `+selected, 0, since, opt.Instrument).Scan(&sum.Total); err != nil {
		return sum, fmt.Errorf("count the observations to rebuild: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(sum)
	}
	if opt.Workers <= 0 {
		// One more than the CPUs: a batch spends part of its time waiting for the WAL and
		// for pages, which another fills (a million headers on 2 CPUs: 627 s with two
		// side by side, 516 s with three).
		opt.Workers = runtime.NumCPU() + 1
	}
	// One goroutine reads batches of ids in order; the workers recompute them side by side
	// (disjoint batches: their locks never meet).
	batches := make(chan []int64, opt.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for w := 0; w < opt.Workers; w++ {
		wg.Add(1)
		go func() { // owner: Rebuild; exits when batches is closed
			defer wg.Done()
			for ids := range batches {
				var done recomputed
				var dropped int64
				err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
					var err error
					if done, err = rs.recomputeIDs(ctx, tx, ids); err != nil {
						return err
					}
					dropped, err = queue.DropPendingTx(ctx, tx, queue.Calcache(), ids)
					return err
				})
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				sum.Observations += int64(len(ids))
				sum.Rows += done.rows
				sum.OneByOne += done.oneByOne
				sum.Dequeued += dropped
				if opt.Progress != nil {
					opt.Progress(sum)
				}
				mu.Unlock()
			}
		}()
	}
	last := int64(0)
	for ctx.Err() == nil {
		rows, err := db.Query(ctx, `SELECT id FROM header WHERE id > $1 AND `+selected+` ORDER BY id LIMIT $4`,
			last, since, opt.Instrument, opt.Batch)
		if err != nil {
			fail(fmt.Errorf("select observations: %w", err))
			break
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			fail(fmt.Errorf("select observations: %w", err))
			break
		}
		if len(ids) == 0 {
			break
		}
		last = ids[len(ids)-1]
		select {
		case batches <- ids:
		case <-ctx.Done():
		}
	}
	close(batches)
	wg.Wait()
	if firstErr != nil {
		return sum, firstErr
	}
	sum.Seconds = time.Since(started).Seconds()
	var instrument any
	if opt.Instrument != "" {
		instrument = opt.Instrument
	}
	if _, err := db.Exec(ctx, `INSERT INTO agentd_calcache_rebuild (started, finished, since, instrument, observations, rows)
		VALUES ($1, now(), $2, $3, $4, $5)`, started, since, instrument, sum.Observations, sum.Rows); err != nil {
		return sum, fmt.Errorf("record the rebuild: %w", err)
	}
	return sum, nil
}
