package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

func TestDBInitThenVersion(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDB(t)
	r := agentctl(t, nil, "db", "init", "--database-url", url)
	if r.code != 0 {
		t.Fatalf("db init exit %d: %s", r.code, r.stderr)
	}
	r = agentctl(t, []string{"DATABASE_URL=" + url}, "db", "version", "--json")
	if r.code != 0 {
		t.Fatalf("db version exit %d: %s", r.code, r.stderr)
	}
	v := jsonOf(t, r)
	if v["database"] != v["program"] || v["database"] == float64(0) {
		t.Fatalf("db version = %v, want database == program > 0", v)
	}
	r = agentctl(t, nil, "db", "init", "--database-url", url, "--json")
	if r.code != cli.ExitRefused {
		t.Fatalf("second db init exit %d, want %d (refused): %s", r.code, cli.ExitRefused, r.stderr)
	}
	if e, ok := jsonOf(t, r)["error"].(map[string]any); !ok || e["message"] == "" {
		t.Fatalf("--json error = %v, want an error object", r.stdout)
	}
}

func TestDBRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	if _, err := conn.Exec(context.Background(), `CREATE TABLE other (id int)`); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"db", "init"}, {"db", "migrate"}, {"db", "version"}} {
		r := agentctl(t, nil, append(cmd, "--database-url", url)...)
		if r.code != cli.ExitWrong {
			t.Errorf("%v on a foreign database: exit %d, want %d; stderr %s", cmd, r.code, cli.ExitWrong, r.stderr)
		}
	}
}

func TestDBUnreachable(t *testing.T) {
	t.Parallel()
	r := agentctl(t, nil, "db", "version", "--database-url", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
	if r.code != cli.ExitConnect {
		t.Fatalf("unreachable database: exit %d, want %d; stderr %s", r.code, cli.ExitConnect, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	if r := agentctl(t, nil, "no-such-command"); r.code != cli.ExitUsage {
		t.Errorf("unknown command: exit %d, want %d", r.code, cli.ExitUsage)
	}
	if r := agentctl(t, nil, "db", "init", "--no-such-flag"); r.code != cli.ExitUsage {
		t.Errorf("unknown flag: exit %d, want %d", r.code, cli.ExitUsage)
	}
	if r := agentctl(t, nil, "db", "init", "--help"); r.code != 0 || !strings.Contains(r.stdout, "agentctl db init") {
		t.Errorf("--help: exit %d, stdout %q (help goes to stdout, for less)", r.code, r.stdout)
	}
}

func TestDBWrongPassword(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	conn := pgtest.Conn(t, url)
	ctx := context.Background()
	role := "agentd_pw_test"
	conn.Exec(ctx, `DROP ROLE IF EXISTS `+role)
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD 'right'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgtest.Conn(t, pgtest.AdminURL()).Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
	port := conn.Config().Port
	wrong := fmt.Sprintf("postgres://%s:wrong@127.0.0.1:%d/%s", role, port, conn.Config().Database)
	r := agentctl(t, nil, "db", "version", "--database-url", wrong, "--json")
	if r.code != cli.ExitConnect {
		t.Fatalf("wrong password: exit %d, want %d; stderr %s", r.code, cli.ExitConnect, r.stderr)
	}
	if !strings.Contains(r.stderr, "password authentication failed") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("wrong password: want one line naming the failure, got:\n%s", r.stderr)
	}
}

// db adopt, as an operator runs it on FitsStorage's database: --dry-run prints the SQL and
// writes nothing; without a terminal it needs --yes (exit 5); with it the database is
// adopted and db version agrees; ours is refused (5), a foreign one names what it lacks (4).
func TestDBAdopt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	pgtest.RunSQLFile(t, conn, "../internal/schema/fitsstorage/fscore.sql")
	r := agentctl(t, nil, "db", "adopt", "--database-url", url, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "ALTER TABLE ingestqueue") {
		t.Fatalf("--dry-run: exit %d, stdout %.200q", r.code, r.stdout)
	}
	r = agentctl(t, nil, "db", "adopt", "--database-url", url, "--json")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "--yes") {
		t.Fatalf("without --yes and a terminal: exit %d, %s", r.code, r.stdout)
	}
	if r := agentctl(t, nil, "db", "version", "--database-url", url); r.code != cli.ExitWrong {
		t.Fatalf("db version before adopting: exit %d, want %d (not ours yet)", r.code, cli.ExitWrong)
	}
	r = agentctl(t, nil, "db", "adopt", "--database-url", url, "--yes", "--json")
	if r.code != 0 || jsonOf(t, r)["adopted"] != true {
		t.Fatalf("adopt: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, nil, "db", "version", "--database-url", url); r.code != 0 {
		t.Fatalf("db version after adopting: exit %d: %s", r.code, r.stderr)
	}
	if r := agentctl(t, nil, "db", "adopt", "--database-url", url, "--yes"); r.code != cli.ExitRefused {
		t.Fatalf("adopting ours: exit %d, want %d", r.code, cli.ExitRefused)
	}
	foreign := pgtest.NewEmptyDB(t)
	if _, err := pgtest.Conn(t, foreign).Exec(ctx, `CREATE TABLE notes (id serial PRIMARY KEY, body text)`); err != nil {
		t.Fatal(err)
	}
	r = agentctl(t, nil, "db", "adopt", "--database-url", foreign, "--yes")
	if r.code != cli.ExitWrong || !strings.Contains(r.stderr, "table diskfile is missing") {
		t.Fatalf("foreign database: exit %d, %s", r.code, r.stderr)
	}
}

// db index builds FitsStorage's 39 search indexes on a database db init made, reports them
// present on a second run, and drops them only when confirmed.
func TestDBIndexBuildsAndDropsSearchIndexes(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	env := []string{"DATABASE_URL=" + url}
	count := func() int {
		var n int
		if err := pgtest.Conn(t, url).QueryRow(context.Background(),
			`SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix\_header\_%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r := agentctl(t, env, "db", "index", "--dry-run")
	if r.code != 0 || strings.Count(r.stdout, "CREATE INDEX CONCURRENTLY") != 39 || count() != 0 {
		t.Fatalf("--dry-run: exit %d, %d header indexes made:\n%s", r.code, count(), r.stdout)
	}
	r = agentctl(t, env, "db", "index", "--json")
	if r.code != 0 {
		t.Fatalf("db index exit %d: %s", r.code, r.stderr)
	}
	if v := jsonOf(t, r); len(v["created"].([]any)) != 39 || count() != 28 {
		t.Fatalf("db index: %v; %d header indexes", v, count())
	}
	if !strings.Contains(r.stderr, "created ix_header_ut_datetime on header") {
		t.Errorf("no progress line for each index on stderr:\n%s", r.stderr)
	}
	r = agentctl(t, env, "db", "index")
	if r.code != 0 || !strings.Contains(r.stdout, "built 0 search indexes, rebuilt 0 invalid, 39 already there") {
		t.Fatalf("second run: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = agentctl(t, env, "db", "index", "--drop")
	if r.code != cli.ExitRefused || !strings.Contains(r.stderr, "--yes") || count() != 28 {
		t.Fatalf("unconfirmed --drop: exit %d, %d header indexes left: %s", r.code, count(), r.stderr)
	}
	r = agentctl(t, env, "db", "index", "--drop", "--yes")
	if r.code != 0 || count() != 0 || !strings.Contains(r.stdout, "dropped 39 search indexes") {
		t.Fatalf("--drop --yes: exit %d, %d left:\n%s%s", r.code, count(), r.stdout, r.stderr)
	}
}
