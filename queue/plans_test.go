package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// TestIdleReadsTheOrderIndexWhenStatisticsAreStale: a queue just emptied by a rebuild still
// has the statistics of a full one until it is next analyzed, and every agent asks it
// whether anything is left. The check must read the order index (whose dead entries the
// first reader marks), not every page of the deleted rows.
func TestIdleReadsTheOrderIndexWhenStatisticsAreStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := analyzedQueue(ctx, t)
	if _, err := db.Exec(ctx, `DELETE FROM ingestqueue`); err != nil {
		t.Fatal(err)
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

// TestTokenStatementsReadOnlyTheirRows: the statements that find rows by their claim tokens
// (completion, failure, heartbeat, deferral and release) reach them through the token index,
// custom plan or generic, with the statistics of the queue taken before anything was
// claimed (as on a server whose autovacuum has not come by since a rebuild began): never by
// reading every row in progress through the run-key index, which made their cost grow with
// the claims of the whole fleet.
func TestTokenStatementsReadOnlyTheirRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := analyzedQueue(ctx, t)
	q := New(db, Ingest(), Options{Owner: owner})
	held := claimAtLeast(ctx, t, q, 2400)
	var tokens []string
	for _, it := range held[:64] {
		tokens = append(tokens, it.Token)
	}
	byToken, byTokenArgs := q.requeueStatement(requeueArgs{byToken: true, where: "claim_token = ANY($4::uuid[])",
		args: []any{tokenArray(tokens)}, crashed: true})
	beat, beatArgs := heartbeatStatement([]Spec{Ingest()}, [][]string{tokens}, owner, time.Minute)
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"completion of a batch", q.sql.completeBatch, []any{tokenArray(tokens)}},
		{"completion of one", q.sql.complete, []any{tokens[0], "f1.fits"}},
		{"failure", q.sql.fail, []any{tokens[0], "bad"}},
		{"heartbeat", beat, beatArgs},
		{"release by tokens", byToken, byTokenArgs},
	} {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explain(ctx, t, db, mode, c.sql, c.args...)
			if strings.Contains(plan, "running_uq") || strings.Contains(plan, "Seq Scan on ingestqueue") ||
				!strings.Contains(plan, "ingestqueue_token_ix") || !probesOnly(plan, "ingestqueue_token_ix") {
				t.Errorf("%s (%s) does not find its rows through the token index alone:\n%s", c.name, mode, plan)
			}
		}
	}
}

// TestClaimProbesTheRunKeysOfItsCandidates: the claim checks that no row of a candidate's
// run key is in progress by a probe of the run-key index per candidate (an index condition
// on the candidate's key), custom plan or generic, whether the statistics of the queue were
// taken before anything was claimed or while the fleet held 2,400 items: never by reading
// every row in progress, which made each claim's cost grow with what the whole fleet held.
func TestClaimProbesTheRunKeysOfItsCandidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := analyzedQueue(ctx, t)
	q := New(db, Ingest(), Options{Owner: owner, Lease: time.Minute})
	claimAtLeast(ctx, t, q, 2400)
	args := []any{owner, make([]string, 64), int64(60000), newTokens(64)}
	for _, stats := range []string{"taken before the claims", "taken while 2,400 are held"} {
		if stats == "taken while 2,400 are held" {
			if err := Analyze(ctx, db, Ingest()); err != nil {
				t.Fatal(err)
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explain(ctx, t, db, mode, q.claimSQL(64), args...)
			if !strings.Contains(plan, "ingestqueue_running_uq") || !probesOnly(plan, "ingestqueue_running_uq") ||
				!strings.Contains(plan[strings.Index(plan, "ingestqueue_running_uq"):], "c.filename") {
				t.Errorf("the claim (%s, statistics %s) does not probe the run-key index with each candidate's key:\n%s", mode, stats, plan)
			}
		}
	}
}

// TestAnalyzeMakesClaimsReadTheOrderIndex: a queue filled in bulk on a database just created
// (its table never analyzed) has no statistics, and the claim's plan read every pending row;
// once Analyze has run, the claim reads the order index from its end.
func TestAnalyzeMakesClaimsReadTheOrderIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filledQueue(ctx, t)
	q := New(db, Ingest(), Options{Owner: owner, Lease: time.Minute})
	args := []any{owner, make([]string, 64), int64(60000), newTokens(64)}
	t.Logf("the claim's plan before Analyze:\n%s", explain(ctx, t, db, "force_custom_plan", q.claimSQL(64), args...))
	if err := Analyze(ctx, db, Ingest()); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		plan := explain(ctx, t, db, mode, q.claimSQL(64), args...)
		if !strings.Contains(plan, "Index Scan Backward using ingestqueue_pop_ix on ingestqueue c") {
			t.Errorf("after Analyze the claim (%s) does not read the order index from its end:\n%s", mode, plan)
		}
	}
}

// owner is the agent run that holds the claims of these tests.
const owner = "5b0c7a2e-8f0e-4d7a-9a51-0c2f3b9e4d11"

// filledQueue returns a new database whose ingest queue holds 20,000 pending items and has
// never been analyzed.
func filledQueue(ctx context.Context, t *testing.T) *pgxpool.Pool {
	t.Helper()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0') FROM generate_series(1, 20000) i`); err != nil {
		t.Fatal(err)
	}
	return db
}

// analyzedQueue is filledQueue with the queue vacuumed and its statistics taken then.
func analyzedQueue(ctx context.Context, t *testing.T) *pgxpool.Pool {
	t.Helper()
	db := filledQueue(ctx, t)
	if _, err := db.Exec(ctx, `VACUUM ANALYZE ingestqueue`); err != nil {
		t.Fatal(err)
	}
	return db
}

// claimAtLeast claims batches of 192 for q until it holds at least n items.
func claimAtLeast(ctx context.Context, t *testing.T, q *Queue, n int) []Item {
	t.Helper()
	var held []Item
	for len(held) < n {
		items, err := q.Claim(ctx, make([]string, 192))
		if err != nil || len(items) == 0 {
			t.Fatalf("claimed %d: %v", len(items), err)
		}
		held = append(held, items...)
	}
	return held
}

// probesOnly tells whether every scan of index in plan (EXPLAIN's text) looks up keys (an
// Index Cond on the next line) rather than reading the whole index.
func probesOnly(plan, index string) bool {
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if strings.Contains(l, " "+index+" ") || strings.HasSuffix(l, " "+index) {
			if i+1 == len(lines) || !strings.Contains(lines[i+1], "Index Cond:") {
				return false
			}
		}
	}
	return true
}

// explain returns the plan of sql with args under the plan cache mode given.
func explain(ctx context.Context, t *testing.T, db *pgxpool.Pool, mode, sql string, args ...any) string {
	t.Helper()
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', $1, true)`, mode); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+sql, args...)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, sql)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
