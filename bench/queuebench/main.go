// Command queuebench compares our queue with River (github.com/riverqueue/river, at its best:
// FetchCooldown 1ms) on the same PostgreSQL: no-op items, claimed, journaled in bbolt with its
// fsync (ours; River has no journal), and completed.
//
// The two systems run interleaved, round by round (the order swapped every round, so that
// neither always runs on a warmer machine); every run is printed, then the medians and their
// ratio, which is the figure to quote.
//
// Then the fleet: P processes of K workers each (this program re-run as a child, each its
// own bbolt journal), against one process of 8 workers, through a proxy that adds latency to
// every round trip (as between hosts in a cloud region), interleaved too: throughput (items
// over the time from the first claim to the last completion) and the claim statement's
// latency, p50 and p99 over every claim of every process, and the p99 of the claims begun in
// the first second (every process's first claim at the same instant), in the last second
// (the queue running dry: processes finishing, checking for work, rescuing) and in between.
// A process that has finished exits, as agentd does, and its connections' backends exit on
// the server while the last claims run; with -fleet-hold it keeps them until every process
// has finished.
//
//	TEST_DATABASE_URL=... go run ./bench/queuebench [-items 20000] [-workers 8,100] [-rounds 5]
//	    [-fleet 50x12] [-fleet-items 60000] [-fleet-rounds 3] [-latency 1ms] [-claims-csv PREFIX]
//	    [-fleet-hold]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/fitsarchive/agentd/bench/internal/benchdb"
	"github.com/fitsarchive/agentd/internal/journal"
	"github.com/fitsarchive/agentd/internal/netdelay"
	"github.com/fitsarchive/agentd/internal/pgcluster"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

type options struct {
	items, rounds           int
	workers                 string
	drop                    string
	fleet                   string
	fleetItems, fleetRounds int
	claimsCSV               string
	latency                 time.Duration
	fleetPaths              string
	bouncerPool             int
	child, childPooled      bool
	url, statePath          string
	childWorkers            int
	hold, childHold         bool
}

func main() {
	var o options
	flag.IntVar(&o.items, "items", 20000, "items per run")
	flag.StringVar(&o.workers, "workers", "8,100", "worker counts of the comparison with River (empty: skip it)")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds: each runs both systems once, in alternating order")
	flag.StringVar(&o.drop, "drop", "", "measure what an index costs: drop these indexes or constraints of ingestqueue first (comma-separated: ingestqueue_pkey, ingestqueue_filename_path_inprogress_fail_dt_key)")
	flag.StringVar(&o.fleet, "fleet", "50x12", "the fleet run: processes x workers, against 1x8 (empty: skip it)")
	flag.IntVar(&o.fleetItems, "fleet-items", 60000, "items per fleet run")
	flag.IntVar(&o.fleetRounds, "fleet-rounds", 3, "rounds of the fleet run (each: 1x8, then the fleet)")
	flag.StringVar(&o.claimsCSV, "claims-csv", "", "write every fleet claim (µs from the run's first claim, µs it took, rows it returned, which process, µs since 1970) to files with this prefix, one per run")
	flag.DurationVar(&o.latency, "latency", time.Millisecond, "round-trip latency the proxy adds in the fleet runs (0: no proxy)")
	flag.BoolVar(&o.hold, "fleet-hold", false, "fleet processes that have finished keep their database connections until every one has finished\n"+
		"(their backends' exits then no longer share the server with the last claims; see docs/benchmarks.md)")
	flag.StringVar(&o.fleetPaths, "fleet-paths", "direct", "how the fleet runs' processes reach the database, each path a run of 1x8 and one of the fleet per round:\n"+
		"direct, pgbouncer (Debian's, transaction pooling; the processes then without prepared statements or LISTEN,\n"+
		"as agentd with pooler pgbouncer), or both (comma-separated)")
	flag.IntVar(&o.bouncerPool, "pgbouncer-pool", 10, "PgBouncer's server connections (for 2 cores; its fleet runs went no faster with 20 or 40)")
	flag.BoolVar(&o.child, "child", false, "internal: serve the queue as one process of the fleet")
	flag.BoolVar(&o.childPooled, "child-pooled", false, "internal: the child's database is behind PgBouncer")
	flag.BoolVar(&o.childHold, "child-hold", false, "internal: after the report, keep the connections until stdin closes")
	flag.StringVar(&o.url, "url", "", "internal: the child's database")
	flag.StringVar(&o.statePath, "state", "", "internal: the child's state file")
	flag.IntVar(&o.childWorkers, "child-workers", 8, "internal: the child's workers")
	flag.Parse()
	ctx := context.Background()
	if o.child {
		if err := runChild(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "queuebench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "queuebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if _, err := fleetPathNames(o.fleetPaths); err != nil && o.fleet != "" {
		return err // before any run
	}
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
	if err := benchdb.DropIndexes(ctx, db, "ingestqueue", o.drop, os.Stderr); err != nil {
		return fmt.Errorf("-drop: %w", err)
	}
	stateDir, err := os.MkdirTemp("", "queuebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	without := ""
	if o.drop != "" {
		without = ", without " + o.drop
	}
	host, _ := os.Hostname()
	fmt.Printf("%s, %s; PostgreSQL %s%s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine(host), benchdb.ServerVersion(ctx, db), without)
	if o.workers != "" {
		if err := compareRiver(ctx, db, o, stateDir); err != nil {
			return err
		}
	}
	if o.fleet != "" {
		if err := compareFleet(ctx, bdb.URL, db, o, stateDir); err != nil {
			return err
		}
	}
	return nil
}

// machine describes the machine in a few words: cores and memory.
func machine(host string) string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%d cores%s", runtime.NumCPU(), mem)
}

func compareRiver(ctx context.Context, db *pgxpool.Pool, o options, stateDir string) error {
	mig, err := rivermigrate.New(riverpgxv5.New(db), nil)
	if err != nil {
		return err
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	fmt.Printf("## Ours vs River: %d no-op items per run, %d rounds interleaved\n\n", o.items, o.rounds)
	fmt.Printf("| workers | round | first | ours (items/s) | River (items/s) | ours / River |\n|---:|---:|---|---:|---:|---:|\n")
	type result struct{ ours, river []float64 }
	results := map[int]*result{}
	var counts []int
	for _, ws := range strings.Split(o.workers, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			return fmt.Errorf("-workers: %w", err)
		}
		counts = append(counts, w)
		results[w] = &result{}
	}
	for r := 0; r < o.rounds; r++ {
		for _, w := range counts {
			var ours, rv float64
			runOursNow := func() error {
				var err error
				ours, err = runOurs(ctx, db, o.items, w, filepath.Join(stateDir, fmt.Sprintf("s%d-%d.db", w, r)))
				if err != nil {
					return fmt.Errorf("ours: %w", err)
				}
				return nil
			}
			runRiverNow := func() error {
				var err error
				rv, err = runRiver(ctx, db, o.items, w)
				if err != nil {
					return fmt.Errorf("river: %w", err)
				}
				return nil
			}
			first := "ours"
			steps := []func() error{runOursNow, runRiverNow}
			if r%2 == 1 {
				first = "River"
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return err
				}
			}
			results[w].ours = append(results[w].ours, ours)
			results[w].river = append(results[w].river, rv)
			fmt.Printf("| %d | %d | %s | %.0f | %.0f | %.2f× |\n", w, r+1, first, ours, rv, ours/rv)
		}
	}
	fmt.Printf("\n| workers | ours, median (items/s) | River, median (items/s) | ratio of the medians | per-round ratios, min – max |\n|---:|---:|---:|---:|---|\n")
	for _, w := range counts {
		res := results[w]
		var ratios []float64
		for i := range res.ours {
			ratios = append(ratios, res.ours[i]/res.river[i])
		}
		fmt.Printf("| %d | %.0f | %.0f | **%.2f×** | %.2f× – %.2f× |\n", w, median(res.ours), median(res.river),
			median(res.ours)/median(res.river), slices.Min(ratios), slices.Max(ratios))
	}
	fmt.Println()
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fill(ctx context.Context, db *pgxpool.Pool, items int) error {
	if _, err := db.Exec(ctx, `TRUNCATE ingestqueue`); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		SELECT 'f' || i || '.fits', '', 'aaaa' || lpad(i::text, 9, '0')
		FROM generate_series(1, $1) i`, items); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `VACUUM ANALYZE ingestqueue`)
	return err
}

func runOurs(ctx context.Context, db *pgxpool.Pool, items, workers int, statePath string) (float64, error) {
	if err := fill(ctx, db, items); err != nil {
		return 0, err
	}
	st, err := state.Open(statePath, time.Second)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	start := time.Now()
	// Polling as often as River does here (its FetchPollInterval).
	if err := serve(ctx, db, journal.Of(st), workers, nil, riverPoll, false); err != nil {
		return 0, err
	}
	el := time.Since(start)
	var left int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue`).Scan(&left); err != nil {
		return 0, err
	}
	if left != 0 {
		return 0, fmt.Errorf("%d items left", left)
	}
	c, err := st.Counters("ingest")
	if err != nil {
		return 0, err
	}
	if c["completed"] != uint64(items) {
		return 0, fmt.Errorf("journal counted %d completions, want %d", c["completed"], items)
	}
	return float64(items) / el.Seconds(), nil
}

// serve runs agentd's worker pool with no-op handlers until the queue is empty, polling
// every poll when a claim finds nothing (0: agentd's default).
func serve(ctx context.Context, db *pgxpool.Pool, j queue.Journal, workers int, obs queue.Observer, poll time.Duration, noListen bool) error {
	pool := queue.NewPool(queue.PoolConfig{
		DB: db, Owner: uuid(), Holder: "bench", Lease: time.Minute, Poll: poll, NoListen: noListen,
		Empty: true, Journal: j, Logger: slog.New(slog.DiscardHandler), Observer: obs,
		Queues: []queue.Workers{{Spec: queue.Ingest(), Count: workers,
			Handler: func(context.Context, queue.Item) (queue.Result, error) { return queue.Complete, nil }}},
	})
	return pool.Run(ctx)
}

// riverPoll is how often River polls for jobs in the comparison (FetchPollInterval), and so
// how often ours does.
const riverPoll = 5 * time.Millisecond

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
	if _, err := db.Exec(ctx, `VACUUM ANALYZE river_job`); err != nil {
		return 0, err
	}
	client, err := river.NewClient(riverpgxv5.New(db), &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:           ws,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: riverPoll,
	})
	if err != nil {
		return 0, err
	}
	// Done when River has reported every job completed: its completer reports a batch once
	// the batch is written to the table. (Polling the table for the count instead cost a
	// seq scan every few milliseconds, CPU taken from River on a 2-core machine.)
	completed, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{ChanSize: items + 1,
		Kinds: []river.EventKind{river.EventKindJobCompleted}})
	defer cancelSub()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, err
	}
	deadline := time.After(5 * time.Minute)
	for got := 0; got < items; {
		select {
		case <-completed:
			got++
		case <-deadline:
			return 0, fmt.Errorf("only %d of %d jobs completed", got, items)
		}
	}
	el := time.Since(start)
	stopCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := client.Stop(stopCtx); err != nil {
		return 0, err
	}
	var inTable int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&inTable); err != nil {
		return 0, err
	}
	if inTable != items {
		return 0, fmt.Errorf("River reported %d jobs completed, the table has %d", items, inTable)
	}
	return float64(items) / el.Seconds(), nil
}

// childReport is what one fleet process prints when the queue is empty.
type childReport struct {
	First, Last time.Time // its first claim, its last completion
	Items       int       // completed
	ClaimsUS    []int64   // every claim statement's duration, in µs
	ClaimsAt    []int64   // when each began, in µs of the Unix epoch
	ClaimsRows  []int     // how many rows each returned
}

// claimLog is the child's Observer: it keeps every claim's duration.
type claimLog struct {
	mu     sync.Mutex
	first  time.Time
	claims []int64
	at     []int64
	rows   []int
}

func (c *claimLog) Worked(string, time.Duration) {}

func (c *claimLog) Claimed(_ string, items int, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	began := time.Now().Add(-took)
	if c.first.IsZero() && items > 0 {
		c.first = began
	}
	c.claims = append(c.claims, took.Microseconds())
	c.at = append(c.at, began.UnixMicro())
	c.rows = append(c.rows, items)
}

// lastEnded is the child's journal: it notes when items were last ended (completed).
type lastEnded struct {
	queue.Journal
	mu   sync.Mutex
	last time.Time
}

func (j *lastEnded) Ended(q string, done []queue.Done) error {
	err := j.Journal.Ended(q, done)
	j.mu.Lock()
	j.last = time.Now()
	j.mu.Unlock()
	return err
}

func runChild(ctx context.Context, o options) error {
	cfg, err := pgxpool.ParseConfig(o.url)
	if err != nil {
		return err
	}
	cfg.MaxConns = 6
	if o.childPooled {
		// As agentd with pooler pgbouncer: statements sent whole (no prepared statement
		// outlives a transaction there), and polled, LISTEN being of no use through it.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := state.Open(o.statePath, time.Second)
	if err != nil {
		return err
	}
	defer st.Close()
	// Ready, then wait for the start. The processes of this fleet start together on this
	// machine's cores (Go's start, connections through the proxy, the journal), where a real
	// fleet's hosts start on their own: the claims measured are those made once every
	// process runs. Each connection is opened first, by a claim of nothing (the claims' own
	// statements, one per batch size, are prepared as they come).
	warm := queue.New(db, queue.Ingest(), queue.Options{Owner: uuid()})
	warmErrs := make(chan error, cfg.MaxConns)
	for range cfg.MaxConns {
		go func() { _, err := warm.Claim(ctx, nil); warmErrs <- err }()
	}
	for range cfg.MaxConns {
		if err := <-warmErrs; err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("wait for the start: %w", err)
	}
	log := &claimLog{}
	j := &lastEnded{Journal: journal.Of(st)}
	// Polling as agentd does: a fleet's processes that find nothing left to claim at the end
	// of the queue wait for a notification or agentd's poll. At the River comparison's 5 ms,
	// each of 50 processes sent a claim, a rescue and an idle check every 5 ms for the last
	// second of the run, and the claims still running waited behind them.
	if err := serve(ctx, db, j, o.childWorkers, log, 0, o.childPooled); err != nil {
		return err
	}
	c, err := st.Counters("ingest")
	if err != nil {
		return err
	}
	rep := childReport{First: log.first, Last: j.last, Items: int(c["completed"]), ClaimsUS: log.claims, ClaimsAt: log.at, ClaimsRows: log.rows}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return err
	}
	if o.childHold {
		// The parent closes stdin once every process has reported.
		os.Stdout.Close()
		io.Copy(io.Discard, os.Stdin) //nolint:errcheck // any end of stdin is the signal
	}
	return nil
}

// fleetResult is one fleet run.
type fleetResult struct {
	perSecond  float64
	p50, p99   time.Duration
	claims     int
	start      phase // the claims begun in the run's first second
	steady     phase // the claims begun after it and before the last second
	end        phase // the claims begun in the run's last second
	timed      []timedClaim
	first      time.Time // the first claim that took items
	procs, per int
}

// fleetPath is one way from the fleet runs' processes to the database.
type fleetPath struct {
	name   string // direct, pgbouncer
	url    string // where the processes connect
	pooled bool   // through a transaction pooler
}

func compareFleet(ctx context.Context, dbURL string, db *pgxpool.Pool, o options, stateDir string) error {
	var procs, per int
	if _, err := fmt.Sscanf(o.fleet, "%dx%d", &procs, &per); err != nil || procs < 1 || per < 1 {
		return fmt.Errorf("-fleet %q: want PROCESSESxWORKERS, e.g. 50x12", o.fleet)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Each path of the fleet runs' processes: [latency proxy →] [PgBouncer →] PostgreSQL.
	names, err := fleetPathNames(o.fleetPaths)
	if err != nil {
		return err
	}
	var paths []fleetPath
	for _, name := range names {
		switch name {
		case "direct":
			paths = append(paths, fleetPath{name: name, url: dbURL})
		case "pgbouncer":
			b, err := pgcluster.StartPgBouncer(ctx, dbURL, o.bouncerPool)
			if err != nil {
				return fmt.Errorf("-fleet-paths pgbouncer: %w", err)
			}
			defer b.Stop()
			paths = append(paths, fleetPath{name: name, url: b.URL, pooled: true})
		}
	}
	if o.latency > 0 {
		for i, p := range paths {
			proxied, stop, err := throughProxy(p.url, o.latency)
			if err != nil {
				return err
			}
			defer stop()
			paths[i].url = proxied
		}
	}
	via := ""
	if len(paths) > 1 || paths[0].pooled {
		via = fmt.Sprintf("; paths: %s (PgBouncer: transaction pooling, %d server connections)", o.fleetPaths, o.bouncerPool)
	}
	fmt.Printf("## Fleet: %d processes × %d workers against 1 × 8, %d no-op items per run, latency %s round trip%s, %d rounds interleaved\n\n",
		procs, per, o.fleetItems, o.latency, via, o.fleetRounds)
	fmt.Printf("| round | path | processes × workers | items/s | claims | claim p50 | claim p99 | first second: claims, p99 | between: claims, p99 | last second: claims, p99 |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	small := make([][]fleetResult, len(paths))
	big := make([][]fleetResult, len(paths))
	for r := 0; r < o.fleetRounds; r++ {
		for k, p := range paths {
			for _, shape := range [][2]int{{1, 8}, {procs, per}} {
				res, err := runFleet(ctx, self, p.url, p.pooled, db, o.fleetItems, shape[0], shape[1], o.hold,
					filepath.Join(stateDir, fmt.Sprintf("fleet-%d-%s-%d", r, p.name, shape[0])))
				if err == nil && o.claimsCSV != "" {
					err = writeClaims(fmt.Sprintf("%s-%d-%s-%dx%d.csv", o.claimsCSV, r+1, p.name, shape[0], shape[1]), res)
				}
				if err != nil {
					return fmt.Errorf("fleet %d×%d, %s: %w", shape[0], shape[1], p.name, err)
				}
				if shape[0] == 1 {
					small[k] = append(small[k], res)
				} else {
					big[k] = append(big[k], res)
				}
				fmt.Printf("| %d | %s | %d × %d | %.0f | %d | %s | %s | %s | %s | %s |\n", r+1, p.name, res.procs, res.per, res.perSecond, res.claims, ms(res.p50), ms(res.p99),
					res.start, res.steady, res.end)
			}
		}
	}
	rate := func(rs []fleetResult) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, r.perSecond)
		}
		return out
	}
	p99s := func(rs []fleetResult, of func(fleetResult) time.Duration) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, float64(of(r)))
		}
		return out
	}
	all := func(r fleetResult) time.Duration { return r.p99 }
	fmt.Printf("\n| path | 1 × 8, items/s | %d × %d, items/s | %d × %d / 1 × 8 | claim p99, 1 × 8 | claim p99, %d × %d | between the first and the last second, %d × %d |\n|---|---:|---:|---:|---:|---:|---:|\n",
		procs, per, procs, per, procs, per, procs, per)
	for k, p := range paths {
		fmt.Printf("| %s | %.0f | %.0f | **%.0f %%** | %s | %s | %s |\n", p.name, median(rate(small[k])), median(rate(big[k])),
			100*median(rate(big[k]))/median(rate(small[k])), ms(time.Duration(median(p99s(small[k], all)))),
			ms(time.Duration(median(p99s(big[k], all)))), betweenP99(big[k]))
	}
	fmt.Printf("\nMedians of the runs; %d × %d / 1 × 8 is the ratio of the medians of items/s, each path against its own 1 × 8.\n\n", procs, per)
	return nil
}

// betweenP99 is the median over runs of the p99 of the claims begun between the first and
// the last second ("—" when no run had any).
func betweenP99(runs []fleetResult) string {
	var p99s []float64
	for _, r := range runs {
		if r.steady.claims > 0 {
			p99s = append(p99s, float64(r.steady.p99))
		}
	}
	if len(p99s) == 0 {
		return "—"
	}
	return ms(time.Duration(median(p99s)))
}

// fleetPathNames reads -fleet-paths: direct, pgbouncer, or both, comma-separated.
func fleetPathNames(s string) ([]string, error) {
	var names []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if (name != "direct" && name != "pgbouncer") || slices.Contains(names, name) {
			return nil, fmt.Errorf("-fleet-paths %q: want direct, pgbouncer or both (comma-separated, each once)", s)
		}
		names = append(names, name)
	}
	return names, nil
}

// throughProxy starts a latency proxy (latency round trip) in front of the server of dbURL
// and returns the URL that reaches it through the proxy, and the proxy's stop. The proxy
// reaches the server as dbURL says (a Unix socket, with the socket's authentication, or TCP).
func throughProxy(dbURL string, latency time.Duration) (string, func(), error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return "", nil, err
	}
	network, target := "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		network, target = "unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))
	}
	proxy, err := netdelay.Start(func() (net.Conn, error) { return net.Dial(network, target) }, latency/2)
	if err != nil {
		return "", nil, err
	}
	u := &url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, cfg.Password), Host: proxy.Addr().String(),
		Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	if cfg.Password == "" {
		u.User = url.User(cfg.User)
	}
	return u.String(), func() { proxy.Close() }, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func runFleet(ctx context.Context, self, url string, pooled bool, db *pgxpool.Pool, items, procs, per int, hold bool, dir string) (fleetResult, error) {
	res := fleetResult{procs: procs, per: per}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, err
	}
	if err := fill(ctx, db, items); err != nil {
		return res, err
	}
	type child struct {
		cmd   *exec.Cmd
		start io.WriteCloser
		out   *bufio.Reader
		log   bytes.Buffer
	}
	children := make([]*child, procs)
	defer func() {
		for _, c := range children {
			if c != nil && c.cmd.ProcessState == nil {
				c.cmd.Process.Kill() //nolint:errcheck // gone is fine
				c.cmd.Wait()         //nolint:errcheck // killed
			}
		}
	}()
	for i := range children {
		c := &child{}
		c.cmd = exec.CommandContext(ctx, self, "-child", "-url", url, "-child-workers", strconv.Itoa(per),
			"-state", filepath.Join(dir, fmt.Sprintf("c%d.db", i)), fmt.Sprintf("-child-hold=%t", hold), fmt.Sprintf("-child-pooled=%t", pooled))
		c.cmd.Stderr = &c.log
		var err error
		if c.start, err = c.cmd.StdinPipe(); err != nil {
			return res, err
		}
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			return res, err
		}
		c.out = bufio.NewReader(out)
		if err := c.cmd.Start(); err != nil {
			return res, err
		}
		children[i] = c
	}
	// Every process started and connected, then all start claiming at once.
	for i, c := range children {
		if line, err := c.out.ReadString('\n'); err != nil || line != "ready\n" {
			c.cmd.Process.Kill() //nolint:errcheck // gone is fine
			c.cmd.Wait()         //nolint:errcheck // killed; its stderr is complete once it returns
			return res, fmt.Errorf("child %d did not get ready (%q, %v): %s", i, line, err, strings.TrimSpace(c.log.String()))
		}
	}
	for _, c := range children {
		fmt.Fprintln(c.start, "go")
		if !hold {
			c.start.Close()
		}
	}
	// Every report first, then stdin closed: with hold, a process that has reported keeps
	// its connections until then.
	reports := make([][]byte, len(children))
	readErrs := make([]error, len(children))
	for i, c := range children {
		reports[i], readErrs[i] = io.ReadAll(c.out)
	}
	for _, c := range children {
		c.start.Close()
	}
	var first, last time.Time
	var timed []timedClaim
	done := 0
	var errs []string
	for i, c := range children {
		report, readErr := reports[i], readErrs[i]
		if err := c.cmd.Wait(); err != nil || readErr != nil {
			errs = append(errs, fmt.Sprintf("child %d: %v: %s", i, errors.Join(err, readErr), strings.TrimSpace(c.log.String())))
			continue
		}
		var rep childReport
		if err := json.Unmarshal(report, &rep); err != nil {
			errs = append(errs, fmt.Sprintf("child %d: its report: %v", i, err))
			continue
		}
		done += rep.Items
		for k, at := range rep.ClaimsAt {
			timed = append(timed, timedClaim{at: time.UnixMicro(at), took: time.Duration(rep.ClaimsUS[k]) * time.Microsecond,
				rows: rep.ClaimsRows[k], process: i})
		}
		if rep.Items > 0 {
			if first.IsZero() || rep.First.Before(first) {
				first = rep.First
			}
			if rep.Last.After(last) {
				last = rep.Last
			}
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	var left int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM ingestqueue`).Scan(&left); err != nil {
		return res, err
	}
	if left != 0 || done != items {
		return res, fmt.Errorf("%d items completed by the journals and %d left in the queue, of %d", done, left, items)
	}
	claims := make([]time.Duration, len(timed))
	for i, c := range timed {
		claims[i] = c.took
	}
	slices.Sort(claims)
	res.claims = len(claims)
	res.p50, res.p99 = claims[len(claims)/2], claims[len(claims)*99/100]
	res.perSecond = float64(items) / last.Sub(first).Seconds()
	res.start, res.steady, res.end = splitPhases(timed, first.Add(time.Second), last.Add(-time.Second))
	res.timed, res.first = timed, first
	return res, nil
}

// writeClaims writes a fleet run's claims to path: when each began (µs after the run's
// first claim), how long it took (µs), the rows it returned, the process that made it
// (0 to processes-1) and when it began by the clock (µs since 1970, UTC: to set beside the
// server's log), one per line, in no particular order.
func writeClaims(path string, res fleetResult) error {
	var b bytes.Buffer
	b.WriteString("began_us,took_us,rows,process,began_unix_us\n")
	for _, c := range res.timed {
		fmt.Fprintf(&b, "%d,%d,%d,%d,%d\n", c.at.Sub(res.first).Microseconds(), c.took.Microseconds(), c.rows, c.process, c.at.UnixMicro())
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// timedClaim is one claim statement of a fleet run: when it began and how long it took.
type timedClaim struct {
	at      time.Time
	took    time.Duration
	rows    int // returned
	process int // the fleet process that made it
}

// phase is the claims of one part of a run: how many, and their p99.
type phase struct {
	claims int
	p99    time.Duration
}

// String is the phase's cell of the fleet's table: its claims and their p99.
func (p phase) String() string {
	if p.claims == 0 {
		return "0, —"
	}
	return fmt.Sprintf("%d, %s", p.claims, ms(p.p99))
}

// splitPhases divides a run's claims into those begun before from (the fleet's first
// second: every process's first claim at the same instant), those begun at or after to (its
// last second, the queue running dry) and the rest. A run shorter than two seconds has no
// steady part.
func splitPhases(claims []timedClaim, from, to time.Time) (start, steady, end phase) {
	var a, b, c []time.Duration
	for _, cl := range claims {
		switch {
		case cl.at.Before(from):
			a = append(a, cl.took)
		case !cl.at.Before(to):
			c = append(c, cl.took)
		default:
			b = append(b, cl.took)
		}
	}
	p := func(d []time.Duration) phase {
		if len(d) == 0 {
			return phase{}
		}
		slices.Sort(d)
		return phase{claims: len(d), p99: d[len(d)*99/100]}
	}
	return p(a), p(b), p(c)
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}
