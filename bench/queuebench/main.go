// Command queuebench compares our queue with River (github.com/riverqueue/river, at its best:
// FetchCooldown 1ms) on the same PostgreSQL, side by side in one run: no-op items, claimed,
// journaled in bbolt with its fsync (ours; River has no journal), and completed, at several
// worker counts. It prints a table of items per second and the ratio ours/River.
//
//	TEST_DATABASE_URL=... go run ./bench/queuebench [--items 20000] [--workers 8,100] [--rounds 2]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/journal"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

func main() {
	items := flag.Int("items", 20000, "items per run")
	workerList := flag.String("workers", "8,100", "worker counts")
	rounds := flag.Int("rounds", 2, "runs of each system per worker count (best kept)")
	drop := flag.String("drop", "", "measure what an index costs: drop these indexes or constraints of ingestqueue first (comma-separated: ingestqueue_pkey, ingestqueue_filename_path_inprogress_fail_dt_key)")
	flag.Parse()
	if err := run(context.Background(), *items, *workerList, *rounds, *drop); err != nil {
		fmt.Fprintln(os.Stderr, "queuebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, items int, workerList string, rounds int, drop string) error {
	bdb, err := benchdb.New(ctx)
	if err != nil {
		return err
	}
	defer bdb.Drop(ctx)
	cfg, err := pgxpool.ParseConfig(bdb.URL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 120
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := benchdb.DropIndexes(ctx, db, "ingestqueue", drop, os.Stderr); err != nil {
		return fmt.Errorf("-drop: %w", err)
	}
	mig, err := rivermigrate.New(riverpgxv5.New(db), nil)
	if err != nil {
		return err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	stateDir, err := os.MkdirTemp("", "queuebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	without := ""
	if drop != "" {
		without = ", without " + drop
	}
	fmt.Printf("%d no-op items per run, best of %d runs; PostgreSQL %s%s\n\n", items, rounds, benchdb.ServerVersion(ctx, db), without)
	fmt.Printf("| workers | ours (items/s) | River (items/s) | ours / River |\n|---:|---:|---:|---:|\n")
	for _, ws := range strings.Split(workerList, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			return err
		}
		var bestOurs, bestRiver float64
		for r := 0; r < rounds; r++ {
			o, err := runOurs(ctx, db, items, w, filepath.Join(stateDir, fmt.Sprintf("s%d-%d.db", w, r)))
			if err != nil {
				return fmt.Errorf("ours: %w", err)
			}
			rv, err := runRiver(ctx, db, items, w)
			if err != nil {
				return fmt.Errorf("river: %w", err)
			}
			bestOurs, bestRiver = max(bestOurs, o), max(bestRiver, rv)
		}
		fmt.Printf("| %d | %.0f | %.0f | %.2f× |\n", w, bestOurs, bestRiver, bestOurs/bestRiver)
	}
	return nil
}

func runOurs(ctx context.Context, db *pgxpool.Pool, items, workers int, statePath string) (float64, error) {
	if _, err := db.Exec(ctx, `TRUNCATE ingestqueue`); err != nil {
		return 0, err
	}
	if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0')
		FROM generate_series(1, $1) i`, items); err != nil {
		return 0, err
	}
	db.Exec(ctx, `VACUUM ANALYZE ingestqueue`)
	st, err := state.Open(statePath, time.Second)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	pool := queue.NewPool(queue.PoolConfig{
		DB: db, Owner: uuid(), Holder: "bench", Lease: time.Minute, Poll: 5 * time.Millisecond,
		Empty: true, Journal: journal.Of(st), Logger: slog.New(slog.DiscardHandler),
		Queues: []queue.Workers{{Spec: queue.Ingest(), Count: workers,
			Handler: func(context.Context, queue.Item) (queue.Result, error) { return queue.Complete, nil }}},
	})
	start := time.Now()
	if err := pool.Run(ctx); err != nil {
		return 0, err
	}
	el := time.Since(start)
	var left int
	db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue`).Scan(&left)
	if left != 0 {
		return 0, fmt.Errorf("%d items left", left)
	}
	c, _ := st.Counters("ingest")
	if c["completed"] != uint64(items) {
		return 0, fmt.Errorf("journal counted %d completions, want %d", c["completed"], items)
	}
	return float64(items) / el.Seconds(), nil
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func runRiver(ctx context.Context, db *pgxpool.Pool, items, workers int) (float64, error) {
	if _, err := db.Exec(ctx, `TRUNCATE river_job`); err != nil {
		return 0, err
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, noopWorker{})
	insertOnly, err := river.NewClient(riverpgxv5.New(db), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	for done := 0; done < items; {
		n := min(5000, items-done)
		params := make([]river.InsertManyParams, n)
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := insertOnly.InsertManyFast(ctx, params); err != nil {
			return 0, err
		}
		done += n
	}
	db.Exec(ctx, `VACUUM ANALYZE river_job`)
	client, err := river.NewClient(riverpgxv5.New(db), &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:           ws,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 5 * time.Millisecond,
	})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, err
	}
	// Done when every job is completed in the table (River completes in batches).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var got int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&got); err != nil {
			return 0, err
		}
		if got == items {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("only %d of %d jobs completed", got, items)
		}
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(start)
	stopCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := client.Stop(stopCtx); err != nil {
		return 0, err
	}
	return float64(items) / el.Seconds(), nil
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}
