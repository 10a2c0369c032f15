package main

import (
	"os"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/cli"
)

// The command line as operators meet it: help on stdout with exit 0 (for less), group help,
// help CMD, --version, suggestions for typos, extra arguments and unknown flags as usage
// errors naming the command, one JSON object for any error under --json, the old
// single-dash long flags still accepted with a warning, database flags only where they
// apply, and shell completion.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string // substrings
	}{
		{[]string{"--help"}, 0, "Available Commands", ""},
		{[]string{}, 0, "Available Commands", ""},
		{[]string{"db"}, 0, "agentctl db [command]", ""},
		{[]string{"queue"}, 0, "retry", ""},
		{[]string{"help", "db", "init"}, 0, "agentctl db init", ""},
		{[]string{"transfer", "--help"}, 0, "--dry-run", ""},
		{[]string{"--version"}, 0, "agentctl ", ""},
		{[]string{"db", "inti"}, cli.ExitUsage, "", `agentctl db: unknown command "inti" for "agentctl db"; did you mean init?`},
		{[]string{"rolcall"}, cli.ExitUsage, "", "did you mean rollcall?"},
		{[]string{"queue", "status", "extra"}, cli.ExitUsage, "", "agentctl queue status: accepts at most 0 arg(s)"},
		{[]string{"db", "init", "--bogus"}, cli.ExitUsage, "", "agentctl db init: unknown flag: --bogus"},
		{[]string{"status", "--database-url", "x"}, cli.ExitUsage, "", "unknown flag: --database-url"},
		{[]string{"storage", "status", "--help"}, 0, "--proc-root", ""},
		{[]string{"completion", "bash"}, 0, "complete -o default", ""},
		{[]string{"transfer", "--from", "postgres:///x", "--preset", "bogus"}, cli.ExitUsage, "", `--preset "bogus": known presets are archive and summit`},
		{[]string{"completion", "zsh"}, 0, "#compdef agentctl", ""},
	}
	for _, c := range cases {
		r := agentctl(t, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stdout, c.stdout) || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("agentctl %s: exit %d (want %d)\nstdout %q\nstderr %q", strings.Join(c.args, " "), r.code, c.code,
				firstLines(r.stdout), r.stderr)
		}
	}
	for _, cmd := range [][]string{{"status", "--help"}, {"storage", "plan", "--help"}} {
		if r := agentctl(t, nil, cmd...); strings.Contains(r.stdout, "--database-url") || strings.Contains(r.stdout, "--config") {
			t.Errorf("agentctl %s lists database flags it never uses:\n%s", strings.Join(cmd, " "), r.stdout)
		}
	}
	// Errors under --json: one JSON object, whatever failed.
	for _, args := range [][]string{{"nosuch", "--json"}, {"db", "init", "--bogus", "--json"}, {"queue", "status", "x", "--json"}} {
		r := agentctl(t, nil, args...)
		obj := jsonOf(t, r)
		e, _ := obj["error"].(map[string]any)
		if r.code != cli.ExitUsage || e == nil || e["class"] != "usage" {
			t.Errorf("agentctl %s: exit %d, JSON %v", strings.Join(args, " "), r.code, obj)
		}
	}
	// Go's flag package took -json and -limit 25000: still accepted, with a warning.
	r := agentctl(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}, "db", "version", "-json")
	if r.code != cli.ExitConnect || !strings.Contains(r.stderr, "-json is deprecated; write --json") {
		t.Fatalf("single-dash -json: exit %d, stderr %q", r.code, r.stderr)
	}
	jsonOf(t, r) // and it meant --json
}

func firstLines(s string) string {
	lines := strings.SplitN(s, "\n", 4)
	return strings.Join(lines[:min(3, len(lines))], "\n")
}

// agentctl config: each setting's value and source (flag, environment, file, default),
// and the database as libpq resolves it, never with its password.
func TestConfigShowsSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := dir + "/agentd.toml"
	body := "role = \"summit\"\ndatabase_url = \"postgresql://agentd:Sekr1t@db.example/fitsdata\"\n[agentd.queues.ingest]\nworkers = 3\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := agentctl(t, []string{"AGENTD_NAME=rebuild"}, "config", "--config", path, "--json")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "Sekr1t") {
		t.Fatalf("exit %d; the password must not show:\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := map[string][2]string{}
	for _, s := range jsonOf(t, r)["settings"].([]any) {
		m := s.(map[string]any)
		got[m["key"].(string)] = [2]string{m["value"].(string), m["source"].(string)}
	}
	want := map[string][2]string{
		"role":            {"summit", "file " + path},
		"agentd.name":     {"rebuild", "environment $AGENTD_NAME"},
		"agentd.queues":   {"ingest:3", "file " + path},
		"agentd.lock_dir": {"/run/agentd/rebuild/locks", "default"},
		"database":        {"agentd@db.example:5432/fitsdata", "database_url"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	r = agentctl(t, nil, "config", "--config", path, "--database-url", "postgresql://other@h2/db2", "--json")
	for _, s := range jsonOf(t, r)["settings"].([]any) {
		if m := s.(map[string]any); m["key"] == "database_url" && m["source"] != "flag --database-url" {
			t.Errorf("database_url source %v, want the flag", m["source"])
		}
	}
}
