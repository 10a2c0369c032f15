package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/internal/spot"
	"github.com/fitsarchive/agentd/queue"
	"github.com/fitsarchive/agentd/systemd"
)

// spotState is what the agent knows of its spot instance, for status and metrics.
type spotState struct {
	mu sync.Mutex
	st spot.Status
}

func (s *spotState) snapshot() spot.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Reasons the pool holds its claims for.
const (
	holdRebalance    = "spot rebalance recommendation"
	holdInterruption = "spot interruption notice"
)

// spotAgent acts on the notices of a spot instance for one pool.
type spotAgent struct {
	cfg      config.Spot
	pool     *queue.Pool
	state    *spotState
	notifier *systemd.Notifier
	stop     func() // stops the pool (its grace set first)
	logger   *slog.Logger
	now      func() time.Time
}

// startSpot looks for an instance metadata service (mode auto); on EC2 it watches for
// notices until ctx ends and returns the state it keeps, off EC2 it says so once and
// returns nil.
func startSpot(ctx context.Context, cfg config.Spot, pool *queue.Pool, notifier *systemd.Notifier, stop func(), logger *slog.Logger, wg *sync.WaitGroup) *spotState {
	if cfg.Mode == config.SpotOff {
		return nil
	}
	w := &spot.Watcher{Endpoint: cfg.MetadataEndpoint, Logger: logger}
	id, ok := w.OnEC2(ctx, 2*time.Second)
	if !ok {
		logger.Info("not on EC2 (no instance metadata answers): spot handling off")
		return nil
	}
	st := &spotState{st: spot.Status{InstanceID: id}}
	a := &spotAgent{cfg: cfg, pool: pool, state: st, notifier: notifier, stop: stop, logger: logger.With("instance", id), now: time.Now}
	a.logger.Info("on EC2: watching for spot rebalance recommendations and interruption notices")
	wg.Add(1)
	go func() { // owner: serve; ends with ctx
		defer wg.Done()
		w.Run(ctx, func(n spot.Notice) { a.notice(ctx, n, wg) }, a.metadataError)
	}()
	return st
}

func (a *spotAgent) metadataError(err error) {
	a.state.mu.Lock()
	a.state.st.LastError = err.Error()
	a.state.mu.Unlock()
	a.logger.Warn("instance metadata: retrying", "err", err)
}

// notice acts on one notice.
func (a *spotAgent) notice(ctx context.Context, n spot.Notice, wg *sync.WaitGroup) {
	a.state.mu.Lock()
	switch n.Kind {
	case spot.Rebalance:
		a.state.st.Rebalance = &n
	case spot.Interruption:
		a.state.st.Interruption = &n
	}
	a.state.mu.Unlock()
	switch n.Kind {
	case spot.Rebalance:
		a.logger.Warn("spot rebalance recommendation: no new claims; claiming resumes unless an interruption notice follows",
			"resume_after", a.cfg.RebalanceResume)
		a.pool.Hold(holdRebalance, true)
		wg.Add(1)
		go func() { // owner: serve; ends at the timer or with ctx
			defer wg.Done()
			select {
			case <-ctx.Done():
			case <-time.After(a.cfg.RebalanceResume.Duration):
				if a.state.snapshot().Interruption == nil {
					a.logger.Info("no interruption notice followed the rebalance recommendation: claiming again")
					a.pool.Hold(holdRebalance, false)
				}
			}
		}()
	case spot.Interruption:
		a.pool.Hold(holdInterruption, true)
		// Done by the margin before the notice's time: the grace for running items, then the
		// pool's cleanup (settling, the final release), both inside what is left.
		grace := max(n.Time.Sub(a.now())-a.cfg.InterruptionMargin.Duration-queue.DefaultCleanup, 0)
		a.logger.Warn("spot interruption notice: stopping; running items get until shortly before the instance goes",
			"action", n.Action, "at", n.Time.Format(time.RFC3339), "grace", grace.Round(time.Second))
		_ = a.notifier.Stopping(fmt.Sprintf("stopping: spot %s at %s", n.Action, n.Time.Format(time.RFC3339)))
		a.pool.SetGrace(grace)
		a.stop()
	}
}

// powerOff ends an emptied spot host's run ([spot] poweroff_when_empty): systemctl
// poweroff, through the one exec runner. A refusal (an unprivileged agent: the spot unit's
// SuccessAction=poweroff is the way there) is logged, not a failure of the run: the work is
// done, and a failed exit would only restart the agent.
func powerOff(ctx context.Context, run hostexec.Runner, logger *slog.Logger) {
	logger.Info("every queue is empty: powering the instance off ([spot] poweroff_when_empty)")
	if _, _, err := run.Run(ctx, "systemctl", "poweroff"); err != nil {
		logger.Error("could not power the instance off; under the agentd-spot unit leave poweroff_when_empty off (the unit powers off)", "err", err)
	}
}
