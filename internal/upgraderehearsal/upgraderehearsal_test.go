package upgraderehearsal_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/upgraderehearsal"
)

// The whole upgrade, small: the real binaries carry an old-version archive over from its
// backup, rebuild, rebuild the cache, append what the old archive wrote meanwhile, and roll
// call; every check of the rehearsal must pass.
func TestUpgradeRehearsal(t *testing.T) {
	if pgtest.AdminURL() == "" {
		t.Skip("TEST_DATABASE_URL not set (run under scripts/test.sh)")
	}
	dir := t.TempDir()
	bins := map[string]string{}
	for _, cmd := range []string{"agentctl", "agentd"} {
		bins[cmd] = filepath.Join(dir, cmd)
		if out, err := exec.Command("go", "build", "-o", bins[cmd], "../../"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	ddl, err := os.ReadFile("../../pgsync/testdata/fs2020.sql")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	s := upgraderehearsal.Scenario{
		Agentctl: bins["agentctl"], Agentd: bins["agentd"], AdminURL: pgtest.AdminURL(), DatabasePrefix: pgtest.Prefix + "upgrade_",
		OldSchema: string(ddl), Dir: dir, Nights: 4, Users: 30, Logs: 600, QA: 20, Agents: 2, Workers: 2, Log: &log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := s.Run(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !rep.OK() {
		t.Fatalf("broken promises: %q\n%s", rep.Problems, log.String())
	}
	// What the checks stood on: rows in every kept table, the files, each step recorded.
	for table, n := range rep.Kept {
		if n == 0 {
			t.Errorf("%s: no rows to carry over: the check proved nothing for it", table)
		}
	}
	if rep.Files < 4*9 || len(rep.Steps) != 8 {
		t.Errorf("files %d (want at least 36), steps %d (want 8)\n%s", rep.Files, len(rep.Steps), log.String())
	}
	t.Log(log.String())
}
