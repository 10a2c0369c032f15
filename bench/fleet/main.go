// Command fleet runs the fleet rehearsal (package internal/fleet) several times in a row and
// prints a table: M agentd processes with K workers on a fresh tree, some killed with SIGKILL
// and replaced, every core busy. Each run gets its own database on the cluster of
// TEST_DATABASE_URL (scripts/fleet.sh starts it). It exits 1 when any run broke a promise.
//
//	go run ./bench/fleet [--runs 10] [--nights 375] [--procs 6] [--workers 3] [--kill 2]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/fleet"
)

func main() {
	var s fleet.Scenario
	runs := flag.Int("runs", 10, "rehearsals in a row")
	flag.IntVar(&s.Nights, "nights", 375, "nights of sample data per run (8 FITS files and an obslog each: 375 ≈ 3,000 FITS files)")
	flag.IntVar(&s.Procs, "procs", 6, "agentd processes")
	flag.IntVar(&s.Workers, "workers", 3, "workers per process")
	flag.IntVar(&s.Kill, "kill", 2, "processes killed with SIGKILL (and as many started fresh)")
	flag.DurationVar(&s.KillAfter, "kill-after", 800*time.Millisecond, "when to kill them")
	flag.DurationVar(&s.Lease, "lease", 5*time.Second, "the agents' lease")
	idle := flag.Bool("idle", false, "leave the cores idle (default: keep every core busy)")
	keep := flag.Bool("keep", false, "keep each run's directory (logs, state files)")
	flag.StringVar(&s.Agentd, "agentd", "", "an agentd binary to rehearse (default: build ./agentd), e.g. an older release for an A/B")
	flag.Parse()
	s.Busy = !*idle
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, s, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, s fleet.Scenario, runs int, keep bool) error {
	bin, err := os.MkdirTemp("", "fleet-bin")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	if s.Agentd == "" {
		s.Agentd = filepath.Join(bin, "agentd")
		if out, err := exec.Command("go", "build", "-o", s.Agentd, "./agentd").CombinedOutput(); err != nil {
			return fmt.Errorf("build agentd: %v\n%s", err, out)
		}
	}
	s.Log = os.Stderr
	fmt.Printf("| run | files | agents (killed) | seconds | diskfiles | duplicates | queue rows left | lost | released | exits | result |\n")
	fmt.Printf("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	failed := 0
	for i := 1; i <= runs; i++ {
		db, err := benchdb.New(ctx)
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "fleet-run")
		if err != nil {
			db.Drop(ctx)
			return err
		}
		s.DatabaseURL, s.Dir, s.Seed = db.URL, dir, uint64(i)
		rep, err := s.Run(ctx)
		db.Drop(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("run %d: %w (directory %s)", i, err, dir)
		}
		result := "ok"
		if !rep.OK() {
			failed++
			result = strings.Join(rep.Problems, "; ")
			keep = true
			fmt.Fprintf(os.Stderr, "fleet: run %d kept in %s\n", i, dir)
		}
		exits := []string{}
		for name, code := range rep.Exits {
			exits = append(exits, fmt.Sprintf("%s:%d", name, code))
		}
		fmt.Printf("| %d | %d | %d+%d (%s) | %.1f | %d | %d | %d | %d | %d | %s | %s |\n", i, rep.Files, s.Procs, s.Kill,
			strings.Join(rep.Killed, ","), rep.Elapsed.Seconds(), rep.Diskfiles, rep.Duplicates, rep.QueueRows, rep.Lost,
			rep.Released, strings.Join(exits, " "), result)
		if !keep {
			os.RemoveAll(dir)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs broke a promise", failed, runs)
	}
	return nil
}
