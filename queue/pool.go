package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/event"
)

// Handler works one claimed item. It returns how the item ended:
//   - CompletedTx: the handler completed the item itself (Item.CompleteTx) in a
//     transaction it committed together with its own writes;
//   - Complete: nothing else to write, the pool deletes the row (batched);
//   - DeferFor(d): put back, not before d (a file still being written).
//
// An error fails the item with the error's text, except ErrLeaseLost (the item was rescued
// by someone else: nothing to do), a cancelled context at shutdown (the item is released)
// and a Transient error (the item is put back, no attempt counted, to be tried again).
type Handler func(ctx context.Context, it Item) (Result, error)

// Result is a handler's verdict on an item.
type Result struct {
	kind  int
	delay time.Duration
}

const (
	kindCompletedTx = iota + 1
	kindComplete
	kindDefer
)

// Verdicts a Handler returns.
var (
	CompletedTx = Result{kind: kindCompletedTx}
	Complete    = Result{kind: kindComplete}
)

// DeferFor puts the item back for at least d.
func DeferFor(d time.Duration) Result { return Result{kind: kindDefer, delay: d} }

// Outcomes recorded in the journal and the counters.
const (
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"
	OutcomeDeferred  = "deferred"
	OutcomeLost      = "lost"     // the row no longer carried our token: someone else ended it
	OutcomeReleased  = "released" // put back: at shutdown, after a transient error, after a crash at restart
)

// Done is one item that left this process, and how.
type Done struct {
	Item    Item
	Outcome string
}

// Journal persists claims so that a process that dies can release exactly its own claims
// when it starts again. Claimed must be durable before it returns.
type Journal interface {
	Claimed(queue string, items []Item) error
	Ended(queue string, done []Done) error
	Outstanding(queue string) (tokens []string, err error)
	// Began records, before a run's first claim in queue, the run's owner. A claim commits
	// before Claimed records it; a run killed in between leaves rows that only its owner
	// names.
	Began(queue, owner string) error
	// Runs lists the owners recorded for queue by Began and not forgotten by Finished.
	Runs(queue string) (owners []string, err error)
	// Finished forgets runs whose rows in queue are released.
	Finished(queue string, owners []string) error
}

// Event is something worth showing an operator (status socket, logs); its home is the
// event package, which the storage agent and the state store share.
type Event = event.Event

// Workers says how one queue is served.
type Workers struct {
	Spec    Spec
	Count   int
	Handler Handler
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	DB     *pgxpool.Pool
	Owner  string // uuid of this process run
	Holder string // "host/pid/name": workers are Holder/<queue>-<i>
	Lease  time.Duration
	// ForeignLease: see Options.ForeignLease.
	ForeignLease time.Duration
	MaxAttempts  int
	Poll         time.Duration // polling interval when idle (default 2s)
	Grace        time.Duration // at shutdown, how long running items may take to finish
	// Cleanup bounds what a stop does after the grace period: settling the last items and
	// releasing whatever this process still holds (default DefaultCleanup).
	Cleanup  time.Duration
	LockWait time.Duration // see Options.LockWait
	Empty    bool          // return once every queue is idle
	Queues   []Workers
	Journal  Journal // nil: no journal (tests, benchmarks of the database alone)
	Logger   *slog.Logger
	OnEvent  func(Event)
	// NoListen disables the LISTEN connection (polling only).
	NoListen bool
	// RetryDelay is the first wait of an item put back after a transient error (default
	// 2 s); it doubles with each one in a row, up to a minute.
	RetryDelay time.Duration
	// Liveness, when set, is told by each of the pool's loops (fetcher and settler of each
	// queue, heartbeat, rescue) at every turn and while it waits that it still turns: a
	// watchdog's supervisor (package systemd) stops its pings when one does not.
	Liveness Liveness
	// Observer, when set, is told how long each handler and each claim took (metrics).
	Observer Observer
}

// Observer is told what the pool's work takes. Its methods are called from the pool's
// goroutines and must be quick and safe for concurrent use.
type Observer interface {
	Worked(queue string, took time.Duration)             // a handler returned
	Claimed(queue string, items int, took time.Duration) // a claim statement ended (items 0 on error)
}

// Liveness registers a loop that must beat at least every within; done removes it when the
// loop ends.
type Liveness interface {
	Register(name string, within time.Duration) (beat, done func())
}

// beatEvery is how often a pool loop that waits beats while it waits.
const beatEvery = 5 * time.Second

// loop registers one of the pool's loops with the Liveness: it must beat within a lease
// (the longest period of a loop), four database operations (each bounded by opContext) and
// one wait between beats.
func (p *Pool) loop(name string) (beat, done func()) {
	if p.cfg.Liveness == nil {
		return func() {}, func() {}
	}
	return p.cfg.Liveness.Register(name, p.cfg.Lease+4*(p.cfg.LockWait+10*time.Second)+beatEvery)
}

// DefaultCleanup is how long a stop may take after the grace period.
const DefaultCleanup = 10 * time.Second

// Prefetch: how many claimed items each worker may hold, the one it works included.
// Normally two: the one worked and the next, so that no worker waits for a claim's round
// trip, and no item waits claimed behind more than one other. While items take less time
// than the claim statement that brings them, up to prefetchMax, so that one claim and one
// journal flush serve more items: those items wait claimed for less than a claim's time.
// Eight rather than four: 100 workers 2.01–2.09× River instead of 1.65–1.85×, and a fleet of
// 50 × 12 faster too (bench/queuebench, docs/benchmarks.md, "eleventh session").
const (
	prefetch    = 2
	prefetchMax = 8
)

// Pool runs the workers of one process over its queues.
type Pool struct {
	cfg     PoolConfig
	queues  []*served
	started time.Time // set by Run
	mu      sync.Mutex
	holds   map[string]bool // why new claims are stopped (an operator's drain, a spot notice); under mu
	drained atomic.Bool     // len(holds) > 0, read by the fetchers without the lock
	grace   atomic.Int64    // the stop's grace period, when shortened (SetGrace); 0: cfg.Grace
}

// Drain stops new claims (true) for an operator: the items claimed already are worked and
// settled, and with Empty the pool does not end while drained. Drain(false) resumes.
func (p *Pool) Drain(on bool) { p.Hold("drain", on) }

// Hold stops new claims for a reason (true) or lifts that reason (false); claiming resumes
// when no reason is left. Running items go on either way.
func (p *Pool) Hold(reason string, on bool) {
	p.mu.Lock()
	if p.holds == nil {
		p.holds = map[string]bool{}
	}
	if p.holds[reason] == on {
		p.mu.Unlock()
		return
	}
	if on {
		p.holds[reason] = true
	} else {
		delete(p.holds, reason)
	}
	held := len(p.holds) > 0
	p.drained.Store(held)
	p.mu.Unlock()
	if on {
		p.event("", "drained", "", reason+": no new claims until lifted")
		return
	}
	p.event("", "resumed", "", reason+" lifted")
	if held {
		return
	}
	for _, s := range p.queues {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Drained reports whether new claims are stopped, for any reason.
func (p *Pool) Drained() bool { return p.drained.Load() }

// Holds lists why new claims are stopped.
func (p *Pool) Holds() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.holds))
	for r := range p.holds {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// SetGrace shortens the grace period of the stop to come (never beyond the configured
// one): a spot interruption leaves less time.
func (p *Pool) SetGrace(d time.Duration) { p.grace.Store(int64(min(max(d, 0), p.cfg.Grace)) + 1) }

// graceNow is the grace period of a stop now.
func (p *Pool) graceNow() time.Duration {
	if g := p.grace.Load(); g > 0 {
		return time.Duration(g - 1)
	}
	return p.cfg.Grace
}

// served is the runtime of one queue in the pool.
type served struct {
	q    *Queue
	w    Workers
	wake chan struct{}
	// claimMu is held by the fetcher from a claim until its items are in held, and by the
	// orphan sweep: while the sweep holds it, a row of ours that is not in held is one this
	// process will never see.
	claimMu sync.Mutex
	mu      sync.Mutex
	// held is every claim this process holds in this queue: prefetched, worked, or waiting
	// to be settled (retried after an error). The heartbeat renews exactly these.
	held    map[string]Item
	suspect time.Time // until then the heartbeat also sweeps for orphaned claims
	// prior: the owners of earlier runs whose rows RecoverJournal released (they died);
	// priorSwept is closed once they are released a second time and forgotten (see
	// sweepPriorRuns). Set before the queue is served.
	prior      []string
	priorSwept chan struct{}
	// transients counts, per item label, the transient put-backs in a row (settler only,
	// and record after it).
	transients map[string]int
	// unavailable counts the put-backs in a row because the database was unavailable
	// (settler only; reset by any item that ends otherwise).
	unavailable int
	current     []*Item // per worker, nil when idle
	since       []time.Time
	workAvg     time.Duration // the recent items' duration (a moving average)
	worked      int           // items worked
	claimAvg    time.Duration // the recent claim statements' duration (a moving average)
	claims      int           // claim statements made
	counts      map[string]int64
}

// WorkerState is one worker for status.
type WorkerState struct {
	Holder string     `json:"holder"`
	Item   string     `json:"item,omitempty"`
	Since  *time.Time `json:"since"` // null when idle
}

// QueueState is one queue of the pool for status.
type QueueState struct {
	Queue   string           `json:"queue"`
	Workers []WorkerState    `json:"workers"`
	Counts  map[string]int64 `json:"counts"`
	Held    int              `json:"held"`    // claims held, worked or not
	Seconds float64          `json:"seconds"` // since the pool started
	Rate    float64          `json:"rate"`    // items ended (completed or failed) per second since then
}

// NewPool prepares a pool; Run starts it.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Cleanup <= 0 {
		cfg.Cleanup = DefaultCleanup
	}
	if cfg.LockWait <= 0 {
		cfg.LockWait = DefaultLockWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg}
	for _, w := range cfg.Queues {
		p.queues = append(p.queues, &served{
			q: New(cfg.DB, w.Spec, Options{Owner: cfg.Owner, Lease: cfg.Lease, MaxAttempts: cfg.MaxAttempts,
				LockWait: cfg.LockWait, ForeignLease: cfg.ForeignLease}),
			w:          w,
			wake:       make(chan struct{}, 1),
			held:       map[string]Item{},
			transients: map[string]int{},
			current:    make([]*Item, w.Count),
			since:      make([]time.Time, w.Count),
			counts:     map[string]int64{},
		})
	}
	return p
}

// State reports the workers and counters of every queue.
func (p *Pool) State() []QueueState {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	var elapsed float64
	if !started.IsZero() {
		elapsed = time.Since(started).Seconds()
	}
	var out []QueueState
	for _, s := range p.queues {
		s.mu.Lock()
		qs := QueueState{Queue: s.w.Spec.Name, Counts: map[string]int64{}, Held: len(s.held), Seconds: elapsed}
		if elapsed > 0 {
			qs.Rate = float64(s.counts[OutcomeCompleted]+s.counts[OutcomeFailed]) / elapsed
		}
		for i, it := range s.current {
			ws := WorkerState{Holder: p.holder(s, i)}
			if it != nil {
				since := s.since[i]
				ws.Item, ws.Since = it.Label, &since
			}
			qs.Workers = append(qs.Workers, ws)
		}
		for k, v := range s.counts {
			qs.Counts[k] = v
		}
		s.mu.Unlock()
		out = append(out, qs)
	}
	return out
}

func (p *Pool) holder(s *served, i int) string {
	return fmt.Sprintf("%s/%s-%d", p.cfg.Holder, s.w.Spec.Name, i)
}

func (p *Pool) event(queue, kind, label, detail string) {
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(Event{Time: time.Now(), Queue: queue, Kind: kind, Label: label, Detail: detail})
	}
}

// heldTokens lists the tokens s holds.
func (s *served) heldTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.held))
	for t := range s.held {
		out = append(out, t)
	}
	return out
}

// opContext bounds one statement that ends claims: its lock wait plus a margin for a slow
// or unreachable server.
func (p *Pool) opContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, p.cfg.LockWait+10*time.Second)
}

// RecoverJournal releases the claims a previous run of this process left in its journal
// (it died holding them): each counts an attempt. Tokens no longer on an in-progress row
// were ended by someone else meanwhile. The journal is cleared only after the release
// statement succeeded. Run calls it first.
func (p *Pool) RecoverJournal(ctx context.Context) error {
	if p.cfg.Journal == nil {
		return nil
	}
	for _, s := range p.queues {
		tokens, err := p.cfg.Journal.Outstanding(s.w.Spec.Name)
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		if len(tokens) == 0 {
			continue
		}
		ended, err := s.q.ReleaseTokens(ctx, tokens, true, 0)
		if err != nil {
			return fmt.Errorf("release the claims the previous run left in the journal (kept for the next start): %w", err)
		}
		done := make([]Done, len(tokens))
		for i, t := range tokens {
			done[i] = Done{Item: Item{Token: t}, Outcome: OutcomeReleased}
		}
		if err := p.cfg.Journal.Ended(s.w.Spec.Name, done); err != nil {
			return fmt.Errorf("clear journal: %w", err)
		}
		for _, e := range ended {
			p.cfg.Logger.Info("released a claim of the previous run", "queue", s.w.Spec.Name, "item", e.Label, "now", e.How)
		}
		p.cfg.Logger.Info("released claims left by the previous run", "queue", s.w.Spec.Name, "journaled", len(tokens),
			"still_held", len(ended), "ended_by_others", len(tokens)-len(ended))
		p.event(s.w.Spec.Name, "recovered", "", fmt.Sprintf("released %d claims of the previous run", len(ended)))
	}
	for _, s := range p.queues {
		runs, err := p.cfg.Journal.Runs(s.w.Spec.Name)
		if err != nil {
			return fmt.Errorf("read the journal's runs: %w", err)
		}
		prior := slices.DeleteFunc(runs, func(o string) bool { return o == p.cfg.Owner })
		if err := p.releaseRuns(ctx, s, prior); err != nil {
			return err
		}
		s.prior = prior
	}
	return nil
}

// releaseRuns releases the rows of s still claimed under the owners of earlier runs (they
// died: this process holds the state file they held). Rows their journal named are
// released already; what is left are claims that committed just before a death, before
// the journal recorded them.
func (p *Pool) releaseRuns(ctx context.Context, s *served, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	ended, err := s.q.ReleaseRuns(ctx, owners)
	if err != nil {
		return fmt.Errorf("release the claims of the previous runs (their owners are kept for the next start): %w", err)
	}
	for _, e := range ended {
		p.cfg.Logger.Warn("released a claim the previous run made but had not journaled", "queue", s.w.Spec.Name,
			"item", e.Label, "token", e.Token, "now", e.How)
	}
	if len(ended) > 0 {
		p.event(s.w.Spec.Name, "recovered", "", fmt.Sprintf("released %d claims the previous run had not journaled", len(ended)))
	}
	return nil
}

// sweepPriorRuns releases the rows of s under the earlier runs' owners once more when a
// claim they sent before they died can no longer commit (the server ends a claim after
// ClaimTimeout; the dead runs' agentd used the same lock wait), retrying until it
// succeeds, then forgets those runs and closes s.priorSwept. Stopped before then, it
// leaves them to the next start.
func (p *Pool) sweepPriorRuns(ctx context.Context, s *served) {
	timer := time.NewTimer(s.q.ClaimTimeout() + time.Second)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	for backoff := p.cfg.Poll; ; backoff = min(2*backoff, max(p.cfg.Lease/3, p.cfg.Poll)) {
		opCtx, cancel := p.opContext(ctx)
		err := p.releaseRuns(opCtx, s, s.prior)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		p.cfg.Logger.Warn("second release of the previous runs' claims failed; retrying", "queue", s.w.Spec.Name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(backoff)):
		}
	}
	if err := p.cfg.Journal.Finished(s.w.Spec.Name, s.prior); err != nil {
		p.cfg.Logger.Error("journal: forgetting the previous runs failed; the next start releases their rows again (none are left)",
			"queue", s.w.Spec.Name, "err", err)
	}
	close(s.priorSwept)
}

// closed tells whether c is closed (without waiting).
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Run serves the queues until ctx is cancelled or, with Empty, until every queue is idle.
// On cancellation it stops claiming, lets running items finish within the grace period,
// settles or releases every claim it holds, and finally releases any row still claimed under
// its owner (each logged). It returns nil when nothing is left claimed by this process, and
// an error naming what is left when the database could not be reached to release it; the
// stop takes at most Grace + Cleanup.
func (p *Pool) Run(ctx context.Context) error {
	p.mu.Lock()
	p.started = time.Now()
	p.mu.Unlock()
	if err := p.RecoverJournal(ctx); err != nil {
		return err
	}
	for _, s := range p.queues {
		s.priorSwept = make(chan struct{})
		if len(s.prior) == 0 {
			close(s.priorSwept)
		}
		if p.cfg.Journal != nil {
			if err := p.cfg.Journal.Began(s.w.Spec.Name, p.cfg.Owner); err != nil {
				return fmt.Errorf("journal this run's owner before its first claim: %w", err)
			}
		}
	}
	// workCtx outlives ctx by the grace period so that running items can finish; cleanupCtx
	// ends at the stop's deadline and bounds the settling retries.
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	cleanupCtx, cancelCleanup := context.WithCancel(context.Background())
	defer cancelCleanup()
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()

	var bg sync.WaitGroup
	hbCtx, stopHeartbeat := context.WithCancel(context.Background()) // lives until the final release
	defer stopHeartbeat()
	bg.Add(2)
	go func() { defer bg.Done(); p.heartbeat(hbCtx) }()
	go func() { defer bg.Done(); p.rescueLoop(fetchCtx) }()
	if !p.cfg.NoListen {
		bg.Add(1)
		go func() { defer bg.Done(); p.listen(fetchCtx) }()
	}
	for _, s := range p.queues {
		if len(s.prior) > 0 {
			bg.Add(1)
			go func() { defer bg.Done(); p.sweepPriorRuns(fetchCtx, s) }() // owner: Run; ends with fetchCtx at the latest
		}
	}

	var idleWG sync.WaitGroup
	emptyAll := make(chan struct{})
	var runs sync.WaitGroup
	for _, s := range p.queues {
		idleWG.Add(1)
		runs.Add(1)
		go func() { // owner: Run; exits when fetchCtx ends (or the queue is empty in Empty mode)
			defer runs.Done()
			p.serve(fetchCtx, workCtx, cleanupCtx, s, &idleWG)
		}()
	}
	go func() { idleWG.Wait(); close(emptyAll) }() // exits when every queue reported idle

	select {
	case <-ctx.Done():
	case <-emptyAll:
	}
	stopFetch()
	finished := make(chan struct{})
	go func() { runs.Wait(); close(finished) }()
	if ctx.Err() == nil {
		// Empty: every queue reported idle; whatever still runs (a queue that found work
		// after its report) finishes, uncut.
		<-finished
	}
	stopping := time.Now()
	grace := time.Duration(0)
	if ctx.Err() != nil {
		grace = p.graceNow()
	}
	workBy := stopping.Add(grace)
	finalBy := workBy.Add(p.cfg.Cleanup)
	// Settling retries get the first half of the cleanup, the final release the rest.
	settleTimer := time.AfterFunc(time.Until(workBy.Add(p.cfg.Cleanup/2)), cancelCleanup)
	defer settleTimer.Stop()
	select {
	case <-finished: // (Empty mode always: a closed channel must win over an expired timer)
	default:
		select {
		case <-finished:
		case <-time.After(time.Until(workBy)):
			p.cfg.Logger.Warn("grace period over: cancelling running items", "grace", grace)
			cancelWork()
		}
	}
	var err error
	select {
	case <-finished:
		err = p.releaseAll(finalBy)
	case <-time.After(time.Until(finalBy)):
		err = fmt.Errorf("stop: workers still running %s after the grace period (a handler ignores cancellation); "+
			"their claims were released, and a handler that still finishes will find its item gone", p.cfg.Cleanup)
		p.releaseAll(finalBy.Add(p.cfg.LockWait)) //nolint:errcheck // best effort; err says what matters
	}
	stopHeartbeat()
	bg.Wait()
	if err == nil && p.cfg.Journal != nil {
		// Nothing is left claimed under this run's owner, unless a claim of its own failed
		// lately (its commit may still come): then the next start looks again.
		for _, s := range p.queues {
			s.mu.Lock()
			suspect := time.Now().Before(s.suspect)
			s.mu.Unlock()
			if suspect {
				continue
			}
			if ferr := p.cfg.Journal.Finished(s.w.Spec.Name, []string{p.cfg.Owner}); ferr != nil {
				p.cfg.Logger.Warn("journal: forgetting this run failed; the next start looks for its claims (none are left)",
					"queue", s.w.Spec.Name, "err", ferr)
			}
		}
	}
	return err
}

// releaseAll is the last statement of a stop: it releases every row still claimed under
// this process's owner. Rows the pool still held (their settling failed) are released with
// no attempt counted; any other row is a straggler the pool did not track, logged one by
// one. With the database unreachable it logs what is left and returns an error.
func (p *Pool) releaseAll(by time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), by)
	defer cancel()
	var errs []error
	for _, s := range p.queues {
		name := s.w.Spec.Name
		s.mu.Lock()
		held := maps.Clone(s.held)
		s.mu.Unlock()
		var ended []Ended
		var err error
		retried := false // an earlier attempt failed: it may have done the work
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
			ended, err = s.q.ReleaseOwned(ctx, nil)
			if err == nil || ctx.Err() != nil {
				break
			}
			retried = true
			p.cfg.Logger.Warn("release at stop failed; retrying", "queue", name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		}
		if err != nil {
			for _, it := range held {
				p.cfg.Logger.Error("left claimed at stop: the database could not be reached", "queue", name, "item", it.Label, "token", it.Token)
			}
			errs = append(errs, fmt.Errorf("%s: %d claims may be left in the database (they come back when their lease expires, "+
				"or at once when this agent starts again): %w", name, len(held), err))
			continue
		}
		var done []Done
		for _, e := range ended {
			if it, ok := held[e.Token]; ok {
				p.cfg.Logger.Warn("released at stop after its settling failed", "queue", name, "item", it.Label, "now", e.How)
				done = append(done, Done{Item: it, Outcome: OutcomeReleased})
				delete(held, e.Token)
				continue
			}
			p.cfg.Logger.Warn("released a straggler: claimed under this process but not tracked by it", "queue", name,
				"item", e.Label, "token", e.Token, "now", e.How)
			p.event(name, "straggler", e.Label, "released at stop")
		}
		for _, it := range held { // held, but no row of ours any more
			done = append(done, p.tokenGone(ctx, s, it, retried, OutcomeReleased, errors.New("release at stop")))
		}
		p.record(s, done)
	}
	return errors.Join(errs...)
}

// serve runs one queue: a fetcher handing claimed items to idle workers, the workers, and
// a settler that settles their verdicts (batching completions and journal writes).
func (p *Pool) serve(fetchCtx, workCtx, cleanupCtx context.Context, s *served, idleWG *sync.WaitGroup) {
	n := s.w.Count
	// Each worker has prefetchMax slots, tokens that go from the fetcher with a claimed item
	// to the worker and come back through idle once it is worked.
	slots := n * prefetchMax
	idle := make(chan int, slots)
	inputs := make([]chan Item, n)
	for i := range inputs {
		inputs[i] = make(chan Item, prefetchMax)
	}
	verdicts := make(chan verdict, 4*slots)
	var workers sync.WaitGroup
	for i := 0; i < n; i++ {
		workers.Add(1)
		go func() { // owner: serve; exits when its input channel is closed
			defer workers.Done()
			for it := range inputs[i] {
				if fetchCtx.Err() != nil {
					// Stopping: items not started yet go back at once.
					verdicts <- verdict{item: it, release: true}
					continue
				}
				verdicts <- p.work(workCtx, s, i, it)
				idle <- i
			}
		}()
	}
	settled := make(chan struct{})
	go func() { // owner: serve; exits when verdicts is closed and its retries are done or given up
		defer close(settled)
		p.settler(cleanupCtx, s, verdicts)
	}()

	p.fetch(fetchCtx, s, idle, inputs, verdicts, idleWG)

	for _, in := range inputs {
		close(in)
	}
	workers.Wait()
	close(verdicts)
	<-settled
}

// verdict is a verdict on an item, waiting to be settled in the database.
type verdict struct {
	item    Item
	result  Result
	err     error
	release bool // put back without running (stopping, or the journal could not record it)
	// retried: an earlier statement settling it failed, perhaps after the server had done
	// it (the answer was lost). Finding the token gone then is the likely sign of that.
	retried bool
	tries   int // statements that failed settling it
}

// fetch claims items for idle workers until ctx ends.
func (p *Pool) fetch(ctx context.Context, s *served, idle chan int, inputs []chan Item, verdicts chan<- verdict, idleWG *sync.WaitGroup) {
	reportedIdle := false
	name := s.w.Spec.Name
	backoff := p.cfg.Poll
	beat, done := p.loop(name + " fetcher")
	defer done()
	tick := time.NewTicker(beatEvery)
	defer tick.Stop()
	// dispatched, when set, reports the end of the batch being journaled and handed out.
	var dispatched chan error
	waitDispatched := func() error {
		if dispatched == nil {
			return nil
		}
		err := <-dispatched
		dispatched = nil
		return err
	}
	defer waitDispatched() //nolint:errcheck // the items are handed out (or released) either way
	// Slot tokens: spare ones are in the fetcher's hand; out[i] counts worker i's tokens
	// that went out with an item (each comes back through idle once the item is worked).
	n, total := len(inputs), cap(idle)
	out := make([]int, n)
	spare := make([]int, 0, total)
	for k := 0; k < prefetchMax; k++ {
		for i := 0; i < n; i++ {
			spare = append(spare, i)
		}
	}
	returned := func(i int) { out[i]--; spare = append(spare, i) }
	var pause time.Duration // before the next claim: see nextPause
	// usable picks the spare tokens that may go out now, each worker holding at most depth
	// items, the least busy workers first (the newest item goes to an idle worker, never
	// behind a running one when an idle one is there). It removes them from spare.
	usable := func() []int {
		depth := p.depth(s)
		avail := make([]int, n)
		for _, i := range spare {
			avail[i]++
		}
		var use []int
		for level := 0; level < depth; level++ {
			for i := 0; i < n; i++ {
				if out[i] <= level && avail[i] > 0 {
					avail[i]--
					use = append(use, i)
				}
			}
		}
		spare = spare[:0]
		for i, k := range avail {
			for ; k > 0; k-- {
				spare = append(spare, i)
			}
		}
		return use
	}
	for {
		beat()
	drain:
		for {
			select {
			case i := <-idle:
				returned(i)
			default:
				break drain
			}
		}
		slots := usable()
		if len(slots) == 0 {
			select {
			case i := <-idle:
				returned(i)
			case <-tick.C: // every worker busy: a wait, not a wedge
			case <-ctx.Done():
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return // stopping
		}
		if p.drained.Load() {
			// Drained: the slots stay unused, and the fetcher waits to be resumed.
			spare = append(spare, slots...)
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-tick.C:
			}
			continue
		}
		holders := make([]string, len(slots))
		for k, i := range slots {
			holders[k] = p.holder(s, i)
		}
		items, took, err := p.claim(ctx, s, holders)
		used, unused := slotsOf(items, holders, slots)
		spare = append(spare, unused...)
		for _, i := range used {
			out[i]++
		}
		// The previous batch is journaled and handed out while this claim ran; its journal
		// write failing counts as this round's error (the fetcher backs off).
		if jerr := waitDispatched(); jerr != nil && err == nil {
			err = jerr
		}
		if len(items) > 0 {
			dispatched = make(chan error, 1)
			go func(items []Item, slots []int, result chan<- error) { // owner: fetch; it waits for result
				result <- p.dispatch(s, items, slots, idle, inputs, verdicts)
			}(items, used, dispatched)
		}
		if len(items) > 0 && err == nil {
			backoff = p.cfg.Poll
			// Paced only while the items take less time than the claims that bring them:
			// the claims are then the work, and a pause costs the host nothing it would
			// have done. Items that take longer pace the claims themselves.
			if pause = nextPause(pause, took, len(items)); pause > 0 && p.shortItems(s) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(jitter(pause)):
				}
			}
			continue
		}
		wait := p.cfg.Poll
		if err != nil {
			// Jittered: after a database restart, a fleet's fetchers do not all come back in
			// the same instant.
			wait, backoff = jitter(backoff), min(2*backoff, max(p.cfg.Lease/3, p.cfg.Poll))
		}
		for len(idle) > 0 {
			returned(<-idle)
		}
		if p.cfg.Empty && err == nil && len(spare) == total && !reportedIdle && closed(s.priorSwept) {
			opCtx, cancel := p.opContext(ctx)
			if _, err := s.q.Rescue(opCtx); err == nil {
				if ok, err := s.q.Idle(opCtx); err == nil && ok {
					reportedIdle = true
					idleWG.Done()
					p.event(name, "empty", "", "nothing pending and no live lease")
				}
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(wait):
		}
	}
}

// slotsOf returns the slot of each item (used, in the items' order) and the slots no item
// took. An item goes to the slot of its holder, holders[k] being the holder of slots[k]:
// the claim can skip a place (a candidate row changed under it), leaving the next items
// with the holders of later places.
func slotsOf(items []Item, holders []string, slots []int) (used, unused []int) {
	places := make(map[string][]int, len(holders)) // holder → its places not taken yet
	for k, h := range holders {
		places[h] = append(places[h], k)
	}
	taken := make([]bool, len(slots))
	used = make([]int, len(items))
	var strays []int // items of a holder not asked for (none in practice): any free slot
	for j, it := range items {
		if p := places[it.Holder]; len(p) > 0 {
			used[j], taken[p[0]], places[it.Holder] = slots[p[0]], true, p[1:]
			continue
		}
		strays = append(strays, j)
	}
	for k, i := range slots {
		if taken[k] {
			continue
		}
		if len(strays) > 0 {
			used[strays[0]], strays = i, strays[1:]
			continue
		}
		unused = append(unused, i)
	}
	return used, unused
}

// The fetcher's pause between claims. A claim statement that takes longer than claimSlow
// plus claimSlowPerRow for each row it returned (on a quiet server a claim costs about
// 45 µs a row) has waited for the server: when a fleet's hosts all claim at once (hundreds
// of hosts, items that take no time), the claims queue on the database's CPU, each as long
// as the queue, and the server spends itself switching between them. After a slow claim
// the pause before the next one is at least as long as that claim took, and twice the last
// pause (up to maxClaimPause); a fast claim halves it. The fleet then claims less often, in
// fuller batches, and gets more done (bench/queuebench -fleet, docs/benchmarks.md).
const (
	claimSlow       = 20 * time.Millisecond
	claimSlowPerRow = 100 * time.Microsecond
	minClaimPause   = 5 * time.Millisecond
	maxClaimPause   = time.Second
)

// nextPause is the pause after a claim of rows that took took, the last pause being pause.
func nextPause(pause, took time.Duration, rows int) time.Duration {
	if took > claimSlow+time.Duration(rows)*claimSlowPerRow {
		return min(max(2*pause, took, minClaimPause), maxClaimPause)
	}
	if pause /= 2; pause < minClaimPause {
		return 0
	}
	return pause
}

// movingAverage adds x, the n+1-th value, to avg: an average over about the last ten.
func movingAverage(avg time.Duration, n int, x time.Duration) time.Duration {
	if n == 0 {
		return x
	}
	return avg + (x-avg)/10
}

// jitter spreads a wait over [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d/2 + rand.N(d)
}

// depth is how many items each worker of s may hold now: one for the first claim (a
// fleet's processes that start together send their first claims in the same instant, each
// passing over the rows the others lock: one item per worker halves that burst; fleet
// claim p99 -25 % with the rescue's jittered start, docs/benchmarks.md), then prefetchMax
// while the recent items took less time than the recent claim statements, prefetch
// otherwise.
func (p *Pool) depth(s *served) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.claims == 0:
		return 1
	case s.shortItemsLocked():
		return prefetchMax
	}
	return prefetch
}

// shortItems tells whether the recent items of s took less time than the recent claim
// statements.
func (p *Pool) shortItems(s *served) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shortItemsLocked()
}

// shortItemsLocked is shortItems for a caller holding s.mu.
func (s *served) shortItemsLocked() bool {
	return s.worked > 0 && s.claims > 0 && s.workAvg < s.claimAvg
}

// dispatch journals claimed items, then hands item k to the worker of slots[k]; when the
// journal cannot record them they go back (released) and the slots with them.
func (p *Pool) dispatch(s *served, items []Item, slots []int, idle chan<- int, inputs []chan Item, verdicts chan<- verdict) error {
	name := s.w.Spec.Name
	if p.cfg.Journal != nil {
		if err := p.cfg.Journal.Claimed(name, items); err != nil {
			p.cfg.Logger.Error("journal write failed: putting the claims back", "queue", name, "err", err)
			p.event(name, "error", "", "journal: "+err.Error())
			for _, it := range items {
				verdicts <- verdict{item: it, release: true}
			}
			for _, i := range slots {
				idle <- i
			}
			return err
		}
	}
	s.mu.Lock()
	s.counts["claimed"] += int64(len(items))
	s.mu.Unlock()
	for k, it := range items {
		inputs[slots[k]] <- it
	}
	return nil
}

// claim claims items for holders and adds them to s.held before anyone may sweep. A stop
// does not interrupt a claim in flight (its items are released like any other); a claim
// that fails may still have claimed rows whose answer never arrived, so s is marked
// suspect and swept at once: rows of this owner that the process does not hold go back.
func (p *Pool) claim(ctx context.Context, s *served, holders []string) ([]Item, time.Duration, error) {
	name := s.w.Spec.Name
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.LockWait+10*time.Second)
	defer cancel()
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	start := time.Now()
	items, err := s.q.Claim(claimCtx, holders)
	took := time.Since(start)
	if p.cfg.Observer != nil {
		p.cfg.Observer.Claimed(name, len(items), took)
	}
	s.mu.Lock()
	s.claimAvg, s.claims = movingAverage(s.claimAvg, s.claims, took), s.claims+1
	s.mu.Unlock()
	if err == nil {
		s.mu.Lock()
		for _, it := range items {
			s.held[it.Token] = it
		}
		s.mu.Unlock()
		return items, took, nil
	}
	p.cfg.Logger.Error("claim failed; sweeping for claims whose answer was lost, then retrying", "queue", name, "err", err)
	p.event(name, "error", "", err.Error())
	s.mu.Lock()
	s.suspect = time.Now().Add(p.cfg.Lease)
	s.mu.Unlock()
	sweepCtx, cancelSweep := p.opContext(context.WithoutCancel(ctx)) // claimCtx may be spent
	defer cancelSweep()
	p.sweepOrphans(sweepCtx, s)
	return nil, took, err
}

// sweepOrphans releases rows claimed under this owner in s's table that the process does
// not hold. The caller holds s.claimMu.
func (p *Pool) sweepOrphans(ctx context.Context, s *served) {
	ended, err := s.q.ReleaseOwned(ctx, s.heldTokens())
	if err != nil {
		p.cfg.Logger.Warn("orphan sweep failed; the heartbeat tries again", "queue", s.w.Spec.Name, "err", err)
		return
	}
	for _, e := range ended {
		p.cfg.Logger.Warn("released a claim whose answer was lost", "queue", s.w.Spec.Name, "item", e.Label, "token", e.Token, "now", e.How)
		p.event(s.w.Spec.Name, "orphan", e.Label, "released: the claim's answer never arrived")
	}
}

// work runs the handler on one item.
func (p *Pool) work(ctx context.Context, s *served, i int, it Item) verdict {
	s.mu.Lock()
	s.current[i], s.since[i] = &it, time.Now()
	s.mu.Unlock()
	start := time.Now()
	res, err := s.w.Handler(ctx, it)
	took := time.Since(start)
	if p.cfg.Observer != nil {
		p.cfg.Observer.Worked(s.w.Spec.Name, took)
	}
	s.mu.Lock()
	s.current[i] = nil
	s.workAvg, s.worked = movingAverage(s.workAvg, s.worked, took), s.worked+1
	s.mu.Unlock()
	return verdict{item: it, result: res, err: err}
}

// settleLinger is how long the settler waits for more verdicts after the first of a batch;
// maxSettleBatch bounds a batch.
const (
	settleLinger   = time.Millisecond
	maxSettleBatch = 1000
)

// settler settles verdicts in batches: completions in one statement, outcomes in one
// journal write. A verdict whose statement fails (connection lost, lock wait timed out)
// stays held and is tried again with backoff; it is never forgotten. Once in is closed,
// retries go on until ctx ends (the stop's deadline); what is left then stays in held for
// the final release.
func (p *Pool) settler(ctx context.Context, s *served, in <-chan verdict) {
	beat, done := p.loop(s.w.Spec.Name + " settler")
	defer done()
	ended := make(chan []Done, 64)
	recorded := make(chan struct{})
	go func() { defer close(recorded); p.recorder(s, ended) }() // owner: settler; exits when ended is closed
	defer func() { close(ended); <-recorded }()
	tick := time.NewTicker(beatEvery)
	defer tick.Stop()
	var retry []verdict
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	var retryAt time.Time
	open := true
	var closedBy <-chan time.Time // once in is closed, retries get half the cleanup at most
	for open || len(retry) > 0 {
		beat()
		if !open && closedBy == nil {
			closedBy = time.After(p.cfg.Cleanup / 2)
		}
		var batch []verdict
		var timer <-chan time.Time
		if len(retry) > 0 {
			timer = time.After(time.Until(retryAt))
		}
		var input <-chan verdict
		if open {
			input = in
		}
		var stop <-chan struct{}
		var deadline <-chan time.Time
		if !open {
			stop, deadline = ctx.Done(), closedBy
		}
		select {
		case f, ok := <-input:
			if !ok {
				open = false
				continue
			}
			batch = append(batch, f)
			// The verdicts that follow within settleLinger join the batch: each statement
			// and its commit (a flush of the WAL) has a cost of its own, and busy workers'
			// verdicts arrived a few at a time (3 a statement at 100 workers, 270 with the
			// wait). The workers do not wait for it.
			linger := time.NewTimer(settleLinger)
		drain:
			for len(batch) < maxSettleBatch {
				select {
				case f, ok := <-in:
					if !ok {
						open = false
						break drain
					}
					batch = append(batch, f)
				case <-linger.C:
					break drain
				}
			}
			linger.Stop()
		case <-timer:
		case <-tick.C: // nothing to settle: a wait, not a wedge
			continue
		case <-deadline:
			p.giveUp(s, retry)
			return
		case <-stop:
			p.giveUp(s, retry)
			return
		}
		if len(retry) > 0 && !time.Now().Before(retryAt) {
			batch, retry = append(retry, batch...), nil
		}
		if len(batch) == 0 {
			continue
		}
		done, again := p.settle(ctx, s, batch)
		if len(done) > 0 {
			p.forget(s, done)
			ended <- done
		}
		if len(again) > 0 {
			if len(retry) == 0 {
				retryAt = time.Now().Add(jitter(backoff))
				backoff = min(2*backoff, max(p.cfg.Lease/3, firstBackoff))
			}
			retry = append(retry, again...)
		} else if len(retry) == 0 {
			backoff = firstBackoff
		}
		select { // let an idle fetcher look again (Empty mode waits for our last items)
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// giveUp logs the verdicts a stopping settler could not settle: they stay held, for the
// final release.
func (p *Pool) giveUp(s *served, retry []verdict) {
	for _, f := range retry {
		p.cfg.Logger.Error("could not settle before the stop deadline; left for the final release",
			"queue", s.w.Spec.Name, "item", f.item.Label)
	}
}

// record forgets ended claims (held, journal) and counts their outcomes.
func (p *Pool) record(s *served, done []Done) {
	if len(done) == 0 {
		return
	}
	p.forget(s, done)
	p.journalEnded(s, done)
}

// forget drops ended claims from held (the heartbeat stops renewing them) and counts their
// outcomes.
func (p *Pool) forget(s *served, done []Done) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range done {
		delete(s.held, d.Item.Token)
		s.counts[d.Outcome]++
		if d.Outcome != OutcomeReleased {
			delete(s.transients, d.Item.Label)
			s.unavailable = 0
		}
	}
}

// journalEnded clears ended claims from the journal. The claims are ended in the database
// already: should the write fail, or the process die before it, a restart releasing them
// finds nothing of theirs.
func (p *Pool) journalEnded(s *served, done []Done) {
	if p.cfg.Journal == nil || len(done) == 0 {
		return
	}
	if err := p.cfg.Journal.Ended(s.w.Spec.Name, done); err != nil {
		p.cfg.Logger.Error("journal clear failed", "queue", s.w.Spec.Name, "err", err)
	}
}

// recorder clears the journal of what the settler ended, off the settler's path: whatever
// queued up while one write ran goes in the next, so that the settler's next statement
// never waits for a disk flush. It returns once in is closed and drained.
func (p *Pool) recorder(s *served, in <-chan []Done) {
	for done := range in {
	more:
		for {
			select {
			case d, ok := <-in:
				if !ok {
					break more
				}
				done = append(done, d...)
			default:
				break more
			}
		}
		p.journalEnded(s, done)
	}
}

// escalate notes that a statement settling f failed with err (f is retried; its answer may
// have been lost). When the same verdict keeps failing for a reason of its own (not a
// transient one), it becomes a release — a plainer statement — so that the item is not held
// for ever; escalate reports whether it did.
func escalate(f *verdict, err error) bool {
	f.retried, f.tries = true, f.tries+1
	if f.tries >= maxSettleTries && !f.release && !Transient(err) {
		f.release = true
		return true
	}
	return false
}

// tokenGone settles an item whose statement found its token gone: lost, with the evidence
// of where the item is now, unless an earlier attempt of the same statement failed (retried)
// and may have done the work itself, its answer lost: then the intended outcome, logged with
// the same evidence.
func (p *Pool) tokenGone(ctx context.Context, s *served, it Item, retried bool, intended string, why error) Done {
	name := s.w.Spec.Name
	ev := s.q.Whereabouts(ctx, it)
	if retried {
		p.cfg.Logger.Info("token gone on a retry: an earlier attempt whose answer was lost ended it, or another agent did",
			"queue", name, "item", it.Label, "token", it.Token, "counted_as", intended, "evidence", ev)
		return Done{Item: it, Outcome: intended}
	}
	p.cfg.Logger.Warn("claim lost: the row no longer carries our token", "queue", name, "item", it.Label,
		"token", it.Token, "evidence", ev, "seen_by", why)
	p.event(name, "lost", it.Label, ev)
	return Done{Item: it, Outcome: OutcomeLost}
}

// transientDelay is how long an item whose handler met a transient database error waits
// before it may be claimed again, the first time; backoffDelay doubles it each time after.
const transientDelay = 2 * time.Second

// backoffDelay is the wait after the n-th transient error in a row (n ≥ 1): base, twice
// that, four times… up to 32 times base and a minute.
func backoffDelay(base time.Duration, n int) time.Duration {
	if base <= 0 {
		base = transientDelay
	}
	return min(base<<min(max(n-1, 0), 5), time.Minute)
}

// maxTransientPutBacks bounds how often in a row this process puts one item back after a
// transient error (a statement that always times out, or always kills its backend, must
// not loop for ever); the next such error fails the item.
const maxTransientPutBacks = 5

// maxSettleTries is how often a settling statement may fail with a non-transient error
// before the pool puts the item back instead.
const maxSettleTries = 3

// settle applies a batch of verdicts. done are the claims it ended (or proved lost);
// again are the verdicts whose statement failed: the pool still holds them.
func (p *Pool) settle(parent context.Context, s *served, batch []verdict) (done []Done, again []verdict) {
	name := s.w.Spec.Name
	ctx, cancel := p.opContext(parent)
	defer cancel()
	gone := func(f verdict, intended string, why error) Done {
		return p.tokenGone(ctx, s, f.item, f.retried, intended, why)
	}
	lost := func(it Item, why error) Done { return p.tokenGone(ctx, s, it, false, OutcomeLost, why) }
	// retryable logs a statement that failed: the verdict stays held and is tried again.
	retryable := func(f verdict, what string, err error) {
		if escalate(&f, err) {
			p.cfg.Logger.Warn(what+" keeps failing; putting the item back instead", "queue", name, "item", f.item.Label, "err", err)
		} else {
			p.cfg.Logger.Warn(what+" failed; holding the item and trying again", "queue", name, "item", f.item.Label, "err", err)
		}
		again = append(again, f)
	}
	release := func(f verdict, after time.Duration, what string) {
		ended, err := s.q.ReleaseTokens(ctx, []string{f.item.Token}, false, after)
		switch {
		case err != nil:
			retryable(f, what, err)
		case len(ended) == 0:
			done = append(done, gone(f, OutcomeReleased, errors.New(what)))
		default:
			done = append(done, Done{Item: f.item, Outcome: OutcomeReleased})
		}
	}
	var toComplete []verdict
	for _, f := range batch {
		it := f.item
		switch {
		case f.release:
			release(f, 0, "release")
		case errors.Is(f.err, ErrLeaseLost):
			done = append(done, lost(it, f.err))
		case errors.Is(f.err, context.Canceled): // the grace period ended while it ran
			release(f, 0, "release at stop")
		case Unavailable(f.err):
			// The database was down or going down: not the item's doing, never counted
			// against it; it waits a little longer each time (the restart may take a while).
			s.unavailable++
			p.cfg.Logger.Warn("database unavailable; putting the item back", "queue", name, "item", it.Label, "err", f.err)
			p.event(name, "retry", it.Label, f.err.Error())
			release(f, backoffDelay(p.cfg.RetryDelay, s.unavailable), "release while the database is unavailable")
		case Transient(f.err) && s.transients[it.Label] < maxTransientPutBacks:
			s.transients[it.Label]++
			p.cfg.Logger.Warn("transient error; putting the item back", "queue", name, "item", it.Label, "err", f.err,
				"in_a_row", s.transients[it.Label])
			p.event(name, "retry", it.Label, f.err.Error())
			release(f, backoffDelay(p.cfg.RetryDelay, s.transients[it.Label]), "release after a transient error")
		case f.err != nil:
			msg := f.err.Error()
			if Transient(f.err) {
				msg = fmt.Sprintf("%s (a transient database error %d times in a row on this item; fix the cause, then agentctl queue retry)",
					msg, s.transients[it.Label]+1)
			}
			err := s.q.Fail(ctx, it, msg)
			switch {
			case errors.Is(err, ErrLeaseLost):
				done = append(done, gone(f, OutcomeFailed, err))
			case err != nil:
				retryable(f, "record failure", err)
			default:
				p.cfg.Logger.Warn("item failed", "queue", name, "item", it.Label, "err", f.err)
				p.event(name, "failed", it.Label, f.err.Error())
				done = append(done, Done{Item: it, Outcome: OutcomeFailed})
			}
		case f.result.kind == kindCompletedTx:
			done = append(done, Done{Item: it, Outcome: OutcomeCompleted})
		case f.result.kind == kindDefer:
			err := s.q.Defer(ctx, it, f.result.delay)
			switch {
			case errors.Is(err, ErrLeaseLost):
				done = append(done, gone(f, OutcomeDeferred, err))
			case err != nil:
				retryable(f, "defer", err)
			default:
				done = append(done, Done{Item: it, Outcome: OutcomeDeferred})
			}
		default:
			toComplete = append(toComplete, f)
		}
	}
	if len(toComplete) == 0 {
		return done, again
	}
	items := make([]Item, len(toComplete))
	for i, f := range toComplete {
		items[i] = f.item
	}
	lostItems, err := s.q.CompleteBatch(ctx, items)
	if err != nil {
		p.cfg.Logger.Warn("complete failed; holding the items and trying again", "queue", name, "n", len(items), "err", err)
		for _, f := range toComplete {
			escalate(&f, err)
			again = append(again, f)
		}
		return done, again
	}
	lostSet := map[string]bool{}
	for _, it := range lostItems {
		lostSet[it.Token] = true
	}
	for _, f := range toComplete {
		if lostSet[f.item.Token] {
			done = append(done, gone(f, OutcomeCompleted, ErrLeaseLost))
		} else {
			done = append(done, Done{Item: f.item, Outcome: OutcomeCompleted})
		}
	}
	return done, again
}

// heartbeat renews the leases of the claims this process holds every third of a lease, and
// while a claim has recently failed sweeps for orphaned claims, until ctx ends.
//
// Every claim held was renewed by the last heartbeat that succeeded, or claimed after it
// started: none expires before that start plus a lease. A heartbeat may take until a tenth
// of a lease before then (a loaded database answers late, and a late renewal keeps the
// leases where a cancelled one loses them); one that fails is tried again within half a
// second.
func (p *Pool) heartbeat(ctx context.Context) {
	specs := make([]Spec, len(p.queues))
	for i, s := range p.queues {
		specs[i] = s.w.Spec
	}
	period := p.cfg.Lease / 3
	next := time.NewTimer(period)
	defer next.Stop()
	beat, done := p.loop("heartbeat")
	defer done()
	renewed := time.Now() // nothing is held yet: the first claims come after this
	for {
		beat()
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
		tokens := make([][]string, len(p.queues))
		for i, s := range p.queues {
			tokens[i] = s.heldTokens()
		}
		start := time.Now()
		deadline := renewed.Add(p.cfg.Lease - p.cfg.Lease/10)
		if least := start.Add(period); deadline.Before(least) {
			deadline = least
		}
		hbCtx, cancel := context.WithDeadline(ctx, deadline)
		_, err := Heartbeat(hbCtx, p.cfg.DB, specs, tokens, p.cfg.Owner, p.cfg.Lease)
		cancel()
		switch {
		case err == nil:
			renewed = start
			next.Reset(max(0, period-time.Since(start)))
		case ctx.Err() == nil:
			p.cfg.Logger.Error("heartbeat failed; trying again (leases may expire)", "err", err,
				"leases_expire_from", renewed.Add(p.cfg.Lease).Format(time.RFC3339Nano))
			p.event("", "error", "", "heartbeat: "+err.Error())
			next.Reset(jitter(min(time.Second, period) / 2))
		}
		for _, s := range p.queues {
			s.mu.Lock()
			suspect := time.Now().Before(s.suspect)
			s.mu.Unlock()
			if suspect {
				sweepCtx, cancel := p.opContext(ctx)
				s.claimMu.Lock()
				p.sweepOrphans(sweepCtx, s)
				s.claimMu.Unlock()
				cancel()
			}
		}
	}
}

// rescueLoop puts back items whose holders died, every half lease, until ctx ends. The
// first rescue comes at a random moment of the first half lease: a fleet's agents that
// start together (a launch, a reboot of the spot hosts) do not all read the rows in
// progress in the same second as their first claims, and an expired lease still waits at
// most half a lease for some agent's rescue. (This process's own claims of a previous run
// are released at its start from its journal, not by a rescue.)
func (p *Pool) rescueLoop(ctx context.Context) {
	beat, done := p.loop("rescue")
	defer done()
	first := time.NewTimer(rand.N(p.cfg.Lease / 2))
	select {
	case <-ctx.Done():
		first.Stop()
		return
	case <-first.C:
	}
	t := time.NewTicker(p.cfg.Lease / 2)
	defer t.Stop()
	for {
		beat()
		for _, s := range p.queues {
			opCtx, cancel := p.opContext(ctx)
			n, err := s.q.Rescue(opCtx)
			cancel()
			if err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("rescue failed", "queue", s.w.Spec.Name, "err", err)
			}
			if n > 0 {
				p.cfg.Logger.Info("rescued items with expired leases", "queue", s.w.Spec.Name, "n", n)
				p.event(s.w.Spec.Name, "rescued", "", fmt.Sprintf("%d items with expired leases", n))
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
