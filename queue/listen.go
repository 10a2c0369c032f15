package queue

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// listen keeps one LISTEN connection for the whole process and wakes the fetcher of the
// queue whose channel was notified. It reconnects after errors; polling stays the source of
// truth, so a lost notification only costs one poll interval. Exits when ctx ends.
func (p *Pool) listen(ctx context.Context) {
	byChannel := map[string]*served{}
	for _, s := range p.queues {
		byChannel[s.w.Spec.Channel()] = s
	}
	backoff := time.Second
	for ctx.Err() == nil {
		err := p.listenOnce(ctx, byChannel)
		if ctx.Err() != nil {
			return
		}
		p.cfg.Logger.Warn("LISTEN connection lost; polling until it is back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (p *Pool) listenOnce(ctx context.Context, byChannel map[string]*served) error {
	cfg := p.cfg.DB.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = appName(p.cfg.Holder + "/listen")
	// It waits for notifications, not for a statement: when ctx ends, the wait ends at once
	// (pgx's default), whatever the pool's connections do (a cancel request would find
	// nothing to cancel, and the wait would last until the pool's fallback deadline).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for ch := range byChannel {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if s, ok := byChannel[n.Channel]; ok {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

func appName(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}
