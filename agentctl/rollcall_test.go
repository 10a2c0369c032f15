package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

// TestRollcallCommand runs the binary: exit codes, JSON, the guards, --all-absent without a
// terminal, and an unreadable directory (reported, not marked). Root reads everything, so
// as root the binary runs as nobody for that part.
func TestRollcallCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDB(t)
	db := pgtest.Conn(t, url)
	root := t.TempDir()
	add := func(rel string, onDisk bool) {
		if onDisk {
			os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755)
			os.WriteFile(filepath.Join(root, rel), []byte("x"), 0o644)
		}
		dir, name := filepath.Split(rel)
		if _, err := db.Exec(ctx, `WITH f AS (INSERT INTO file (name) VALUES ($1) RETURNING id)
			INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5, compressed, lastmod)
			SELECT id, $1, $2, true, true, 1, 'x', 1, 'x', false, now() FROM f`, name, strings.TrimSuffix(dir, "/")); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"a/N1.fits", "a/N2.fits", "a/N3.fits", "locked/N4.fits"} {
		add(f, true)
	}
	add("a/gone.fits", false)
	env := []string{"DATABASE_URL=" + url}

	// 1 of 5 missing is above the 1% default: refused, nothing written.
	r := agentctl(t, env, "rollcall", "--storage-root", root, "--json")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "--max-missing") || jsonOf(t, r)["summary"] == nil {
		t.Fatalf("guard: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A dry run says what would be marked.
	if r = agentctl(t, env, "rollcall", "--storage-root", root, "--max-missing", "50", "--dry-run"); r.code != 0 ||
		!strings.Contains(r.stdout, "missing 1 (1 would be marked not present: dry run)") {
		t.Fatalf("dry run: exit %d, %s", r.code, r.stdout)
	}
	// An empty storage root (not mounted): refused.
	if r = agentctl(t, env, "rollcall", "--storage-root", t.TempDir()); r.code != cli.ExitRefused || !strings.Contains(r.stderr, "empty") {
		t.Fatalf("empty root: exit %d %s", r.code, r.stderr)
	}

	// The directory "locked" cannot be read by the checker: reported (exit 6), not marked.
	os.Chmod(filepath.Join(root, "locked"), 0)
	defer os.Chmod(filepath.Join(root, "locked"), 0o755)
	cmd := exec.Command(agentctlBin, "rollcall", "--storage-root", root, "--max-missing", "50", "--json")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	if os.Geteuid() == 0 {
		const nobody = 65534
		for _, d := range []string{root, filepath.Dir(root), filepath.Dir(agentctlBin)} {
			os.Chmod(d, 0o755)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != cli.ExitProblems {
		t.Fatalf("unreadable directory: %v, want exit %d\n%s", err, cli.ExitProblems, out)
	}
	res := jsonOf(t, result{stdout: string(out)})["summary"].(map[string]any)
	if res["missing"].(float64) != 1 || res["marked"].(float64) != 1 || res["errors"].(float64) != 1 ||
		!strings.Contains(string(out), "permission denied") {
		t.Fatalf("summary %s", out)
	}
	var present bool
	db.QueryRow(ctx, `SELECT present FROM diskfile WHERE filename = 'N4.fits'`).Scan(&present)
	if !present {
		t.Fatal("an unreadable file was marked not present")
	}

	// --all-absent with no terminal to confirm on: refused; with --yes: done.
	if r = agentctl(t, env, "rollcall", "--all-absent"); r.code != cli.ExitRefused || !strings.Contains(r.stderr, "--yes") ||
		!strings.Contains(r.stderr, "mark all 4 present diskfiles of database ") || !strings.Contains(r.stderr, "/agentd_test_") {
		t.Fatalf("all-absent without confirmation: exit %d %s; want a refusal naming the rows and the database", r.code, r.stderr)
	}

	if r = agentctl(t, env, "rollcall", "--all-absent", "--yes", "--json"); r.code != 0 || jsonOf(t, r)["marked"].(float64) != 4 {
		t.Fatalf("all-absent --yes: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}
