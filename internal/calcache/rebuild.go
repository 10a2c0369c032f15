package calcache

import (
	"context"
	"fmt"
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
	// Progress, when set, is called after each batch with the running totals; Total is set
	// before the first batch.
	Progress func(Rebuilt)
}

// Rebuilt counts what a bulk rebuild did.
type Rebuilt struct {
	Total        int64   `json:"total"`        // observations selected
	Observations int64   `json:"observations"` // recomputed so far
	Rows         int64   `json:"rows"`         // calcache rows written
	Dequeued     int64   `json:"dequeued"`     // pending calcache queue items made redundant
	Seconds      float64 `json:"seconds"`
}

// Rebuild recomputes the calibration cache of every selected observation, set-based: the
// rules' statements over a batch of observations at a time, each batch in one transaction
// that also drops their pending calcache queue items. The result equals the per-item
// worker's on the same data. The run is recorded for agentctl calcache status.
func Rebuild(ctx context.Context, db *pgxpool.Pool, opt RebuildOptions) (Rebuilt, error) {
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
	last := int64(0)
	for {
		rows, err := db.Query(ctx, `SELECT id FROM header WHERE id > $1 AND `+selected+` ORDER BY id LIMIT $4`,
			last, since, opt.Instrument, opt.Batch)
		if err != nil {
			return sum, fmt.Errorf("select observations: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return sum, fmt.Errorf("select observations: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		var written, dropped int64
		err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var err error
			if written, err = Recompute(ctx, tx, ids); err != nil {
				return err
			}
			dropped, err = queue.DropPendingTx(ctx, tx, queue.Calcache(), ids)
			return err
		})
		if err != nil {
			return sum, err
		}
		last = ids[len(ids)-1]
		sum.Observations += int64(len(ids))
		sum.Rows += written
		sum.Dequeued += dropped
		if opt.Progress != nil {
			opt.Progress(sum)
		}
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
