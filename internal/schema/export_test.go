package schema

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MigrateTo brings a database to version v only: tests of a migration start from the
// version before it.
func MigrateTo(ctx context.Context, conn *pgx.Conn, v int) ([]Migration, error) {
	return apply(ctx, conn, false, v)
}
