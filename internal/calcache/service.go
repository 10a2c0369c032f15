package calcache

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/queue"
)

// lockSpace is the first key of the advisory locks that serialise the recomputation of one
// observation (the second is its header id): a worker and a bulk batch, or two workers
// after a rescue, never interleave their deletes and inserts.
const lockSpace = 0x63616c63 // "calc"

// Recompute replaces the calcache rows of the observations ids in tx: under a lock on each,
// their rows are deleted and every applicable rule's ranked matches inserted. It returns the
// rows inserted. An observation without instrument or time, or of qa_state Fail, keeps no
// rows.
func Recompute(ctx context.Context, tx pgx.Tx, ids []int64) (int64, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids) // locks in one order: no deadlock between batches
	ids = slices.Compact(ids)
	// One observation (the queue's worker): only the rules that apply to it, found first
	// with one query, each statement planned for it. A batch: every rule, the statements
	// filtering the batch themselves.
	var only [][]bool
	if len(ids) == 1 {
		var err error
		if only, err = applicableRules(ctx, tx, ids[0]); err != nil {
			return 0, err
		}
	}
	b := &pgx.Batch{}
	if len(ids) > 1 {
		// A plan for these ids, never the generic plan of a prepared statement: which index
		// serves a rule depends on how many observations there are.
		b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`)
	}
	b.Queue(`SELECT count(pg_advisory_xact_lock($1, id::int4)) FROM unnest($2::bigint[]) id`, lockSpace, ids)
	b.Queue(`DELETE FROM calcache WHERE obs_hid = ANY($1)`, ids)
	var inserted int64
	for i, set := range allSets() {
		for j, r := range set.Rules {
			if only != nil && !only[i][j] {
				continue
			}
			stmt := statement(set, r)
			if len(ids) > bulkFrom {
				stmt = bulkStatement(set, r)
			}
			b.Queue(stmt, ids).Exec(func(tag pgconn.CommandTag) error {
				inserted += tag.RowsAffected()
				return nil
			})
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("recompute the calibrations of %d observations: %w", len(ids), err)
	}
	return inserted, nil
}

// applicableRules says which rules of allSets apply to the observation id: [set][rule],
// all false when there is no such header.
func applicableRules(ctx context.Context, q pgx.Tx, id int64) ([][]bool, error) {
	sets := allSets()
	only := make([][]bool, len(sets))
	dest := make([]any, len(sets))
	for i, s := range sets {
		only[i] = make([]bool, len(s.Rules))
		dest[i] = &only[i]
	}
	err := q.QueryRow(ctx, applicableSQL(), id).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		for i := range only {
			only[i] = make([]bool, len(sets[i].Rules))
		}
		return only, nil
	}
	if err != nil {
		return nil, fmt.Errorf("which rules apply to observation %d: %w", id, err)
	}
	for i, s := range sets {
		if len(only[i]) != len(s.Rules) { // a set's subquery found no row: cannot happen with a header
			only[i] = make([]bool, len(s.Rules))
		}
	}
	return only, nil
}

// bulkFrom is the batch size from which Recompute first keeps the observations whose
// calibrations exist (bulkStatement).
const bulkFrom = 50

// Worker services the calcache queue: one observation per item.
type Worker struct {
	DB *pgxpool.Pool
}

// Handle recomputes the item's observation and completes the item in one transaction (a
// queue.Handler).
func (w *Worker) Handle(ctx context.Context, it queue.Item) (queue.Result, error) {
	err := pgx.BeginFunc(ctx, w.DB, func(tx pgx.Tx) error {
		if _, err := Recompute(ctx, tx, []int64{it.Int("obs_hid")}); err != nil {
			return err
		}
		return it.CompleteTx(ctx, tx)
	})
	if err != nil {
		return queue.Result{}, err
	}
	return queue.CompletedTx, nil
}
