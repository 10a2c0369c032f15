// Command enqueuebench compares `agentctl enqueue ingest`'s engine (package enqueue: walk,
// name rules, sortkeys, COPY + INSERT … ON CONFLICT into the indexed ingest queue) with the
// plainest possible baseline on the same database, side by side in one run:
//
//	find ROOT -type f -printf '%f\t%h\n' | psql -c "\copy plain (filename, path) FROM STDIN"
//
// into an unindexed table. It prints a table of files per second and the ratio.
//
// --layout nights (the default) lays the tree out like the archive's storage, a directory
// per night with frames numbered in order; --layout scattered puts names from all over the
// year in every directory, the worst case for the queue's index.
//
//	TEST_DATABASE_URL=... go run ./bench/enqueuebench [--files 200000] [--rounds 2] [--layout nights|scattered] [--writers 2] [--cpuprofile FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/enqueue"
)

func main() {
	files := flag.Int("files", 200000, "empty files in the tree")
	rounds := flag.Int("rounds", 2, "runs of each side (best kept)")
	writers := flag.Int("writers", enqueue.DefaultWriters, "connections enqueue inserts with")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the enqueue runs to this file")
	layout := flag.String("layout", "nights", "names in the tree: nights (a directory per night, frames of both sites numbered in order, like the archive's storage) or scattered (every directory holds names from all over the year)")
	drop := flag.String("drop", "", "measure what an index costs: drop these indexes or constraints of ingestqueue first (comma-separated: ingestqueue_pkey, ingestqueue_filename_path_inprogress_fail_dt_key, ingestqueue_pop_ix)")
	flag.Parse()
	if *layout != "nights" && *layout != "scattered" {
		fmt.Fprintln(os.Stderr, "enqueuebench: --layout must be nights or scattered")
		os.Exit(2)
	}
	if err := run(context.Background(), *files, *rounds, *layout, *writers, *cpuProfile, *drop); err != nil {
		fmt.Fprintln(os.Stderr, "enqueuebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, files, rounds int, layout string, writers int, cpuProfile, dropIndexes string) error {
	bdb, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer bdb.Drop(ctx)
	url := bdb.URL
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE plain (filename text, path text)`); err != nil {
		return err
	}
	if err := benchdb.DropIndexes(ctx, db, "ingestqueue", dropIndexes, os.Stderr); err != nil {
		return fmt.Errorf("-drop: %w", err)
	}

	root, err := os.MkdirTemp("", "enqueuebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	fmt.Fprintf(os.Stderr, "writing %d empty files (%s)...\n", files, layout)
	if err := writeTree(root, files, layout); err != nil {
		return err
	}

	var bestOurs, bestBase float64
	for r := 0; r < rounds; r++ {
		if _, err := db.Exec(ctx, `TRUNCATE ingestqueue, plain`); err != nil {
			return err
		}
		exec.Command("sync").Run()
		start := time.Now()
		cmdFind := exec.Command("find", root, "-type", "f", "-printf", `%f\t%h\n`)
		cmdPsql := exec.Command("psql", "-X", "-q", url, "-c", `\copy plain (filename, path) FROM STDIN`)
		pipe, err := cmdFind.StdoutPipe()
		if err != nil {
			return err
		}
		cmdPsql.Stdin = pipe
		cmdPsql.Stderr = os.Stderr
		if err := cmdFind.Start(); err != nil {
			return err
		}
		if err := cmdPsql.Run(); err != nil {
			return fmt.Errorf("psql: %w", err)
		}
		if err := cmdFind.Wait(); err != nil {
			return fmt.Errorf("find: %w", err)
		}
		base := time.Since(start)
		var n int
		db.QueryRow(ctx, `SELECT count(*) FROM plain`).Scan(&n)
		if n != files {
			return fmt.Errorf("baseline loaded %d rows, want %d", n, files)
		}

		exec.Command("sync").Run()
		if cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		start = time.Now()
		sum, err := enqueue.Ingest(ctx, db, enqueue.Options{Root: root, Writers: writers})
		if err != nil {
			return err
		}
		ours := time.Since(start)
		pprof.StopCPUProfile()
		if sum.Added != int64(files) {
			return fmt.Errorf("enqueue added %d, want %d", sum.Added, files)
		}
		bestOurs = max(bestOurs, float64(files)/ours.Seconds())
		bestBase = max(bestBase, float64(files)/base.Seconds())
	}
	// Enqueue's batches commit asynchronously: how soon the server's WAL writer flushes
	// them competes with the run. scripts/pg.sh's test cluster sets 10s (for a test);
	// production servers run the default 200ms, which is what docs/benchmarks.md records.
	var walWriterDelay string
	if err := db.QueryRow(ctx, `SHOW wal_writer_delay`).Scan(&walWriterDelay); err != nil {
		return err
	}
	dropped := ""
	if dropIndexes != "" {
		dropped = ", without " + dropIndexes
	}
	fmt.Printf("%d empty files, layout %s, %d writers, best of %d runs, wal_writer_delay %s%s\n\n", files, layout, writers, rounds, walWriterDelay, dropped)
	fmt.Printf("| enqueue (files/s) | find \\| psql \\copy (files/s) | ratio |\n|---:|---:|---:|\n")
	fmt.Printf("| %.0f | %.0f | %.2f× |\n", bestOurs, bestBase, bestOurs/bestBase)
	return nil
}

// writeTree makes the empty files, 1,000 per directory. nights: a directory per night
// (YYYYMMDD), holding frames 1–500 of both sites (N… and S…), as the archive stores them.
// scattered: directories 0000/000000…, each holding names whose dates cycle through the
// year, so that consecutive names are far apart in sortkey order.
func writeTree(root string, files int, layout string) error {
	const perDir = 1000
	night := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < files; i++ {
		var dir, name string
		switch layout {
		case "nights":
			date := night.AddDate(0, 0, i/perDir).Format("20060102")
			site := "NS"[i%perDir/(perDir/2)]
			dir = filepath.Join(root, date)
			name = fmt.Sprintf("%c%sS%04d.fits", site, date, 1+i%(perDir/2))
		default:
			dir = filepath.Join(root, fmt.Sprintf("%04d", i/perDir/100), fmt.Sprintf("%06d", i/perDir))
			name = fmt.Sprintf("N2020%02d%02dS%04d.fits", 1+i%12, 1+i%28, i%10000)
		}
		if i%perDir == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}
