package queue

import "github.com/jackc/pgx/v5"

// Spec describes one queue table. Every queue table has the common columns id, sortkey,
// added, after, inprogress, fail_dt, error, claim_token, owner, holder, lease_until,
// claimed_at and attempts (see the archive schema); a Spec names the rest.
type Spec struct {
	Name       string   // the name operators use: "ingest"
	Table      string   // "ingestqueue"
	RunKey     string   // column: at most one in-progress row per value
	PendingKey []string // columns: at most one pending row per value combination
	Payload    []string // columns handed to the worker with each claimed item
	Label      string   // column that names an item for humans (status, logs, retry patterns)
}

// Ingest is the ingest queue: read a file, record it, make its preview.
func Ingest() Spec {
	return Spec{
		Name:       "ingest",
		Table:      "ingestqueue",
		RunKey:     "filekey",
		PendingKey: []string{"filename", "path"},
		Payload:    []string{"filename", "path", "force", "force_md5", "no_defer"},
		Label:      "filename",
	}
}

// Calcache is the calibration cache queue: compute the calibrations of one observation.
func Calcache() Spec {
	return Spec{
		Name:       "calcache",
		Table:      "calcachequeue",
		RunKey:     "obs_hid",
		PendingKey: []string{"obs_hid"},
		Payload:    []string{"obs_hid", "filename"},
		Label:      "filename",
	}
}

// Specs lists the queues by name.
func Specs() map[string]Spec {
	return map[string]Spec{"ingest": Ingest(), "calcache": Calcache()}
}

// Channel is the LISTEN/NOTIFY channel that announces new items of the queue.
func (s Spec) Channel() string { return "agentd_" + s.Table }

func (s Spec) table() string { return pgx.Identifier{s.Table}.Sanitize() }
