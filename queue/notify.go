package queue

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Notify announces new items of the queue. Call it once per enqueue batch, in the batch's
// transaction (never from a trigger: every NOTIFY commit takes a global lock).
func Notify(ctx context.Context, tx pgx.Tx, s Spec) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, s.Channel()); err != nil {
		return fmt.Errorf("notify %s: %w", s.Channel(), err)
	}
	return nil
}
