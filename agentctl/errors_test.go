package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

// Every way a command can fail, under --json: the exit code of the contract and exactly
// one JSON object on stdout whose error carries the same code and its class.
func TestErrorCasesExitCodesAndJSON(t *testing.T) {
	t.Parallel()
	archive := pgtest.NewDB(t)
	empty := pgtest.NewEmptyDB(t)
	unreachable := "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"
	dir := t.TempDir()
	junk := filepath.Join(dir, "notes.txt")
	os.WriteFile(junk, []byte("hello\n"), 0o644)
	badMap := filepath.Join(dir, "map.toml")
	os.WriteFile(badMap, []byte("[tables.users.rename]\nnot_a_column = [\"x\"]\n"), 0o644)
	emptyRoot := t.TempDir()
	db := func(url string) []string { return []string{"DATABASE_URL=" + url} }
	cases := []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"unknown command", nil, []string{"nosuch"}, cli.ExitUsage},
		{"unknown subcommand", nil, []string{"db", "inti"}, cli.ExitUsage},
		{"unknown flag", nil, []string{"db", "init", "--bogus"}, cli.ExitUsage},
		{"extra argument", nil, []string{"queue", "status", "extra"}, cli.ExitUsage},
		{"two retry patterns", nil, []string{"queue", "retry", "a*", "b*"}, cli.ExitUsage},
		{"release without --holder", nil, []string{"queue", "release"}, cli.ExitUsage},
		{"unknown queue", db(archive), []string{"queue", "status", "--queue", "bogus"}, cli.ExitUsage},
		{"bad --after", db(archive), []string{"enqueue", "ingest", "--storage-root", dir, "--after", "someday"}, cli.ExitUsage},
		{"--path out of the root", db(archive), []string{"enqueue", "ingest", "--storage-root", dir, "--path", "../x"}, cli.ExitUsage},
		{"missing storage root", db(archive), []string{"enqueue", "ingest", "--storage-root", filepath.Join(dir, "missing")}, cli.ExitConnect},
		{"transfer without --from", nil, []string{"transfer"}, cli.ExitUsage},
		{"transfer --truncate --append", nil, []string{"transfer", "--from", archive, "--truncate", "--append"}, cli.ExitUsage},
		{"transfer unknown preset", nil, []string{"transfer", "--from", archive, "--preset", "bogus"}, cli.ExitUsage},
		{"transfer junk source", nil, []string{"transfer", "--from", "not-a-dump-or-dsn", "--to", archive}, cli.ExitUsage},
		{"transfer file that is no dump", nil, []string{"transfer", "--from", junk, "--to", archive, "--tables", "users"}, cli.ExitWrong},
		{"transfer bad map", nil, []string{"transfer", "--from", archive, "--to", archive, "--map", badMap, "--tables", "users"}, cli.ExitUsage},
		{"transfer unparsable target", nil, []string{"transfer", "--from", archive, "--to", "postgres://u:p@[::1"}, cli.ExitUsage},
		{"transfer unreachable source", nil, []string{"transfer", "--from", unreachable, "--to", archive, "--tables", "users"}, cli.ExitConnect},
		{"transfer unreachable target", nil, []string{"transfer", "--from", archive, "--to", unreachable, "--tables", "users"}, cli.ExitConnect},
		{"transfer into itself", nil, []string{"transfer", "--from", archive, "--to", archive, "--tables", "users"}, cli.ExitWrong},
		{"db version unreachable", db(unreachable), []string{"db", "version"}, cli.ExitConnect},
		{"db version not an archive", db(empty), []string{"db", "version"}, cli.ExitWrong},
		{"queue status unreachable", db(unreachable), []string{"queue", "status"}, cli.ExitConnect},
		{"queue status not an archive", db(empty), []string{"queue", "status"}, cli.ExitWrong},
		{"database URL that does not parse", db("postgres://u:p@[::1"), []string{"queue", "status"}, cli.ExitUsage},
		{"rollcall empty root", db(archive), []string{"rollcall", "--storage-root", emptyRoot}, cli.ExitRefused},
		{"rollcall --all-absent unconfirmed", db(archive), []string{"rollcall", "--all-absent"}, cli.ExitRefused},
		{"explicit config missing", nil, []string{"config", "--config", filepath.Join(dir, "none.toml")}, cli.ExitUsage},
		{"status without an agentd", nil, []string{"status", "--socket", filepath.Join(dir, "none.sock")}, cli.ExitConnect},
	}
	for _, c := range cases {
		r := agentctl(t, c.env, append(c.args, "--json")...)
		if r.code != c.code {
			t.Errorf("%s (agentctl %s): exit %d, want %d\n%s", c.name, strings.Join(c.args, " "), r.code, c.code, r.stderr)
			continue
		}
		e, _ := jsonOf(t, r)["error"].(map[string]any)
		if e == nil || int(e["exit_code"].(float64)) != c.code || e["class"] == "" || e["message"] == "" {
			t.Errorf("%s: JSON error %v, want exit_code %d with a class and a message", c.name, e, c.code)
		}
	}
}
