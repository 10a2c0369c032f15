package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Handler works one claimed item. It returns how the item ended:
//   - Finished: the handler deleted the row itself (Queue.Complete) in a transaction it
//     committed together with its own writes;
//   - Complete: nothing else to write, the pool deletes the row (batched);
//   - DeferFor(d): put back, not before d (a file still being written).
//
// An error fails the item with the error's text, except ErrLeaseLost (the item was rescued
// by someone else: nothing to do) and a cancelled context at shutdown (the item is released).
type Handler func(ctx context.Context, it Item) (Result, error)

// Result is a handler's verdict on an item.
type Result struct {
	kind  int
	delay time.Duration
}

const (
	kindFinished = iota + 1
	kindComplete
	kindDefer
)

// Verdicts a Handler returns.
var (
	Finished = Result{kind: kindFinished}
	Complete = Result{kind: kindComplete}
)

// DeferFor puts the item back for at least d.
func DeferFor(d time.Duration) Result { return Result{kind: kindDefer, delay: d} }

// Outcomes recorded in the journal and the counters.
const (
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"
	OutcomeDeferred  = "deferred"
	OutcomeLost      = "lost"     // lease lost: someone rescued it
	OutcomeReleased  = "released" // put back at shutdown, or after a crash at restart
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
	Finished(queue string, done []Done) error
	Outstanding(queue string) (tokens []string, err error)
}

// Event is something worth showing an operator (status socket, logs).
type Event struct {
	Time   time.Time `json:"time"`
	Queue  string    `json:"queue"`
	Kind   string    `json:"kind"`
	Label  string    `json:"label,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Workers says how one queue is served.
type Workers struct {
	Spec    Spec
	Count   int
	Handler Handler
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	DB          *pgxpool.Pool
	Owner       string // uuid of this process run
	Holder      string // "host/pid/name": workers are Holder/<queue>-<i>
	Lease       time.Duration
	MaxAttempts int
	Poll        time.Duration // polling interval when idle (default 2s)
	Grace       time.Duration // at shutdown, how long running items may take to finish
	Empty       bool          // return once every queue is idle
	Queues      []Workers
	Journal     Journal // nil: no journal (tests, benchmarks of the database alone)
	Logger      *slog.Logger
	OnEvent     func(Event)
	// NoListen disables the LISTEN connection (polling only).
	NoListen bool
}

// prefetch is how many claimed items each worker may hold: the one it works and the next.
const prefetch = 2

// Pool runs the workers of one process over its queues.
type Pool struct {
	cfg    PoolConfig
	queues []*served
}

// served is the runtime of one queue in the pool.
type served struct {
	q       *Queue
	w       Workers
	wake    chan struct{}
	mu      sync.Mutex
	current []*Item // per worker, nil when idle
	since   []time.Time
	counts  map[string]int64
}

// WorkerState is one worker for status.
type WorkerState struct {
	Holder string    `json:"holder"`
	Item   string    `json:"item,omitempty"`
	Since  time.Time `json:"since,omitempty"`
}

// QueueState is one queue of the pool for status.
type QueueState struct {
	Queue   string           `json:"queue"`
	Workers []WorkerState    `json:"workers"`
	Counts  map[string]int64 `json:"counts"`
}

// NewPool prepares a pool; Run starts it.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg}
	for _, w := range cfg.Queues {
		p.queues = append(p.queues, &served{
			q:       New(cfg.DB, w.Spec, Options{Owner: cfg.Owner, Lease: cfg.Lease, MaxAttempts: cfg.MaxAttempts}),
			w:       w,
			wake:    make(chan struct{}, 1),
			current: make([]*Item, w.Count),
			since:   make([]time.Time, w.Count),
			counts:  map[string]int64{},
		})
	}
	return p
}

// State reports the workers and counters of every queue.
func (p *Pool) State() []QueueState {
	var out []QueueState
	for _, s := range p.queues {
		s.mu.Lock()
		qs := QueueState{Queue: s.w.Spec.Name, Counts: map[string]int64{}}
		for i, it := range s.current {
			ws := WorkerState{Holder: p.holder(s, i)}
			if it != nil {
				ws.Item, ws.Since = it.Label, s.since[i]
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

// RecoverJournal releases the claims a previous run of this process left in its journal
// (it died holding them): each counts an attempt. Run calls it first.
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
		n, err := s.q.Release(ctx, tokens, true)
		if err != nil {
			return err
		}
		done := make([]Done, len(tokens))
		for i, t := range tokens {
			done[i] = Done{Item: Item{Token: t}, Outcome: OutcomeReleased}
		}
		if err := p.cfg.Journal.Finished(s.w.Spec.Name, done); err != nil {
			return fmt.Errorf("clear journal: %w", err)
		}
		p.cfg.Logger.Info("released claims left by the previous run", "queue", s.w.Spec.Name, "journaled", len(tokens), "still_held", n)
		p.event(s.w.Spec.Name, "recovered", "", fmt.Sprintf("released %d claims of the previous run", n))
	}
	return nil
}

// Run serves the queues until ctx is cancelled (then it stops claiming, lets running items
// finish within the grace period, releases the rest and returns nil) or, with Empty, until
// every queue is idle.
func (p *Pool) Run(ctx context.Context) error {
	if err := p.RecoverJournal(ctx); err != nil {
		return err
	}
	// workCtx outlives ctx by the grace period so that running items can finish.
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()

	var bg sync.WaitGroup // heartbeat, rescue, listener: exit when fetchCtx/workCtx end
	bgCtx, stopBG := context.WithCancel(workCtx)
	bg.Add(2)
	go func() { defer bg.Done(); p.heartbeat(bgCtx) }()
	go func() { defer bg.Done(); p.rescueLoop(fetchCtx) }()
	if !p.cfg.NoListen {
		bg.Add(1)
		go func() { defer bg.Done(); p.listen(fetchCtx) }()
	}

	var idleWG sync.WaitGroup
	emptyAll := make(chan struct{})
	var runs sync.WaitGroup
	for _, s := range p.queues {
		idleWG.Add(1)
		runs.Add(1)
		go func() { // owner: Run; exits when fetchCtx ends (or the queue is empty in Empty mode)
			defer runs.Done()
			p.serve(fetchCtx, workCtx, s, &idleWG)
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
	if ctx.Err() != nil && p.cfg.Grace > 0 {
		select {
		case <-finished:
		case <-time.After(p.cfg.Grace):
			p.cfg.Logger.Warn("grace period over: cancelling running items", "grace", p.cfg.Grace)
			cancelWork()
		}
	} else if ctx.Err() != nil {
		cancelWork()
	}
	<-finished
	stopBG()
	bg.Wait()
	return nil
}

// serve runs one queue: a fetcher handing claimed items to idle workers, the workers, and
// a finisher that batches completions and journal writes.
func (p *Pool) serve(fetchCtx, workCtx context.Context, s *served, idleWG *sync.WaitGroup) {
	n := s.w.Count
	// Each worker has prefetch slots: while it works one item the next one waits claimed,
	// so claims come in larger batches and workers never wait for a round trip.
	slots := n * prefetch
	idle := make(chan int, slots)
	inputs := make([]chan Item, n)
	for i := range inputs {
		inputs[i] = make(chan Item, prefetch)
	}
	for k := 0; k < prefetch; k++ {
		for i := 0; i < n; i++ {
			idle <- i
		}
	}
	finish := make(chan finishing, 4*slots)
	var workers sync.WaitGroup
	for i := 0; i < n; i++ {
		workers.Add(1)
		go func() { // owner: serve; exits when its input channel is closed
			defer workers.Done()
			for it := range inputs[i] {
				if fetchCtx.Err() != nil {
					// Stopping: items not started yet go back at once.
					finish <- finishing{item: it, err: context.Canceled}
					continue
				}
				finish <- p.work(workCtx, s, i, it)
				idle <- i
			}
		}()
	}
	finisherDone := make(chan struct{})
	go func() { // owner: serve; exits when finish is closed
		defer close(finisherDone)
		p.finisher(s, finish)
	}()

	p.fetch(fetchCtx, s, idle, inputs, idleWG)

	for _, in := range inputs {
		close(in)
	}
	workers.Wait()
	close(finish)
	<-finisherDone
}

type finishing struct {
	item   Item
	result Result
	err    error
}

// fetch claims items for idle workers until ctx ends.
func (p *Pool) fetch(ctx context.Context, s *served, idle chan int, inputs []chan Item, idleWG *sync.WaitGroup) {
	reportedIdle := false
	name := s.w.Spec.Name
	for {
		var slots []int
		select {
		case i := <-idle:
			slots = append(slots, i)
		case <-ctx.Done():
			return
		}
	more:
		for {
			select {
			case i := <-idle:
				slots = append(slots, i)
			default:
				break more
			}
		}
		holders := make([]string, len(slots))
		for k, i := range slots {
			holders[k] = p.holder(s, i)
		}
		items, err := s.q.Claim(ctx, holders)
		if err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("claim failed; retrying", "queue", name, "err", err)
			p.event(name, "error", "", err.Error())
		}
		if err == nil && len(items) > 0 && p.cfg.Journal != nil {
			if jerr := p.cfg.Journal.Claimed(name, items); jerr != nil {
				p.cfg.Logger.Error("journal write failed: releasing the claims", "queue", name, "err", jerr)
				p.event(name, "error", "", "journal: "+jerr.Error())
				tokens := make([]string, len(items))
				for k, it := range items {
					tokens[k] = it.Token
				}
				if _, rerr := s.q.Release(context.Background(), tokens, false); rerr != nil {
					p.cfg.Logger.Error("release after journal failure", "queue", name, "err", rerr)
				}
				items, err = nil, jerr
			}
		}
		// Hand the items out; give the unused slots back.
		for k, i := range slots {
			if k < len(items) {
				s.mu.Lock()
				s.counts["claimed"]++
				s.mu.Unlock()
				inputs[i] <- items[k]
			} else {
				idle <- i
			}
		}
		if len(items) > 0 {
			continue
		}
		if p.cfg.Empty && err == nil && len(idle) == cap(idle) && !reportedIdle {
			if _, err := s.q.Rescue(ctx); err == nil {
				if ok, err := s.q.Idle(ctx); err == nil && ok {
					reportedIdle = true
					idleWG.Done()
					p.event(name, "empty", "", "nothing pending and no live lease")
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(p.cfg.Poll):
		}
	}
}

// work runs the handler on one item.
func (p *Pool) work(ctx context.Context, s *served, i int, it Item) finishing {
	s.mu.Lock()
	s.current[i], s.since[i] = &it, time.Now()
	s.mu.Unlock()
	res, err := s.w.Handler(ctx, it)
	s.mu.Lock()
	s.current[i] = nil
	s.mu.Unlock()
	return finishing{item: it, result: res, err: err}
}

// finisher settles finished items in batches: completions in one statement, outcomes in one
// journal write.
func (p *Pool) finisher(s *served, in <-chan finishing) {
	name := s.w.Spec.Name
	ctx := context.Background() // settling must happen even during shutdown
	for f := range in {
		batch := []finishing{f}
	drain:
		for len(batch) < 1000 {
			select {
			case f, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, f)
			default:
				break drain
			}
		}
		var done []Done
		var toComplete []Item
		for _, f := range batch {
			outcome := p.settle(ctx, s, f, &toComplete)
			if outcome != "" {
				done = append(done, Done{Item: f.item, Outcome: outcome})
			}
		}
		if len(toComplete) > 0 {
			lost, err := s.q.CompleteBatch(ctx, toComplete)
			if err != nil {
				// The rows stay claimed; their leases expire and they are rescued.
				p.cfg.Logger.Error("complete failed; the items will be rescued", "queue", name, "n", len(toComplete), "err", err)
				lost = toComplete
			}
			lostSet := map[string]bool{}
			for _, it := range lost {
				lostSet[it.Token] = true
			}
			for _, it := range toComplete {
				o := OutcomeCompleted
				if lostSet[it.Token] {
					o = OutcomeLost
				}
				done = append(done, Done{Item: it, Outcome: o})
			}
		}
		s.mu.Lock()
		for _, d := range done {
			s.counts[d.Outcome]++
		}
		s.mu.Unlock()
		if p.cfg.Journal != nil && len(done) > 0 {
			if err := p.cfg.Journal.Finished(name, done); err != nil {
				p.cfg.Logger.Error("journal clear failed", "queue", name, "err", err)
			}
		}
		select { // let an idle fetcher look again (Empty mode waits for our last items)
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// settle applies one handler verdict; items for the batched delete go to toComplete.
func (p *Pool) settle(ctx context.Context, s *served, f finishing, toComplete *[]Item) string {
	name, it := s.w.Spec.Name, f.item
	switch {
	case errors.Is(f.err, ErrLeaseLost):
		p.cfg.Logger.Warn("lease lost; another agent took the item", "queue", name, "item", it.Label)
		p.event(name, "lost", it.Label, f.err.Error())
		return OutcomeLost
	case f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)):
		if _, err := s.q.Release(ctx, []string{it.Token}, false); err != nil {
			p.cfg.Logger.Error("release at shutdown failed; the lease will expire", "queue", name, "item", it.Label, "err", err)
		}
		return OutcomeReleased
	case f.err != nil:
		p.cfg.Logger.Warn("item failed", "queue", name, "item", it.Label, "err", f.err)
		p.event(name, "failed", it.Label, f.err.Error())
		if err := s.q.Fail(ctx, it, f.err.Error()); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				return OutcomeLost
			}
			p.cfg.Logger.Error("record failure", "queue", name, "item", it.Label, "err", err)
		}
		return OutcomeFailed
	}
	switch f.result.kind {
	case kindFinished:
		return OutcomeCompleted
	case kindDefer:
		if err := s.q.Defer(ctx, it, f.result.delay); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				return OutcomeLost
			}
			p.cfg.Logger.Error("defer", "queue", name, "item", it.Label, "err", err)
		}
		return OutcomeDeferred
	default:
		*toComplete = append(*toComplete, it)
		return ""
	}
}

// heartbeat renews all leases of this process every third of a lease, until ctx ends.
func (p *Pool) heartbeat(ctx context.Context) {
	specs := make([]Spec, len(p.queues))
	for i, s := range p.queues {
		specs[i] = s.w.Spec
	}
	t := time.NewTicker(p.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := Heartbeat(ctx, p.cfg.DB, specs, p.cfg.Owner, p.cfg.Lease); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("heartbeat failed; leases may expire", "err", err)
			p.event("", "error", "", "heartbeat: "+err.Error())
		}
	}
}

// rescueLoop puts back items whose holders died, every half lease, until ctx ends.
func (p *Pool) rescueLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.Lease / 2)
	defer t.Stop()
	for {
		for _, s := range p.queues {
			n, err := s.q.Rescue(ctx)
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
