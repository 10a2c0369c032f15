// Command upgrade rehearses the archive's whole software upgrade on generated data, with
// the real agentctl and agentd (package upgraderehearsal): an old-version archive and its
// nightly backup, then db init → transfer from the backup → enqueue and rebuild → calcache
// rebuild → transfer --append at the cut-over → rollcall, and the checks (every kept row
// arrived once, sequences past the old ones, every file ingested, the cache complete). It
// prints each step's command, what it said and how long it took (the figures of
// docs/upgrade-runbook.md), and exits 1 when a check fails.
//
//	eval "$(scripts/pg.sh start)" && export TEST_DATABASE_URL && go run ./bench/upgrade
//	go run ./bench/upgrade -nights 200 -logs 500000 -agents 4 -json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/fitsarchive/agentd/internal/upgraderehearsal"
)

func main() {
	var s upgraderehearsal.Scenario
	flag.IntVar(&s.Nights, "nights", 100, "nights in the storage tree (9 files each)")
	flag.IntVar(&s.Users, "users", 2000, "archive users")
	flag.IntVar(&s.Logs, "logs", 200000, "usagelog rows (querylog half as many, the other logs a fifth)")
	flag.IntVar(&s.QA, "qa", 5000, "QA reports (each with one metric of every kind)")
	flag.IntVar(&s.Agents, "agents", 3, "agentd processes of the rebuild")
	flag.IntVar(&s.Workers, "workers", 3, "workers of each")
	flag.BoolVar(&s.Keep, "keep", false, "keep the work directory and the two databases")
	asJSON := flag.Bool("json", false, "print the report as JSON on stdout")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := run(ctx, s, *asJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upgrade:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, s upgraderehearsal.Scenario, asJSON bool) (bool, error) {
	s.AdminURL = os.Getenv("TEST_DATABASE_URL")
	if s.AdminURL == "" {
		return false, fmt.Errorf("TEST_DATABASE_URL is not set; run: eval \"$(scripts/pg.sh start)\" && export TEST_DATABASE_URL")
	}
	ddl, err := os.ReadFile("pgsync/testdata/fs2020.sql")
	if err != nil {
		return false, fmt.Errorf("run from the repository root: %w", err)
	}
	s.OldSchema = string(ddl)
	dir, err := os.MkdirTemp("", "upgrade-")
	if err != nil {
		return false, err
	}
	if !s.Keep {
		defer os.RemoveAll(dir)
	}
	s.Dir = dir
	for _, cmd := range []string{"agentctl", "agentd"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "./"+cmd).CombinedOutput(); err != nil {
			return false, fmt.Errorf("build %s: %v\n%s", cmd, err, out)
		}
	}
	s.Agentctl, s.Agentd = filepath.Join(dir, "agentctl"), filepath.Join(dir, "agentd")
	s.Log = os.Stderr
	rep, err := s.Run(ctx)
	if err != nil {
		return false, err
	}
	if asJSON {
		b, err := rep.JSON()
		if err != nil {
			return false, err
		}
		fmt.Println(string(b))
		return rep.OK(), nil
	}
	fmt.Printf("| step | seconds |\n|---|---:|\n")
	for _, st := range rep.Steps {
		fmt.Printf("| %s | %.1f |\n", st.Name, st.Took.Seconds())
	}
	fmt.Printf("\n%d files; rows carried over: %v\n", rep.Files, rep.Kept)
	if !rep.OK() {
		fmt.Println("\nCHECKS FAILED:")
		for _, p := range rep.Problems {
			fmt.Println("-", p)
		}
		return false, nil
	}
	fmt.Println("\nevery check passed: every kept row arrived once, sequences past the old ones, every file ingested, the cache complete")
	return true, nil
}
