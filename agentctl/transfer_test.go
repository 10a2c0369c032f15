package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

const oldSchema = `
	CREATE TABLE archiveuser (id serial PRIMARY KEY, username text NOT NULL, staff boolean);
	CREATE TABLE usagelog (id serial PRIMARY KEY, user_id integer REFERENCES archiveuser, uri text);
	CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id integer NOT NULL REFERENCES usagelog, numresults integer);
	INSERT INTO archiveuser (username, staff) SELECT 'u' || i, i = 1 FROM generate_series(1, 10) i;
	INSERT INTO usagelog (user_id, uri) SELECT 1 + i % 10, '/' || i FROM generate_series(1, 12000) i;
	INSERT INTO querylog (usagelog_id, numresults) SELECT i, i FROM generate_series(1, 3000, 3) i;
	SELECT setval('archiveuser_id_seq', 25);`

const newSchema = `
	CREATE TABLE users (id serial PRIMARY KEY, username text NOT NULL, gemini_staff boolean, orcid_id varchar(20));
	CREATE TABLE usagelog (id bigserial PRIMARY KEY, user_id integer REFERENCES users, uri text);
	CREATE TABLE querylog (id serial PRIMARY KEY, usagelog_id bigint NOT NULL REFERENCES usagelog, numresults integer);
	CREATE INDEX ix_usagelog_uri ON usagelog (uri);
	INSERT INTO users (username) VALUES ('already-here');`

func scratch(t *testing.T, ddl string) (string, *pgx.Conn) {
	t.Helper()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	if _, err := conn.Exec(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
	return url, conn
}

// state is everything a transfer may change on the target: rows and sequence positions.
func state(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT count(*)::text || ' ' || coalesce(max(id), 0)::text FROM users`,
		`SELECT count(*)::text FROM usagelog`,
		`SELECT count(*)::text FROM querylog`,
		`SELECT last_value::text || is_called::text FROM users_id_seq`,
		`SELECT last_value::text || is_called::text FROM usagelog_id_seq`,
		`SELECT last_value::text || is_called::text FROM querylog_id_seq`,
		`SELECT count(*)::text FROM pg_tables WHERE tablename = 'agentd_transfer_history'`,
		`SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'usagelog'`,
	} {
		var s string
		if err := conn.QueryRow(context.Background(), q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + ";")
	}
	return b.String()
}

func TestTransferPlanExitCodesAndRun(t *testing.T) {
	t.Parallel()
	srcURL, _ := scratch(t, oldSchema)
	dstURL, dst := scratch(t, newSchema)

	// The plan, as JSON: the rename of the table and of a column, the widening.
	r := agentctl(t, nil, "transfer", "--from", srcURL, "--to", dstURL, "--tables", "users,usagelog,querylog", "--dry-run", "--truncate", "--json")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d\n%s", r.code, r.stderr)
	}
	plan := jsonOf(t, r)["plan"].(map[string]any)
	tables := plan["tables"].([]any)
	users := tables[0].(map[string]any)
	if len(tables) != 3 || users["target"] != "users" || users["source"] != "archiveuser" || users["source_rows"].(float64) != 10 {
		t.Fatalf("plan tables %v", tables)
	}
	if !strings.Contains(r.stdout, `"kind": "renamed"`) || !strings.Contains(r.stdout, `"type_change": "widening"`) {
		t.Fatalf("plan lacks the column rename or the widening:\n%s", r.stdout)
	}

	// A target table with rows: refused (5), with the plan in the JSON error.
	r = agentctl(t, nil, "transfer", "--from", srcURL, "--to", dstURL, "--tables", "users,usagelog,querylog", "--json")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "--truncate") || !strings.Contains(r.stdout, `"plan"`) {
		t.Fatalf("non-empty target: exit %d, stdout %s", r.code, r.stdout)
	}
	// A missing --tables table: 4. An unknown column in a map: 2. An unreachable source: 3.
	if r = agentctl(t, nil, "transfer", "--from", srcURL, "--to", dstURL, "--tables", "nosuch"); r.code != cli.ExitWrong || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("missing table: exit %d, %s", r.code, r.stderr)
	}
	mapFile := filepath.Join(t.TempDir(), "map.toml")
	os.WriteFile(mapFile, []byte("[tables.users.rename]\nnot_a_column = [\"x\"]\n"), 0o644)
	if r = agentctl(t, nil, "transfer", "--from", srcURL, "--to", dstURL, "--tables", "users", "--map", mapFile); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "users.not_a_column") {
		t.Fatalf("bad map: exit %d, %s", r.code, r.stderr)
	}
	if r = agentctl(t, nil, "transfer", "--from", "postgres://nobody@127.0.0.1:1/x", "--to", dstURL, "--tables", "users"); r.code != cli.ExitConnect {
		t.Fatalf("unreachable source: exit %d, %s", r.code, r.stderr)
	}
	if r = agentctl(t, nil, "transfer", "--from", srcURL, "--to", "postgres://nobody@127.0.0.1:1/x", "--tables", "users"); r.code != cli.ExitConnect || !strings.Contains(r.stderr, "target") {
		t.Fatalf("unreachable target: exit %d, %s", r.code, r.stderr)
	}
	// Not a dump, and not a connection string either.
	junk := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(junk, []byte("hello\n"), 0o644)
	if r = agentctl(t, nil, "transfer", "--from", junk, "--to", dstURL, "--tables", "users"); r.code != cli.ExitWrong || !strings.Contains(r.stderr, "not a pg_dump backup") {
		t.Fatalf("junk file: exit %d, %s", r.code, r.stderr)
	}

	// The transfer, replacing what the target held.
	r = agentctl(t, nil, "transfer", "--from", srcURL, "--to", dstURL, "--tables", "users,usagelog,querylog", "--truncate")
	if r.code != 0 {
		t.Fatalf("transfer: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "transferred 13010 rows in 3 tables") {
		t.Fatalf("summary:\n%s", r.stdout)
	}
	var next int64
	dst.QueryRow(context.Background(), `SELECT nextval('users_id_seq')`).Scan(&next)
	if next != 26 {
		t.Fatalf("users_id_seq next %d, want 26 (past the source's archiveuser_id_seq)", next)
	}
}

// A transfer killed in any phase leaves the target exactly as it was, and a new run
// succeeds. The production binary is stopped in each phase from the outside — a lock the
// test holds on the target (plan, write, sequences, history) or, for a dump's staging, a
// data file that is a FIFO nobody writes — and killed (SIGKILL, with its pg_restore) once
// its progress log shows the phase and the target shows it waiting.
func TestTransferKilledLeavesTargetUnchanged(t *testing.T) {
	t.Parallel()
	srcURL, _ := scratch(t, oldSchema)
	custom := filepath.Join(t.TempDir(), "old.pg_dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", custom, srcURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	type kill struct {
		name, from string
		truncate   bool
		setup      string // on the target, before its state is taken
		block      string // on the target, in a transaction held open until the kill
		waitFor    string // the progress log line that says the phase began
		lockWait   bool   // the target must show agentctl waiting for a lock
	}
	kills := []kill{
		{name: "live/plan", from: srcURL, truncate: true, block: `LOCK TABLE querylog IN ACCESS EXCLUSIVE MODE`,
			waitFor: "transfer planning: started", lockWait: true},
		{name: "live/write", from: srcURL, setup: `DELETE FROM users`, block: `LOCK TABLE usagelog IN SHARE MODE`,
			waitFor: "loaded users: 10 rows", lockWait: true},
		{name: "dump/write", from: custom, setup: `DELETE FROM users`, block: `LOCK TABLE usagelog IN SHARE MODE`,
			waitFor: "loaded users: 10 rows", lockWait: true},
		{name: "live/sequences", from: srcURL, truncate: true, block: `ALTER SEQUENCE users_id_seq RESTART WITH 7`,
			waitFor: "transfer moving sequences, recording history: started", lockWait: true},
		{name: "dump/history", from: custom, truncate: true,
			setup: `CREATE TABLE agentd_transfer_history (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
				source text NOT NULL, mode text NOT NULL, tables jsonb NOT NULL)`,
			block: `LOCK TABLE agentd_transfer_history IN SHARE MODE`, waitFor: "transfer moving sequences, recording history: started", lockWait: true},
		{name: "dump/stage", from: fifoDump(t, srcURL, "usagelog", 12000), truncate: true, waitFor: "staged users: 10 rows"},
	}
	for _, k := range kills {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dstURL, dst := scratch(t, newSchema)
			if k.setup != "" {
				if _, err := dst.Exec(ctx, k.setup); err != nil {
					t.Fatal(err)
				}
			}
			before := state(t, dst)
			var blockTx pgx.Tx
			if k.block != "" {
				blocker := pgtest.Conn(t, dstURL)
				var err error
				if blockTx, err = blocker.Begin(ctx); err != nil {
					t.Fatal(err)
				}
				defer blockTx.Rollback(ctx)
				if _, err := blockTx.Exec(ctx, k.block); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"transfer", "--from", k.from, "--to", dstURL, "--tables", "users,usagelog,querylog"}
			if k.truncate {
				args = append(args, "--truncate")
			}
			cmd := exec.Command(agentctlBin, args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // agentctl and its pg_restore
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reached := make(chan bool, 1)
			var log strings.Builder
			var logMu sync.Mutex
			go func() { // owner: this test; ends with the process's stderr
				sc := bufio.NewScanner(stderr)
				sent := false
				for sc.Scan() {
					logMu.Lock()
					log.WriteString(sc.Text() + "\n")
					logMu.Unlock()
					if !sent && strings.Contains(sc.Text(), k.waitFor) {
						reached <- true
						sent = true
					}
				}
				if !sent {
					reached <- false
				}
			}()
			logText := func() string { logMu.Lock(); defer logMu.Unlock(); return log.String() }
			select {
			case ok := <-reached:
				if !ok {
					cmd.Wait()
					t.Fatalf("agentctl ended before %q:\n%s", k.waitFor, logText())
				}
			case <-time.After(60 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Fatalf("agentctl never logged %q:\n%s", k.waitFor, logText())
			}
			if k.lockWait {
				waitForLockWait(t, dst)
			}
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
				cmd.Wait()
				t.Fatalf("kill: %v (agentctl ended before it?):\n%s", err, logText())
			}
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("agentctl was not killed in its phase (%v):\n%s", err, logText())
			}
			if blockTx != nil {
				blockTx.Rollback(ctx) // the killed session runs its one statement, then finds no client
			}
			waitForBackendGone(t, dst)
			if after := state(t, dst); after != before {
				t.Fatalf("killed in %s: target changed\nbefore %s\nafter  %s", k.name, before, after)
			}
			from := k.from
			if k.name == "dump/stage" {
				from = custom // the FIFO dump never gives its data
			}
			r := agentctl(t, nil, "transfer", "--from", from, "--to", dstURL, "--tables", "users,usagelog,querylog", "--truncate")
			if r.code != 0 {
				t.Fatalf("re-run after the kill: exit %d\n%s", r.code, r.stderr)
			}
			var n int
			dst.QueryRow(ctx, `SELECT count(*) FROM usagelog`).Scan(&n)
			if n != 12000 {
				t.Fatalf("re-run wrote %d usagelog rows, want 12000", n)
			}
			var idx int
			dst.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_usagelog_uri'`).Scan(&idx)
			if idx != 1 {
				t.Fatal("the usagelog index dropped for the load is not back")
			}
			var next int64
			dst.QueryRow(ctx, `SELECT nextval('users_id_seq')`).Scan(&next)
			if next != 26 {
				t.Fatalf("users_id_seq gives %d next, want 26 (past the old archiveuser_id_seq)", next)
			}
		})
	}
}

// fifoDump makes a directory-format dump of url whose data file of table (found by its
// number of rows) is a FIFO that nobody writes: pg_restore blocks on it for ever, as on a
// stalled disk.
func fifoDump(t *testing.T, url, table string, rows int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "old.dir")
	if out, err := exec.Command("pg_dump", "-Fd", "-Z0", "-f", dir, url).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.dat"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n >= rows && n <= rows+3 { // the rows, the end mark, blank lines
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(f, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	t.Fatalf("no data file of %s in %v", table, files)
	return ""
}

// waitForLockWait waits until agentctl's connection to the target waits for a lock.
func waitForLockWait(t *testing.T, dst *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := dst.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE NOT l.granted AND a.application_name LIKE 'agentctl/%/transfer' AND a.datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("agentctl never waited for the test's lock")
}

// waitForBackendGone waits until the killed agentctl's session has left the target.
func waitForBackendGone(t *testing.T, dst *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		dst.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'agentctl/%/transfer' AND datname = current_database()`).Scan(&n)
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the killed agentctl's session never left the target")
}

// A password given in any form — URL userinfo, URL query parameter, key=value with and
// without spaces and quotes, or a string that does not parse — appears in no output of
// transfer: the plan (--dry-run), --json, the summary, errors, and the history table.
func TestTransferNeverShowsAPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ddl = `CREATE TABLE notes (id serial PRIMARY KEY, v text);`
	srcURL, src := scratch(t, ddl+` INSERT INTO notes (v) VALUES ('a'), ('b');`)
	dstURL, dst := scratch(t, ddl)
	cfg, err := pgx.ParseConfig(srcURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = src
	h, p, u := cfg.Host, fmt.Sprint(cfg.Port), cfg.User
	dcfg, err := pgx.ParseConfig(dstURL)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "Sekr1tPW"
	forms := func(d string) map[string]string {
		return map[string]string{
			"url userinfo":     fmt.Sprintf("postgres://%s:%s@/%s?host=%s&port=%s", u, secret, d, h, p),
			"url query":        fmt.Sprintf("postgres://%s@/%s?host=%s&port=%s&password=%s", u, d, h, p, secret),
			"key=value":        fmt.Sprintf("host=%s port=%s dbname=%s user=%s password=%s", h, p, d, u, secret),
			"key = value":      fmt.Sprintf("host=%s port=%s dbname=%s user=%s password = %s", h, p, d, u, secret),
			"quoted, spaces":   fmt.Sprintf("host=%s port=%s dbname=%s user=%s password='%s and more'", h, p, d, u, secret),
			"unparsable url":   fmt.Sprintf("postgres://%s:%s@[::1/%s", u, secret, d),
			"unparsable kv":    fmt.Sprintf("host=%s password=%s dbname='unterminated", h, secret),
			"unreachable host": fmt.Sprintf("postgres://%s:%s@127.0.0.1:1/%s", u, secret, d),
		}
	}
	targets := forms(dcfg.Database)
	for name, form := range forms(cfg.Database) {
		for _, args := range [][]string{
			{"--from", form, "--to", dstURL, "--tables", "notes", "--truncate", "--dry-run"},
			{"--from", form, "--to", dstURL, "--tables", "notes", "--truncate", "--dry-run", "--json"},
			{"--from", form, "--to", dstURL, "--tables", "notes", "--truncate"},
			{"--from", form, "--to", dstURL, "--tables", "notes", "--truncate", "--json"},
			{"--from", srcURL, "--to", targets[name], "--tables", "notes", "--truncate", "--json"},
		} {
			r := agentctl(t, nil, append([]string{"transfer"}, args...)...)
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatalf("%s: the password shows (exit %d):\nstdout %s\nstderr %s", name, r.code, r.stdout, r.stderr)
			}
		}
	}
	var history string
	if err := dst.QueryRow(ctx, `SELECT coalesce(string_agg(h::text, E'\n'), '') FROM agentd_transfer_history h`).Scan(&history); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(history, "notes") {
		t.Fatalf("no transfer was recorded; the test proved nothing:\n%s", history)
	}
	if strings.Contains(history, secret) {
		t.Fatalf("the history table holds the password:\n%s", history)
	}
}
