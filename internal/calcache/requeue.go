package calcache

import (
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/queue"
)

// Frame is what decides which rules a new header could serve as a calibration, and which
// observations: those of its instrument within the rule's days of its UT.
type Frame struct {
	Instrument, Reduction, ObsType, ObsClass, Object string
	UT                                               *time.Time // nil: it serves none
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

// QueueServed adds to b the search for the canonical observations that a new header like
// f, of the file fileName, could serve as a calibration under some rule, within that rule's
// number of days, so that their cache does not stay without it; *items gets them (each
// once) when b's results are read, for the caller to queue in the transaction that writes
// the header (queue.Inserter). The search needs nothing of that transaction, so it can go
// in the round trip before it: the file's own older headers are left out, which the
// transaction makes not canonical. An observation committed after the search, whose own
// calcache item is computed before this header commits, misses it: the window is the two
// round trips of one ingest (it was the transaction's, before, a race all the same). A
// header that is no calibration adds nothing to b.
func (rs *Rules) QueueServed(b *pgx.Batch, f Frame, fileName string, items *[]queue.CalcacheItem) {
	if f.UT == nil || f.Instrument == "" {
		return
	}
	seen := map[int64]bool{}
	for _, set := range rs.sets {
		for _, r := range set.Rules {
			if !rs.serves(set, r, f) {
				continue
			}
			b.Queue(`SELECT o.id, d.filename FROM `+observation(set)+` JOIN diskfile d ON d.id = o.diskfile_id
					JOIN file fl ON fl.id = d.file_id
				WHERE d.canonical AND fl.name <> $4 AND o.instrument = $3
				  AND o.ut_datetime > $1::timestamp - $2 * interval '1 day' AND o.ut_datetime < $1::timestamp + $2 * interval '1 day'
				  AND `+and(rs.applies(set, r)), *f.UT, r.Days, f.Instrument, fileName).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					var it queue.CalcacheItem
					if err := rows.Scan(&it.ObsHID, &it.Filename); err != nil {
						return err
					}
					if !seen[it.ObsHID] {
						seen[it.ObsHID] = true
						*items = append(*items, it)
					}
				}
				return rows.Err()
			})
		}
	}
}
