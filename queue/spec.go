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

// The queue tables follow FitsStorage's conventions, so that its own software reads and adds
// rows alongside agentd: "not failed" is fail_dt = notFailed (Python's datetime.max), which
// its unique constraint over (…, inprogress, fail_dt) relies on, and the queue's own
// timestamps (added, after, fail_dt) are naive UTC. Claims and leases (claimed_at,
// lease_until) are agentd's columns, with time zones.
const (
	notFailed = `'9999-12-31 23:59:59.999999'::timestamp`
	nowUTC    = `(now() AT TIME ZONE 'UTC')`
)

// NotFailed is the fail_dt of a row that has not failed, as SQL (FitsStorage's convention).
const NotFailed = notFailed

// Ingest is the ingest queue: read a file, record it, make its preview. FitsStorage's
// unique constraint (filename, path, inprogress, fail_dt) keeps one pending row per file
// version; the claim reads the index on (sortkey, path, filename) backwards.
func Ingest() Spec {
	return Spec{
		Name:       "ingest",
		Table:      "ingestqueue",
		RunKey:     func(a string) string { return "agentd_filekey(" + a + ".filename)" }, // X.fits and X.fits.bz2 never run at once
		PendingKey: []string{"filename", "path"},
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

// Preview is the preview queue: make the JPEG of one FITS diskfile. FitsStorage's unique
// constraint on diskfile_id keeps one row per diskfile, failed or not.
func Preview() Spec {
	return Spec{
		Name:       "preview",
		Table:      "previewqueue",
		RunKey:     func(a string) string { return a + ".diskfile_id" },
		PendingKey: []string{"diskfile_id"},
		Order:      []string{"sortkey", "diskfile_id"},
		Payload:    []string{"diskfile_id", "filename", "force"},
		Label:      "filename",
	}
}

// Specs lists the queues by name.
func Specs() map[string]Spec {
	return map[string]Spec{"ingest": Ingest(), "calcache": Calcache(), "preview": Preview()}
}

// Channel is the LISTEN/NOTIFY channel that announces new items of the queue.
func (s Spec) Channel() string { return "agentd_" + s.Table }

func (s Spec) table() string { return pgx.Identifier{s.Table}.Sanitize() }
