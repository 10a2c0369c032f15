package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/lockfile"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/queue"
)

// statusServer answers GET /status on the unix socket: read-only, for agentctl status.
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
	db      *dbState // nil when no queue is served
}

func newStatus(cfg config.Config, st *state.Store, logger *slog.Logger) *statusServer {
	return &statusServer{cfg: cfg, st: st, logger: logger, started: time.Now()}
}

func (s *statusServer) setPool(p *queue.Pool) {
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

// listen binds the socket. A socket file another agentd answers on is refused; a stale one
// (its agentd died) is replaced.
func (s *statusServer) listen(path string) error {
	// The socket's directory is agentd's own runtime directory: nobody else may write to
	// it (or replace the socket).
	if err := lockfile.PrivateDir(filepath.Dir(path)); err != nil {
		return cli.WithCode(cli.ExitRefused, fmt.Errorf("status socket: %w", err))
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("status socket %s is in use by a running agentd; choose another --name or --socket", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("status socket: %w", err)
	}
	// Its mode must not follow the umask: only the agent's user may connect.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("status socket %s: %w", path, err)
	}
	s.path = path
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handle)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.srv = srv
	go func() { // owner: statusServer; exits when close shuts the server down
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("status socket", "err", err)
		}
	}()
	return nil
}

func (s *statusServer) handle(w http.ResponseWriter, _ *http.Request) {
	doc := agentstatus.Status{Name: s.cfg.Agentd.Name, Version: cli.Version(), PID: os.Getpid(), Role: s.cfg.Role, Started: s.started,
		Queues: []queue.QueueState{}, Lifetime: map[string]map[string]uint64{}}
	s.mu.Lock()
	pool, storage := s.pool, s.storage
	s.mu.Unlock()
	if pool != nil {
		doc.Queues = pool.State()
	}
	if storage != nil {
		snap := storage.Snapshot()
		doc.Storage = &snap
	}
	for name := range s.cfg.Agentd.Queues {
		if c, err := s.st.Counters(name); err == nil {
			doc.Lifetime[name] = c
		}
	}
	doc.Events, _ = s.st.Events(50)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
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
