package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/mdraid"
	"github.com/fitsarchive/agentd/queue"
	"github.com/fitsarchive/agentd/systemd"
)

// dbState is what the agent knows of its database, for STATUS= and the status socket.
type dbState struct {
	mu      sync.Mutex
	state   string            // "connecting", "ok", "unreachable: …"
	pending map[string]string // for the status line
	counts  map[string]int64  // the same, as numbers (metrics)
	pool    *pgxpool.Pool     // set once connected
	specs   []queue.Spec
}

// use records the connected pool and the queues served, for the pending counts.
func (d *dbState) use(pool *pgxpool.Pool, specs []queue.Spec) {
	d.mu.Lock()
	d.pool, d.specs = pool, specs
	d.mu.Unlock()
}

func (d *dbState) set(s string) {
	d.mu.Lock()
	d.state = s
	d.mu.Unlock()
}

func (d *dbState) get() (string, map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := make(map[string]string, len(d.pending))
	for k, v := range d.pending {
		p[k] = v
	}
	return d.state, p
}

// pendingCap bounds the count of pending items a status line shows: the count reads at most
// this many index entries, whatever the queue's length (200 hosts ask).
const pendingCap = 100000

// countPending refreshes the pending counts of the queues (capped at pendingCap), once
// connected; it reports whether it could.
func (d *dbState) countPending(ctx context.Context) bool {
	d.mu.Lock()
	db, specs := d.pool, d.specs
	d.mu.Unlock()
	if db == nil {
		return false
	}
	texts, counts := map[string]string{}, map[string]int64{}
	for _, spec := range specs {
		n, err := queue.PendingUpTo(ctx, db, spec, pendingCap)
		switch {
		case err != nil:
			continue
		case n >= pendingCap:
			texts[spec.Name] = fmt.Sprintf("over %s pending", thousands(pendingCap))
		default:
			texts[spec.Name] = thousands(n) + " pending"
		}
		counts[spec.Name] = n
	}
	d.mu.Lock()
	d.pending, d.counts = texts, counts
	d.mu.Unlock()
	return true
}

// sampled is the last pending counts, by queue.
func (d *dbState) sampled() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int64, len(d.counts))
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}

// statusLine is the STATUS= line: "ingest: 3 workers (2 busy), 41,203 pending, 212/s; db ok;
// storage: md0 recovering 42%".
func (s *statusServer) statusLine() string {
	var parts []string
	s.mu.Lock()
	pool, storage, db := s.pool, s.storage, s.db
	s.mu.Unlock()
	var dbText string
	var pending map[string]string
	if db != nil {
		dbText, pending = db.get()
	}
	if pool != nil {
		for _, q := range pool.State() {
			busy := 0
			for _, w := range q.Workers {
				if w.Item != "" {
					busy++
				}
			}
			part := fmt.Sprintf("%s: %d workers (%d busy)", q.Queue, len(q.Workers), busy)
			if p := pending[q.Queue]; p != "" {
				part += ", " + p
			}
			parts = append(parts, part+fmt.Sprintf(", %.1f/s", q.Rate))
		}
	} else if len(s.cfg.Agentd.Queues) > 0 {
		parts = append(parts, "queues: waiting for the database")
	}
	if dbText != "" {
		parts = append(parts, "db "+dbText)
	}
	if storage != nil {
		parts = append(parts, "storage: "+storageLine(storage.Snapshot().Arrays))
	}
	if len(parts) == 0 {
		parts = append(parts, "idle: no queue, no storage watch")
	}
	if d, err := s.st.Drained(); err == nil && d != nil {
		parts = append([]string{"DRAINED (agentctl resume)"}, parts...)
	}
	return strings.Join(parts, "; ")
}

// storageLine says how the arrays are, shortly.
func storageLine(arrays []mdraid.Array) string {
	if len(arrays) == 0 {
		return "no md arrays"
	}
	var out []string
	for _, a := range arrays {
		switch {
		case !a.Active:
			out = append(out, a.Name+" inactive")
		case a.Sync != nil && !a.Sync.Pending:
			out = append(out, fmt.Sprintf("%s %s %.0f%%", a.Name, a.Sync.Kind, a.Sync.Percent))
		case a.Degraded > 0:
			out = append(out, a.Name+" degraded")
		default:
			out = append(out, a.Name+" ok")
		}
	}
	return strings.Join(out, ", ")
}

// thousands writes n with thousands separators: 41,203.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// connect opens the pool and waits for the database: a failure a retry may fix (the server
// down, starting, restarting, out of connections, unreachable) is retried with exponential
// backoff and jitter, up to a minute apart, while the rest of the agent (the storage watcher,
// the socket) runs; one a retry cannot fix (authentication, no such database) ends the agent
// (exit 3). It returns nil, nil when ctx ends first.
func connect(ctx context.Context, pc *pgxpool.Config, db *dbState, notifier *systemd.Notifier, status func() string, logger *slog.Logger) (*pgxpool.Pool, error) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		db.set("connecting")
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err == nil {
			pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = pool.Ping(pingCtx)
			cancel()
			if err == nil {
				db.set("ok")
				if attempt > 1 {
					logger.Info("database reachable again", "attempts", attempt)
				}
				return pool, nil
			}
			pool.Close()
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		what := fmt.Sprintf("connect to database %q: %v", pc.ConnConfig.Database, err)
		if !retryable(err) {
			return nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("%s; check --database-url, $DATABASE_URL or the PG* variables", what))
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: 200 hosts do not come back at once
		db.set(fmt.Sprintf("unreachable (retrying in %s): %v", wait.Round(time.Second), err))
		_ = notifier.Status(status())
		logger.Warn("database unreachable; retrying", "err", err, "in", wait.Round(time.Millisecond), "attempt", attempt)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// retryTransient runs fn until it succeeds, fails for a reason a retry cannot fix
// (queue.Transient says which), or ctx ends (its error is returned): the database
// restarting while the agent starts is waited out, with backoff and jitter, as at connect.
func retryTransient(ctx context.Context, logger *slog.Logger, what string, fn func() error) error {
	backoff := time.Second
	for {
		err := fn()
		if err == nil || !queue.Transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		logger.Warn(what+" failed; retrying", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// retryable says whether a failure to connect may go away by itself: anything but the
// server's refusal of who we are or what we asked for.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"), pe.Code == "3D000", pe.Code == "42501":
			return false // authentication, no such database, no permission to connect
		}
	}
	return true
}

// notifyLoop keeps STATUS= current (every 5 s; the pending counts every 30 s), and says
// STOPPING=1 when stop (the signal context) ends, until ctx ends.
func (s *statusServer) notifyLoop(ctx, stop context.Context, notifier *systemd.Notifier, sup *systemd.Supervisor, grace time.Duration) {
	beat, done := sup.Register("status", time.Minute)
	defer done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	stopping := stop.Done()
	var counted time.Time
	for {
		beat()
		s.mu.Lock()
		db := s.db
		s.mu.Unlock()
		if db != nil && time.Since(counted) >= 30*time.Second {
			countCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if db.countPending(countCtx) {
				counted = time.Now()
			}
			cancel()
		}
		if err := notifier.Status(s.statusLine()); err != nil {
			s.logger.Warn("systemd: could not set STATUS", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-stopping:
			stopping = nil
			_ = notifier.Stopping(fmt.Sprintf("stopping: running items get %s to finish", grace))
		case <-t.C:
		}
	}
}
