package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/pgtest"
)

func TestEnqueueIngest(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	root := t.TempDir()
	for _, p := range []string{"N20200101S0001.fits", "d/N20200102S0001.fits.bz2", "d/x_tmp.fits"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), nil, 0o644)
	}
	env := []string{"DATABASE_URL=" + url, "AGENTD_STORAGE_ROOT=" + root}
	r := agentctl(t, env, "enqueue", "ingest", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	s := jsonOf(t, r)
	if s["seen"] != 3.0 || s["added"] != 2.0 || s["already_pending"] != 0.0 {
		t.Fatalf("summary %v, want seen 3 added 2", s)
	}
	r = agentctl(t, env, "enqueue", "ingest")
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("second run exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}

	r = agentctl(t, []string{"DATABASE_URL=" + url}, "enqueue", "ingest", "--storage-root", filepath.Join(root, "missing"), "--json")
	if r.code != cli.ExitConnect {
		t.Fatalf("missing storage root: exit %d, want %d: %s", r.code, cli.ExitConnect, r.stderr)
	}
	if r := agentctl(t, env, "enqueue", "ingest", "--after", "someday"); r.code != cli.ExitUsage {
		t.Fatalf("bad --after: exit %d, want %d", r.code, cli.ExitUsage)
	}
}

func TestEnqueueRefusesNonArchiveDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDB(t)
	r := agentctl(t, []string{"DATABASE_URL=" + url}, "enqueue", "ingest", "--storage-root", t.TempDir())
	if r.code != cli.ExitWrong {
		t.Fatalf("empty database: exit %d, want %d: %s", r.code, cli.ExitWrong, r.stderr)
	}
}
