package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// A transfer killed at any point leaves the target exactly as it was, and a new run
// succeeds.
func TestTransferKilledLeavesTargetUnchanged(t *testing.T) {
	t.Parallel()
	srcURL, _ := scratch(t, oldSchema)
	dump := filepath.Join(t.TempDir(), "old.pg_dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", dump, srcURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	type kill struct{ from, point string }
	var kills []kill
	for _, p := range []string{"begin", "loaded users", "indexed usagelog", "loaded usagelog", "sequences", "commit"} {
		kills = append(kills, kill{srcURL, p})
	}
	for _, p := range []string{"staged users", "staged usagelog", "loaded querylog", "commit"} {
		kills = append(kills, kill{dump, p})
	}
	for _, k := range kills {
		from, point := k.from, k.point
		name := "live/" + point
		if from == dump {
			name = "dump/" + point
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dstURL, dst := scratch(t, newSchema)
			before := state(t, dst)
			cmd := exec.Command(agentctlBin, "transfer", "--from", from, "--to", dstURL, "--tables", "users,usagelog,querylog", "--truncate")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), stopAtEnv + "=" + point}
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stopped := make(chan bool, 1)
			go func() { // owner: this test; ends with the process's stderr
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "stopped at ") {
						stopped <- true
					}
				}
				stopped <- false
			}()
			select {
			case ok := <-stopped:
				if !ok {
					t.Fatalf("agentctl ended before %q", point)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("agentctl never reached %q", point)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if after := state(t, dst); after != before {
				t.Fatalf("killed at %q: target changed\nbefore %s\nafter  %s", point, before, after)
			}
			r := agentctl(t, nil, "transfer", "--from", from, "--to", dstURL, "--tables", "users,usagelog,querylog", "--truncate")
			if r.code != 0 {
				t.Fatalf("re-run after the kill: exit %d\n%s", r.code, r.stderr)
			}
			var n int
			dst.QueryRow(context.Background(), `SELECT count(*) FROM usagelog`).Scan(&n)
			if n != 12000 {
				t.Fatalf("re-run wrote %d usagelog rows, want 12000", n)
			}
			var idx int
			dst.QueryRow(context.Background(), `SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_usagelog_uri'`).Scan(&idx)
			if idx != 1 {
				t.Fatal("the usagelog index dropped for the load is not back")
			}
			var next int64
			dst.QueryRow(context.Background(), `SELECT nextval('users_id_seq')`).Scan(&next)
			if next != 26 {
				t.Fatalf("users_id_seq gives %d next, want 26 (past the old archiveuser_id_seq)", next)
			}
		})
	}
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
