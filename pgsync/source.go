package pgsync

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Source is the old database: a live one (Live) or its pg_dump backup (Dump). What differs
// between them — how the catalog is made safe for the target, how rows get ready, how a
// table is written — is a method here, as a driver is in River, so that Transfer's phases
// never ask which kind of source they hold.
type Source interface {
	// Describe names the source for messages and the history row (no password).
	Describe() string
	// Catalog returns the source's tables, ready to be planned against the target: a live
	// source refuses to be the target itself (its snapshot would block the target's
	// TRUNCATE for ever); a dump's column types are resolved on the target, so that none
	// of its text ever becomes SQL.
	Catalog(ctx context.Context, target *pgx.Conn) (Catalog, error)
	// Count returns the rows of a table, or -1 when they are not known before reading.
	Count(ctx context.Context, table string) (int64, error)
	// SequenceLast returns the last value a sequence handed out (ok false when unknown).
	SequenceLast(ctx context.Context, seq string) (last int64, ok bool, err error)
	// Stage makes the plan's rows ready for the write transaction on the target, reporting
	// each table it stages; what it leaves on the target's session goes with Staged.Discard.
	Stage(ctx context.Context, target *pgx.Conn, plan *Plan, report func(Event)) (Staged, error)
	Close(ctx context.Context)
}

// Staged is a source's rows made ready for the write phase.
type Staged interface {
	// Check runs the plan's value checks (narrowed columns, casts, computed columns) over
	// every row before anything is written; tx is the target's write transaction.
	Check(ctx context.Context, tx pgx.Tx, plan *Plan) error
	// Rows is how many rows table t must receive (outside append mode).
	Rows(t TablePlan) int64
	// Write writes table t into the target within tx and returns the rows written; while
	// they stream it may add them to rows, which the progress display reads.
	Write(ctx context.Context, tx pgx.Tx, t TablePlan, mode Mode, rows *atomic.Int64) (int64, error)
	// Took is the time staging t took (zero when nothing was staged).
	Took(t TablePlan) time.Duration
	// Discard removes what staging left on the target's session.
	Discard(ctx context.Context)
}

// Phases of a transfer, as Event names them.
const (
	PhasePlan      = "plan"      // read both catalogs, count rows, build the plan
	PhaseStage     = "stage"     // a dump's rows into temporary tables (per table)
	PhaseWrite     = "write"     // one table into the target, inside the transaction
	PhaseIndex     = "index"     // build again the plain indexes dropped for a big load
	PhaseSequences = "sequences" // move the id sequences and record the history row
	PhaseCommit    = "commit"    // commit the one transaction
)

// Event is a step of a transfer, for a progress display: each phase (and, for stage, write
// and index, each table) is reported when it starts (Start), every 200 ms while rows stream,
// and when it is done (Done, Rows final).
type Event struct {
	Phase string
	Table string // stage, write and index
	Rows  int64
	Total int64 // rows expected (write); -1 when not known (stage, index); 0 for the rest
	Start bool
	Done  bool
}
