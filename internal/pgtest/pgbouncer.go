package pgtest

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgcluster"
)

// PgBouncer starts Debian's pgbouncer in transaction pooling mode in front of the server of
// dbURL, with a small server pool (poolSize connections per database and user, so that
// transactions of one client land on different server connections, as on a busy pooler),
// and returns the URL to use instead (same database and user). It stops when the test ends.
// Without pgbouncer installed the test fails under CI (scripts/test.sh installs it) and is
// skipped loudly elsewhere.
func PgBouncer(t testing.TB, dbURL string, poolSize int) string {
	t.Helper()
	b, err := pgcluster.StartPgBouncer(context.Background(), dbURL, poolSize)
	if errors.Is(err, pgcluster.ErrNoPgBouncer) {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: " + err.Error() + "; scripts/test.sh installs Debian's")
		}
		t.Skip("SKIPPED LOUDLY: " + err.Error())
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(b.Stop)
	return b.URL
}
