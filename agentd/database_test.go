package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/fleet"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

// Why the pooler setting exists: through PgBouncer's transaction pooling (Debian 12's 1.18
// carries no prepared statements), pgx's default mode prepares each statement on the
// server connection of the moment, and the next client given that connection collides with
// it. The mode the setting selects sends each statement whole and passes.
func TestPreparedStatementsBreakThroughPgBouncer(t *testing.T) {
	t.Parallel()
	url := pgtest.PgBouncer(t, pgtest.NewDB(t), 1)
	ctx := context.Background()
	query := func(pooler string) error {
		c := config.Defaults()
		c.DatabaseURL, c.Pooler = url, pooler
		var errs []string
		for i := 0; i < 2; i++ { // two clients, one server connection
			pc, err := c.PoolConfig("pgbouncer-test", func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM ingestqueue WHERE filename <> $1", "x").Scan(&n); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return &joined{errs}
		}
		return nil
	}
	if err := query(""); err == nil || !strings.Contains(err.Error(), "prepared statement") {
		t.Fatalf("pgx's default mode through PgBouncer: %v; want a prepared statement error (else this test proves nothing)", err)
	}
	if err := query(config.PoolerPgBouncer); err != nil {
		t.Fatalf("pooler = pgbouncer: %v", err)
	}
}

type joined struct{ errs []string }

func (j *joined) Error() string { return strings.Join(j.errs, "; ") }

// A small rebuild through PgBouncer (transaction pooling, 4 server connections for 3 agents
// of 3 workers each): real agentd processes with pooler = pgbouncer, one killed with SIGKILL
// mid-run and replaced. Every file ingested exactly once, no queue row left, every agent not
// killed exiting 0, no claim lost: the queue's contract holds through the pooler, polled.
func TestFleetThroughPgBouncer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := fleet.Scenario{
		Agentd: agentdBin, DatabaseURL: db, AgentURL: pgtest.PgBouncer(t, db, 4), Env: []string{"AGENTD_POOLER=pgbouncer"},
		Dir: t.TempDir(), Nights: 40, Procs: 3, Workers: 3, Kill: 1, KillAfter: 800 * time.Millisecond,
		Lease: 3 * time.Second, Timeout: 3 * time.Minute, Seed: 7, Log: testLog{t},
	}
	rep, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files in %.1f s through PgBouncer, killed %v, exits %v, released %d", rep.Files, rep.Elapsed.Seconds(),
		rep.Killed, rep.Exits, rep.Released)
	if !rep.OK() {
		t.Fatalf("the contract broke through PgBouncer:\n%v", rep.Problems)
	}
}

// A stopped agent holds no row lock past its lease: its connections carry
// idle_in_transaction_session_timeout = the lease, and the server ends a transaction left
// idle that long. Through PgBouncer the parameter is not sent (it would refuse it).
func TestIdleTransactionEndsAfterTheLease(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.DatabaseURL = pgtest.NewDB(t)
	cfg.Agentd.Lease.Duration = time.Second
	pc, err := agentPoolConfig(cfg, "test/idle", 1, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT id FROM file FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the agent "stopped" mid-transaction
	if _, err := tx.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the transaction outlived the lease while idle")
	}
	cfg.Pooler = config.PoolerPgBouncer
	pc, _ = agentPoolConfig(cfg, "test/idle", 1, func(string) string { return "" })
	if _, sent := pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; sent {
		t.Fatal("the parameter is sent through PgBouncer, which refuses it")
	}
}

// At start, a database that restarts after the connection (the schema check meets "the
// database system is starting up") is waited out, not an exit; a failure no retry fixes
// is returned at once.
func TestStartupChecksWaitOutARestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := 0
	err := retryTransient(ctx, discardLogger(), "schema check", func() error {
		calls++
		if calls == 1 {
			return fmt.Errorf("schema version: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"})
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("after a restart: %v, %d calls; want success on the second", err, calls)
	}
	calls = 0
	err = retryTransient(ctx, discardLogger(), "schema check", func() error {
		calls++
		return fmt.Errorf("schema version: %w", &pgconn.PgError{Code: "42P01", Message: `relation "agentd_schema" does not exist`})
	})
	if err == nil || calls != 1 {
		t.Fatalf("a missing schema: %v after %d calls; want it at once", err, calls)
	}
}

// A statement whose context ends keeps the agent's connection, and through PgBouncer the
// pooler's server connection: closing the client mid-statement (pgx's default) makes
// PgBouncer drop that server connection, which it replaces one login at a time, and a fleet
// giving up that way after a database restart starved itself of them. Direct, the
// statement is cancelled on the server at once; through PgBouncer it runs to its end (no
// cancel request: PgBouncer 1.18 can crash on pgx's). Through PgBouncer there is one server
// connection: another client holds it in a transaction while the agent's statement waits
// in PgBouncer's queue; the statement then runs past its deadline.
func TestEndedContextKeepsTheConnection(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	for _, tc := range []struct {
		pooler, url string
		// the statement, and the longest it may take: cancelled, or run to its end
		statement string
		within    time.Duration
	}{
		{"", db, "SELECT pg_sleep(5)", 2 * time.Second},
		{config.PoolerPgBouncer, pgtest.PgBouncer(t, db, 1), "SELECT pg_sleep(1)", 3 * time.Second},
	} {
		t.Run("pooler="+tc.pooler, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.DatabaseURL, cfg.Pooler = tc.url, tc.pooler
			cfg.Agentd.Lease.Duration = 10 * time.Second
			pc, err := agentPoolConfig(cfg, "test/cancel", 1, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			other, err := pgx.ConnectConfig(ctx, pc.ConnConfig.Copy())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close(ctx)
			agent, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
			if err != nil {
				t.Fatal(err)
			}
			defer agent.Close(ctx)
			serverPID := func(c *pgx.Conn) int {
				var pid int
				if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
					t.Fatal(err)
				}
				return pid
			}
			before := serverPID(agent)

			tx, err := other.Begin(ctx) // through PgBouncer: its only server connection, held
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			go func() { // owner: this test; ends with the transaction
				time.Sleep(300 * time.Millisecond)
				tx.Commit(ctx) //nolint:errcheck // a failure shows below
			}()
			opCtx, cancel := context.WithTimeout(ctx, 600*time.Millisecond) // ends while pg_sleep runs
			defer cancel()
			start := time.Now()
			_, err = agent.Exec(opCtx, tc.statement)
			took := time.Since(start)
			if took > tc.within {
				t.Fatalf("the statement returned after %v (%v); want within %v", took, err, tc.within)
			}
			if agent.IsClosed() {
				t.Fatalf("the agent's connection was closed (%v)", err)
			}
			if after := serverPID(agent); after != before {
				t.Fatalf("the server connection was replaced (backend %d, then %d): the client closed it mid-statement", before, after)
			}
			t.Logf("returned after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// Through PgBouncer an agent sends no application_name: PgBouncer would give it to the
// server connection serving the agent and leave it there once the agent is gone, where a
// rescue would take it for the holder's live session and count no death against the item
// (the poison guard defeated). An agent that ran a statement and left leaves no session
// named after it; the ingest still names its own transactions while they run.
func TestGoneAgentLeavesNoNamedSessionBehindPgBouncer(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	cfg := config.Defaults()
	cfg.DatabaseURL, cfg.Pooler = pgtest.PgBouncer(t, db, 1), config.PoolerPgBouncer
	const holder = "test/4242/gone"
	pc, err := agentPoolConfig(cfg, holder, 1, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	agent, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	var during string
	if err := agent.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&during); err != nil {
		t.Fatal(err)
	}
	agent.Close(ctx)
	admin := pgtest.Conn(t, db)
	var named int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 || '%'`, holder).Scan(&named); err != nil {
		t.Fatal(err)
	}
	if named > 0 {
		t.Fatalf("%d server sessions still carry the gone agent's name (it ran under %q)", named, during)
	}
}
