package queue

import "github.com/jackc/pgx/v5"

// Spec describes one queue table. Every queue table has the common columns sortkey, added,
// after, inprogress, fail_dt, error, claim_token, owner, holder, lease_until, claimed_at and
// attempts (see the archive schema); a Spec names the rest. Rows have no id the queue relies
// on: a claimed or failed row is named by its claim token (unique, indexed among in-progress
// rows), a pending one by its PendingKey.
type Spec struct {
	Name       string                    // the name operators use: "ingest"
	Table      string                    // "ingestqueue"
	RunKey     func(alias string) string // SQL expression over the row aliased alias: at most one in-progress row per value
	PendingKey []string                  // columns of the unique index of pending rows
	Order      []string                  // columns of the index the claim reads backwards: newest first
	Payload    []string                  // columns handed to the worker with each claimed item
	Label      string                    // column that names an item for humans (status, logs, retry patterns)
}

// Ingest is the ingest queue: read a file, record it, make its preview. One unique index
// on (sortkey, path, filename) serves both the pending uniqueness and the claim order: the
// sortkey is a function of the file name, so it adds nothing to the key.
func Ingest() Spec {
	return Spec{
		Name:       "ingest",
		Table:      "ingestqueue",
		RunKey:     func(a string) string { return "agentd_filekey(" + a + ".filename)" }, // X.fits and X.fits.bz2 never run at once
		PendingKey: []string{"sortkey", "path", "filename"},
		Order:      []string{"sortkey", "path", "filename"},
		Payload:    []string{"filename", "path", "force", "force_md5", "no_defer"},
		Label:      "filename",
	}
}

// Calcache is the calibration cache queue: compute the calibrations of one observation.
func Calcache() Spec {
	return Spec{
		Name:       "calcache",
		Table:      "calcachequeue",
		RunKey:     func(a string) string { return a + ".obs_hid" },
		PendingKey: []string{"obs_hid"},
		Order:      []string{"sortkey", "obs_hid"},
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
