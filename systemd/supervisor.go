package systemd

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Supervisor pings the watchdog while every loop registered with it is turning: each loop
// beats at the top of every turn (and while it waits on a timer), and declares how long it
// may go without a beat. A loop that waits legitimately (the fetcher while every worker is
// busy) beats from its wait; a loop that is wedged (a lock never released, a call without a
// deadline) stops beating, the pings stop, and systemd restarts the service when
// WatchdogSec= runs out. So the pings come from here, never from a detached ticker.
type Supervisor struct {
	mu     sync.Mutex
	loops  map[*loop]struct{}
	now    func() time.Time
	logger *slog.Logger
	wedged []string // the loops found wedged at the last check, for messages
}

type loop struct {
	name   string
	within time.Duration
	last   time.Time
}

// NewSupervisor returns a supervisor with no loops; logger says when a loop is found
// wedged (nil: silent).
func NewSupervisor(logger *slog.Logger) *Supervisor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{loops: map[*loop]struct{}{}, now: time.Now, logger: logger}
}

// Register adds a loop that must beat at least every within. It returns the loop's beat,
// and done, which removes it (the loop has ended: it is not wedged). Both are safe from
// any goroutine; a nil Supervisor returns no-ops.
func (s *Supervisor) Register(name string, within time.Duration) (beat, done func()) {
	if s == nil {
		return func() {}, func() {}
	}
	l := &loop{name: name, within: within}
	s.mu.Lock()
	l.last = s.now()
	s.loops[l] = struct{}{}
	s.mu.Unlock()
	beat = func() {
		s.mu.Lock()
		l.last = s.now()
		s.mu.Unlock()
	}
	done = func() {
		s.mu.Lock()
		delete(s.loops, l)
		s.mu.Unlock()
	}
	return beat, done
}

// Wedged lists the loops that have not beaten within their limit, by name.
func (s *Supervisor) Wedged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []string
	for l := range s.loops {
		if now.Sub(l.last) > l.within {
			out = append(out, l.name)
		}
	}
	slices.Sort(out)
	return out
}

// Run calls ping every period while no loop is wedged, until ctx ends. When a loop wedges
// it logs which, once, and stops pinging until every loop beats again.
func (s *Supervisor) Run(ctx context.Context, period time.Duration, ping func() error) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		wedged := s.Wedged()
		s.mu.Lock()
		changed := !slices.Equal(wedged, s.wedged)
		s.wedged = wedged
		s.mu.Unlock()
		switch {
		case len(wedged) == 0:
			if changed {
				s.logger.Info("every supervised loop is turning again; watchdog pings resume")
			}
			if err := ping(); err != nil {
				s.logger.Warn("watchdog ping", "err", err)
			}
		case changed:
			s.logger.Error("loops wedged: watchdog pings stopped, systemd will restart the service", "loops", wedged)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
