package calcache

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/queue"
)

// Frame is what decides which rules a new header could serve as a calibration.
type Frame struct {
	Instrument, Reduction, ObsType, ObsClass, Object string
}

// serves reports whether a header like f is a candidate of rule r of set s.
func (rs *Rules) serves(s Set, r Rule, f Frame) bool {
	if len(s.Instruments) > 0 && !slices.Contains(s.Instruments, f.Instrument) {
		return false
	}
	if len(s.Instruments) == 0 && slices.Contains(rs.othersThanDefault(), f.Instrument) {
		return false
	}
	return r.Days > 0 && r.Cand.Reduction == f.Reduction &&
		(r.Cand.ObsType == "" || r.Cand.ObsType == f.ObsType) &&
		(r.Cand.ObsClass == "" || r.Cand.ObsClass == f.ObsClass) &&
		(r.Cand.Object == "" || r.Cand.Object == f.Object)
}

// RequeueServedTx queues, in tx, the canonical observations that the new header calHID (a
// frame like f) could serve as a calibration under some rule, within that rule's number of
// days, so that their cache does not stay without it. A header that is no calibration queues
// nothing and costs no query. It returns how many items were new.
func (rs *Rules) RequeueServedTx(ctx context.Context, tx pgx.Tx, ins *queue.Inserter[queue.CalcacheItem], calHID int64, f Frame) (int64, error) {
	b := &pgx.Batch{}
	seen := map[int64]bool{}
	var items []queue.CalcacheItem
	for _, set := range rs.sets {
		for _, r := range set.Rules {
			if !rs.serves(set, r, f) {
				continue
			}
			b.Queue(`SELECT o.id, d.filename FROM `+observation(set)+` JOIN diskfile d ON d.id = o.diskfile_id, header c
				WHERE c.id = $1 AND d.canonical AND o.id <> c.id AND o.instrument = c.instrument
				  AND o.ut_datetime > c.ut_datetime - $2 * interval '1 day' AND o.ut_datetime < c.ut_datetime + $2 * interval '1 day'
				  AND `+and(rs.applies(set, r)), calHID, r.Days).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var it queue.CalcacheItem
					if err := rows.Scan(&it.ObsHID, &it.Filename); err != nil {
						return err
					}
					if !seen[it.ObsHID] {
						seen[it.ObsHID] = true
						items = append(items, it)
					}
				}
				return rows.Err()
			})
		}
	}
	if b.Len() == 0 {
		return 0, nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("find the observations header %d could calibrate: %w", calHID, err)
	}
	return ins.InsertTx(ctx, tx, items)
}
