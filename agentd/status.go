package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/queue"
)

// statusServer is the control socket (control.go): status, events, drain and resume.
type statusServer struct {
	cfg     config.Config
	st      *state.Store
	logger  *slog.Logger
	started time.Time
	srv     *http.Server
	path    string

	mu      sync.Mutex
	pool    *queue.Pool
	storage *storagewatch.Watcher
	db      *dbState   // nil when no queue is served
	spot    *spotState // nil off EC2
	gid     int        // the socket group's id, -1 when none

	// drainMu orders the drain's record in the state file and the pool's: a drain or
	// resume and the pool's arrival never interleave.
	drainMu sync.Mutex
}

func (s *statusServer) setSpot(sp *spotState) {
	s.mu.Lock()
	s.spot = sp
	s.mu.Unlock()
}

func newStatus(cfg config.Config, st *state.Store, logger *slog.Logger) *statusServer {
	return &statusServer{cfg: cfg, st: st, logger: logger, started: time.Now()}
}

// setPool gives the socket the pool, drained already when the state says so.
func (s *statusServer) setPool(p *queue.Pool) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	if d, err := s.st.Drained(); err == nil && d != nil {
		p.Drain(true)
		s.logger.Warn("drained since an operator asked: no new claims until agentctl resume", "since", d.Since, "by", d.By)
	}
	s.mu.Lock()
	s.pool = p
	s.mu.Unlock()
}

func (s *statusServer) setDB(d *dbState) {
	s.mu.Lock()
	s.db = d
	s.mu.Unlock()
}

func (s *statusServer) setStorage(w *storagewatch.Watcher) {
	s.mu.Lock()
	s.storage = w
	s.mu.Unlock()
}

func (s *statusServer) event(ev queue.Event) {
	if err := s.st.AddEvent(ev); err != nil {
		s.logger.Warn("record event", "err", err)
	}
}

func (s *statusServer) close() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = os.Remove(s.path)
	s.srv = nil
}
