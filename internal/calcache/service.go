package calcache

import (
	"context"
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
//
// One observation (the queue's worker) is searched rule by rule (statement), each plan
// cached; a batch of more than bulkFrom (a bulk rebuild) set-based (setStatement), the few
// observations that leaves open searched one by one. Only the rules that apply to at least
// one of the observations run: one query finds them first.
func (rs *Rules) Recompute(ctx context.Context, tx pgx.Tx, ids []int64) (int64, error) {
	n, err := rs.recomputeIDs(ctx, tx, ids)
	return n.rows, err
}

// recomputed is what recomputeIDs did.
type recomputed struct {
	rows     int64 // calcache rows inserted
	oneByOne int64 // (observation, rule) pairs the set-based form left to the per-observation search
}

func (rs *Rules) recomputeIDs(ctx context.Context, tx pgx.Tx, ids []int64) (recomputed, error) {
	var done recomputed
	ids = slices.Clone(ids)
	slices.Sort(ids) // locks in one order: no deadlock between batches
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return done, nil
	}
	bulk := len(ids) > bulkFrom
	b := &pgx.Batch{}
	// No JIT compilation: the planner's estimates of these statements (set-returning
	// functions, CTEs) run to billions of rows, and compiling for them cost seconds a batch
	// that the statements themselves do not (EXPLAIN ANALYZE: 2.5 s of JIT in a 3.4 s run).
	b.Queue(`SELECT set_config('jit', 'off', true)`)
	if len(ids) == 1 {
		// One observation: the prepared statements' generic plans, made once per connection.
		// Left to choose, the server keeps planning them anew (its generic estimate of
		// "id = ANY($1)" is ten rows, dearer than one): 50 ms an observation, 40 of them
		// planning, measured on a million headers.
		b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	}
	b.Queue(`SELECT count(pg_advisory_xact_lock($1, id::int4)) FROM unnest($2::bigint[]) id`, lockSpace, ids)
	b.Queue(`DELETE FROM calcache WHERE obs_hid = ANY($1)`, ids)
	only, scanOnly := rs.applicableRules()
	b.Queue(rs.applicableSQL(), ids).QueryRow(scanOnly)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return done, fmt.Errorf("lock, clear and find the rules of %d observations: %w", len(ids), err)
	}

	if len(ids) == 1 {
		// The queue's worker: prepared statements, their plans cached on the connection.
		b = &pgx.Batch{}
		for i, set := range rs.sets {
			for j, r := range set.Rules {
				if only[i][j] {
					b.Queue(rs.statement(set, r), ids).Exec(func(tag pgconn.CommandTag) error {
						done.rows += tag.RowsAffected()
						return nil
					})
				}
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return done, fmt.Errorf("recompute the calibrations of observation %d: %w", ids[0], err)
		}
		return done, nil
	}

	// A batch: each statement planned for its arguments (QueryExecModeExec: the unnamed
	// statement, never a cached generic plan), since which plan serves depends on how many
	// observations there are. Not plan_cache_mode = force_custom_plan, which would also
	// replan the foreign-key checks of every inserted row (4x their cost, measured).
	exec := func(sql string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
		return tag.RowsAffected(), err
	}
	var first, last *int64
	var instruments []string
	if bulk {
		if err := tx.QueryRow(ctx, `SELECT min(ut_datetime_secs), max(ut_datetime_secs),
			coalesce(array_agg(DISTINCT instrument) FILTER (WHERE instrument IS NOT NULL), '{}')
			FROM header WHERE id = ANY($1)`, ids).Scan(&first, &last, &instruments); err != nil {
			return done, fmt.Errorf("the time span of %d observations: %w", len(ids), err)
		}
		if first == nil { // no observation has a time: no rule applies
			return done, nil
		}
	}
	for i, set := range rs.sets {
		for j, r := range set.Rules {
			if !only[i][j] {
				continue
			}
			var rest []int64
			if bulk {
				var n int64
				args := []any{pgx.QueryExecModeExec, ids, *first, *last}
				if usesInstruments(set, r) {
					args = append(args, instruments)
				}
				if err := tx.QueryRow(ctx, rs.setStatement(set, r), args...).Scan(&n, &rest); err != nil {
					return done, fmt.Errorf("recompute the %s calibrations of %d observations: %w", r.CalType, len(ids), err)
				}
				done.rows += n
				done.oneByOne += int64(len(rest))
			} else {
				rest = ids
			}
			if len(rest) == 0 {
				continue
			}
			n, err := exec(rs.statement(set, r), rest)
			if err != nil {
				return done, fmt.Errorf("recompute the %s calibrations of %d observations: %w", r.CalType, len(rest), err)
			}
			done.rows += n
		}
	}
	return done, nil
}

// applicableRules is where the answer of applicableSQL goes, [set][rule] of rs, and the
// function that scans it there.
func (rs *Rules) applicableRules() ([][]bool, func(pgx.Row) error) {
	sets := rs.sets
	only := make([][]bool, len(sets))
	dest := make([]any, len(sets))
	for i := range sets {
		dest[i] = &only[i]
	}
	return only, func(row pgx.Row) error {
		if err := row.Scan(dest...); err != nil {
			return fmt.Errorf("which rules apply: %w", err)
		}
		for i, s := range sets {
			if len(only[i]) != len(s.Rules) {
				return fmt.Errorf("which rules apply: %d answers for the %d rules of set %d", len(only[i]), len(s.Rules), i)
			}
		}
		return nil
	}
}

// bulkFrom is the batch size above which Recompute goes set-based.
const bulkFrom = 50

// Worker services the calcache queue: one observation per item.
type Worker struct {
	DB    *pgxpool.Pool
	Rules *Rules
}

// Handle recomputes the item's observation and completes the item in one transaction (a
// queue.Handler).
func (w *Worker) Handle(ctx context.Context, it queue.Item) (queue.Result, error) {
	err := pgx.BeginFunc(ctx, w.DB, func(tx pgx.Tx) error {
		if _, err := w.Rules.Recompute(ctx, tx, []int64{it.Int("obs_hid")}); err != nil {
			return err
		}
		return it.CompleteTx(ctx, tx)
	})
	if err != nil {
		return queue.Result{}, err
	}
	return queue.CompletedTx, nil
}
