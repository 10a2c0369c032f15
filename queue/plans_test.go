package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// TestIdleReadsTheOrderIndexWhenStatisticsAreStale: a queue just emptied by a rebuild still
// has the statistics of a full one until it is next analyzed, and every agent asks it
// whether anything is left. The check must read the order index (whose dead entries the
// first reader marks), not every page of the deleted rows.
func TestIdleReadsTheOrderIndexWhenStatisticsAreStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	for _, stmt := range []string{
		`INSERT INTO ingestqueue (filename, path, sortkey)
			SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0') FROM generate_series(1, 20000) i`,
		`VACUUM ANALYZE ingestqueue`,
		`DELETE FROM ingestqueue`,
	} {
		if _, err := db.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	q := New(db, Ingest(), Options{})
	rows, err := db.Query(ctx, `EXPLAIN (COSTS OFF) `+q.sql.idle)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "ingestqueue_pop_ix") {
		t.Errorf("the idle check does not read the order index:\n%s", plan)
	}
	idle, err := q.Idle(ctx)
	if err != nil || !idle {
		t.Errorf("Idle on an empty queue = %v, %v; want true", idle, err)
	}
}
