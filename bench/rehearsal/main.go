// Command rehearsal rehearses a rebuild by a fleet on one machine: its own PostgreSQL
// cluster (restarted during the run, so never the one the tests share) sized for the run, a
// storage tree, the queue filled, M agentd processes of K workers (each its own state file,
// lock directory and name), optionally a latency proxy (as across a cloud region) and
// PgBouncer in transaction mode between them and the database, and chaos: SIGKILL of a
// fraction of the agents every few seconds (replaced by fresh ones), one agent SIGSTOPped
// past its lease then continued, the database restarted once. At the end it checks the
// queue's promises (every file ingested exactly once, nothing failed, no row left, every
// agent not killed exiting 0, no claim lost but the stopped agent's, fenced) and prints what
// it measured, the claim statements' latency (p50, p99) included. It exits 1 on any violation.
//
//	go run ./bench/rehearsal                       # 50 agents × 12 workers, 100,000 files
//	go run ./bench/rehearsal -procs 5 -workers 3 -files 2000 -pgbouncer
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/fleet"
	"github.com/fitsarchive/agentd/internal/netdelay"
	"github.com/fitsarchive/agentd/internal/pgcluster"
	"github.com/fitsarchive/agentd/internal/schema"
)

type options struct {
	procs, workers, files, bouncerPool int
	lease, chaos, stopAfter, restart   time.Duration
	latency, timeout                   time.Duration
	fraction                           float64
	pgbouncer, keep                    bool
	agentd                             string
}

func main() {
	var o options
	flag.IntVar(&o.procs, "procs", 50, "agentd processes")
	flag.IntVar(&o.workers, "workers", 12, "workers of each")
	flag.IntVar(&o.files, "files", 100000, "files in the storage tree (9 per night: 8 FITS and an obslog)")
	flag.DurationVar(&o.lease, "lease", 10*time.Second, "the agents' lease")
	flag.DurationVar(&o.chaos, "chaos", 5*time.Second, "kill a fraction of the agents this often (0: never)")
	flag.Float64Var(&o.fraction, "kill-fraction", 0.1, "the fraction killed each time (at least one)")
	flag.DurationVar(&o.stopAfter, "stop-after", 10*time.Second, "SIGSTOP one agent then (once the fresh files are past their 5 s deferral), for twice the lease (0: never)")
	flag.DurationVar(&o.restart, "restart-after", 40*time.Second, "restart PostgreSQL then (0: never)")
	flag.DurationVar(&o.latency, "latency", time.Millisecond, "round-trip latency added between the agents and the database (0: none)")
	flag.BoolVar(&o.pgbouncer, "pgbouncer", false, "put PgBouncer (transaction pooling) between the agents and the database")
	flag.IntVar(&o.bouncerPool, "pgbouncer-pool", 40, "PgBouncer's server connections")
	flag.DurationVar(&o.timeout, "timeout", time.Hour, "the whole run (100,000 files take about 30 minutes direct on 2 cores)")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's directory (logs, state files)")
	flag.StringVar(&o.agentd, "agentd", "", "the agentd binary (default: build ./agentd)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rehearsal:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (bool, error) {
	dir, err := os.MkdirTemp("", "rehearsal-")
	if err != nil {
		return false, err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	if o.agentd == "" {
		o.agentd = filepath.Join(dir, "agentd")
		if out, err := exec.Command("go", "build", "-o", o.agentd, "./agentd").CombinedOutput(); err != nil {
			return false, fmt.Errorf("build agentd: %v\n%s", err, out)
		}
	}
	// Each agent: a connection per worker, four for the queue's loops, one for LISTEN; and
	// room for this program, psql and the checks.
	perAgent := o.workers + 5
	maxConn := o.procs*perAgent*12/10 + 30 // the fresh agents of a chaos round overlap the killed ones' sessions
	if o.pgbouncer {
		maxConn = o.bouncerPool + 30
	}
	fmt.Printf("cluster: max_connections = %d (%d agents × (%d workers + 5)%s)\n", maxConn, o.procs, o.workers,
		map[bool]string{true: fmt.Sprintf(", through PgBouncer: %d server connections", o.bouncerPool), false: " + 20 % + 30"}[o.pgbouncer])
	cluster, err := pgcluster.Start(ctx, "", pgcluster.Options{MaxConnections: maxConn})
	if err != nil {
		return false, err
	}
	defer cluster.Stop()
	admin, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		return false, err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE archive")
	admin.Close(ctx)
	if err != nil {
		return false, err
	}
	conn, err := pgx.Connect(ctx, cluster.URL("archive"))
	if err != nil {
		return false, err
	}
	_, err = schema.Init(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		return false, err
	}

	// The path of the agents: [latency proxy →] [PgBouncer →] PostgreSQL.
	agentURL := cluster.TCPURL("archive")
	var env []string
	if o.pgbouncer {
		b, err := pgcluster.StartPgBouncer(ctx, cluster.URL("archive"), o.bouncerPool)
		if err != nil {
			return false, err
		}
		defer b.Stop()
		agentURL = b.URL
		env = append(env, "AGENTD_POOLER=pgbouncer")
		// What the README asks of an operator behind a pooler (agentd cannot send it as a
		// startup parameter there): a stopped agent's transaction ends after its lease.
		if err := setIdleTimeout(ctx, cluster.URL("archive"), o.lease); err != nil {
			return false, err
		}
	}
	if o.latency > 0 {
		cfg, err := pgx.ParseConfig(agentURL)
		if err != nil {
			return false, err
		}
		target := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
		proxy, err := netdelay.Start(func() (net.Conn, error) { return net.Dial("tcp", target) }, o.latency/2)
		if err != nil {
			return false, err
		}
		defer proxy.Close()
		agentURL = fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", cfg.User, proxy.Addr().Port, cfg.Database)
		fmt.Printf("latency: %s round trip added between the agents and %s\n", o.latency, target)
	}

	db, err := pgxpool.New(ctx, cluster.URL("archive"))
	if err != nil {
		return false, err
	}
	defer db.Close()
	mon := &monitor{db: db, killed: map[string]time.Time{}}
	s := fleet.Scenario{
		Agentd: o.agentd, DatabaseURL: cluster.URL("archive"), AgentURL: agentURL, Env: env, Dir: dir,
		Nights: (o.files + 8) / 9, Procs: o.procs, Workers: o.workers, Lease: o.lease, Timeout: o.timeout, Seed: uint64(time.Now().UnixNano()),
		Log: os.Stderr, Chaos: o.chaos, ChaosFraction: o.fraction, StopAfter: o.stopAfter,
		RestartAfter: o.restart, RestartDB: cluster.Restart,
		OnKill: mon.kill, ClaimLatency: true,
	}
	if o.restart <= 0 {
		s.RestartDB = nil
	}
	monCtx, stopMon := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); mon.run(monCtx) }() // owner: run; ends with stopMon
	rep, err := s.Run(ctx)
	stopMon()
	wg.Wait()
	if err != nil {
		return false, err
	}

	fmt.Println()
	fmt.Printf("| files | agents × workers | killed | stopped (fenced) | db restarted | seconds | files/s |\n|---:|---|---:|---|---|---:|---:|\n")
	fmt.Printf("| %d | %d × %d | %d | %s (%d) | %v | %.1f | %.0f |\n\n", rep.Files, o.procs, o.workers, len(rep.Killed), rep.Stopped,
		rep.FencedLost, rep.Restarted, rep.Elapsed.Seconds(), float64(rep.Files)/rep.Elapsed.Seconds())
	mon.print(os.Stdout)
	if c := rep.Claims; c.Count > 0 {
		fmt.Printf("claim statements: %.0f over the fleet; latency p50 %.1f ms, p99 %.1f ms (the agents' histograms, last scrape of each)\n",
			c.Count, 1000*c.Quantile(0.5), 1000*c.Quantile(0.99))
	}
	if len(rep.Retried) > 0 {
		fmt.Printf("failed by the poison guard after as many interruptions by the rehearsal, retried and ingested: %d (%s)\n",
			len(rep.Retried), strings.Join(rep.Retried, "; "))
	}
	fmt.Printf("claims released %d; lost by live agents %d (fenced: their heartbeats could not renew the leases across the database restart; must be 0 without one)\n",
		rep.Released, rep.Lost)
	if !rep.OK() {
		fmt.Println("\nVIOLATIONS:")
		for _, p := range rep.Problems {
			fmt.Println("-", p)
		}
		return false, nil
	}
	fmt.Println("\nevery promise held")
	return true, nil
}

// monitor samples the database while the rehearsal runs: files ingested (throughput by 5 s
// window), connections in use, and how long the claims of each killed agent stayed its own.
type monitor struct {
	db      *pgxpool.Pool
	mu      sync.Mutex
	killed  map[string]time.Time // holder pattern → when its agent died
	held    []time.Duration      // for each killed agent that held claims: until they were all rescued
	samples []sample
	maxConn int
}

type sample struct {
	at    time.Time
	files int
}

func (m *monitor) kill(name string, pid int, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.killed[fleet.HolderLike(name, pid)] = at
}

func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var files, conns int
		if m.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM diskfile), (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')`).Scan(&files, &conns) != nil {
			continue // the database is restarting
		}
		m.mu.Lock()
		m.samples = append(m.samples, sample{time.Now(), files})
		m.maxConn = max(m.maxConn, conns)
		patterns := slices.Collect(maps.Keys(m.killed))
		m.mu.Unlock()
		if len(patterns) == 0 {
			continue
		}
		// One statement for every killed agent still followed, run without the lock (OnKill
		// takes it): the patterns whose claims are all rescued.
		rows, err := m.db.Query(ctx, `SELECT p FROM unnest($1::text[]) p
			WHERE NOT EXISTS (SELECT 1 FROM ingestqueue WHERE holder LIKE p)`, patterns)
		if err != nil {
			continue
		}
		rescued, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			continue
		}
		m.mu.Lock()
		for _, pattern := range rescued {
			if at, ok := m.killed[pattern]; ok {
				m.held = append(m.held, time.Since(at))
				delete(m.killed, pattern)
			}
		}
		m.mu.Unlock()
	}
}

func (m *monitor) print(w *os.File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) > 0 {
		// The windows start with the last sample before the first file ingested: the
		// monitor runs from before the tree is generated and enqueued.
		first := 0
		for i, s := range m.samples {
			if s.files > 0 {
				break
			}
			first = i
		}
		prev := m.samples[first]
		var rates []string
		var longest time.Duration
		for _, s := range m.samples[first:] {
			if d := s.at.Sub(prev.at); d >= 5*time.Second {
				rates = append(rates, fmt.Sprintf("%.0f", float64(s.files-prev.files)/d.Seconds()))
				longest = max(longest, d)
				prev = s
			}
		}
		// A window lasts from one sample to the first 5 s later; samples come every 250 ms
		// when the loaded database answers, so a window may be longer (the longest is said).
		fmt.Fprintf(w, "throughput by window of 5 s or more (the longest %.1f s) from the first file ingested, %.0f s after the harness began (files/s): %s\n",
			longest.Seconds(), m.samples[first].at.Sub(m.samples[0].at).Seconds(), strings.Join(rates, " "))
	}
	fmt.Fprintf(w, "connections in use at most: %d\n", m.maxConn)
	sort.Slice(m.held, func(i, j int) bool { return m.held[i] < m.held[j] })
	if n := len(m.held); n > 0 {
		fmt.Fprintf(w, "claims of a killed agent rescued after: longest %.1f s, median %.1f s (%d agents)\n",
			m.held[n-1].Seconds(), m.held[n/2].Seconds(), n)
	}
	if len(m.killed) > 0 {
		fmt.Fprintf(w, "%d killed agents' claims were never seen rescued by the end\n", len(m.killed))
	}
}

// setIdleTimeout sets idle_in_transaction_session_timeout = lease on the archive database,
// for the sessions opened after it.
func setIdleTimeout(ctx context.Context, url string, lease time.Duration) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE archive SET idle_in_transaction_session_timeout = %d", lease.Milliseconds()))
	if err != nil {
		return fmt.Errorf("set idle_in_transaction_session_timeout on the archive database: %w", err)
	}
	fmt.Printf("pgbouncer: idle_in_transaction_session_timeout = %s set on the archive database (README: what a pooler needs)\n", lease)
	return nil
}
