package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/internal/ingest"
	"github.com/fitsarchive/agentd/internal/journal"
	"github.com/fitsarchive/agentd/internal/lockfile"
	"github.com/fitsarchive/agentd/internal/preview"
	"github.com/fitsarchive/agentd/internal/schema"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/queue"
	"github.com/fitsarchive/agentd/systemd"
)

const usageText = `Services the archive's work queues until stopped (SIGTERM/SIGINT: stop claiming, let
running items finish within --grace, release the rest and any row still claimed under this
agent, exit 0; with the database unreachable, log what is left claimed and exit 1 at most
10 s after the grace). Each worker holds the
lock file <lock-dir>/<queue>-<name>-<i>.lock for its whole life; a held lock makes agentd
refuse to start (exit 5). With no queue configured agentd makes no database connection.

The queues: ingest (record a file, queue its calibration and, on the archive, preview work;
--make-previews makes the preview while ingesting), preview (make a FITS file's preview under
the previews directory) and calcache (recompute an observation's calibrations; one worker
per CPU unless a count is given: the work is the database server's).

With [storage] configured (or --storage), agentd also watches the md mirrors: a mirror left
on its write-mostly EBS member gets a blank instance-store SSD added (observe-only: logged,
not done). That needs no database, so it works while PostgreSQL is down.

examples:
  agentd --queue ingest --workers 3 --name rebuild --empty
  agentd --queue calcache --queue preview:2 --name archive
  agentd --config /etc/agentd/agentd.toml
  agentd --name storage --storage enabled`

// queueFlag collects repeated --queue NAME[:WORKERS].
type queueFlag []string

func (q *queueFlag) String() string     { return strings.Join(*q, ",") }
func (q *queueFlag) Set(v string) error { *q = append(*q, v); return nil }

type options struct {
	configPath, dbURL, storageRoot, role, name, lockDir, statePath, socket, logLevel string
	storageMode, calcacheRules, metricsAddr, pooler                                  string
	queues                                                                           queueFlag
	workers                                                                          int
	empty, fastRebuild, makePreviews, noQueues                                       bool
	grace, lease, foreignLease, progressEvery                                        time.Duration
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	out := cli.Output{Stdout: stdout, Stderr: stderr, Classes: exitClasses}
	fs := flag.NewFlagSet("agentd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.configPath, "config", "", "config file (default "+config.DefaultPath+" when it exists; $AGENTD_CONFIG)")
	fs.StringVar(&o.dbURL, "database-url", "", "PostgreSQL URL (default: $DATABASE_URL, config, PG* variables)")
	fs.StringVar(&o.pooler, "pooler", "", "what sits between agentd and PostgreSQL: pgbouncer (transaction pooling: no prepared statements, queues polled), or nothing (default: config pooler, $AGENTD_POOLER)")
	fs.StringVar(&o.storageRoot, "storage-root", "", "root of the file store")
	fs.StringVar(&o.role, "role", "", "archive or summit (archive also queues calcache work)")
	fs.StringVar(&o.name, "name", "", "names the locks, the state file, the socket and the logs (default agentd)")
	fs.Var(&o.queues, "queue", "serve this queue: NAME or NAME:WORKERS (repeatable; ingest, preview, calcache)")
	fs.BoolVar(&o.noQueues, "no-queues", false, "serve no queue, whatever the config and environment say (the storage agent's unit)")
	fs.IntVar(&o.workers, "workers", 0, "workers for each --queue given without a count (default 1)")
	fs.BoolVar(&o.empty, "empty", false, "exit 0 once nothing is pending and no live lease remains")
	fs.BoolVar(&o.fastRebuild, "fast-rebuild", false, "skip work that only matters in normal operation (rebuilds)")
	fs.BoolVar(&o.makePreviews, "make-previews", false, "make each FITS file's preview while ingesting it, instead of queueing it (archive) or not making it (summit)")
	fs.StringVar(&o.lockDir, "lock-dir", "", "directory of the worker lock files: private to the agent's user (default /run/agentd/<name>/locks)")
	fs.StringVar(&o.statePath, "state", "", "bbolt state file (default /var/lib/agentd/<name>.db)")
	fs.StringVar(&o.socket, "socket", "", "control socket (default /run/agentd/<name>/agentd.sock)")
	fs.DurationVar(&o.grace, "grace", 0, "at shutdown, how long running items may take to finish (default 30s)")
	fs.DurationVar(&o.lease, "lease", 0, "how long a claim lives without a heartbeat (default 60s)")
	fs.DurationVar(&o.foreignLease, "foreign-lease", 0, "how long a row FitsStorage's own worker set in progress stays its own before it is rescued (default 1h)")
	fs.StringVar(&o.calcacheRules, "calcache-rules", "", "directory of calibration rules files (*.yml) replacing the built-in ones (default: config calcache_rules)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this host:port (default: config metrics_addr, off)")
	fs.StringVar(&o.storageMode, "storage", "", "the md mirror watcher: off, observe-only or enabled (default: config [storage] mode, off)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.progressEvery, "progress-every", 30*time.Second, "with --empty, log each queue's progress (done, rate, pending, time left) this often")
	ran := false
	root := &cobra.Command{
		Use:           "agentd [flags]",
		Short:         "service the archive's work queues and watch the md mirrors",
		Long:          "agentd: service the archive's work queues and watch the md mirrors.\n\n" + usageText,
		Version:       cli.Version(),
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(c *cobra.Command, _ []string) error {
			ran = true
			set := map[string]bool{}
			c.Flags().Visit(func(f *pflag.Flag) { set[f.Name] = true })
			cfg, err := resolve(o, set, getenv)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
				return cli.Usagef("--log-level: %v", err)
			}
			// Under journald: the level as the entry's priority, no timestamps (journald has them).
			toJournal := stderr == io.Writer(os.Stderr) && systemd.StderrIsJournal()
			logger := slog.New(systemd.NewLogHandler(stderr, toJournal, &slog.HandlerOptions{Level: level})).With("agent", cfg.Agentd.Name)
			return serve(ctx, cfg, getenv, logger, o.progressEvery)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("agentd {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	root.Flags().AddGoFlagSet(fs)
	root.SetArgs(cli.ModernizeArgs("agentd", args, stderr))
	err := root.Execute()
	if err == nil {
		return cli.ExitOK
	}
	var coded *cli.Error
	if !ran && !errors.As(err, &coded) {
		err = cli.Usagef("%v", err) // cobra's own: an argument where none is taken
	}
	return out.Fail("agentd", err)
}

// resolve applies flags over the config file and environment.
func resolve(o options, set map[string]bool, getenv func(string) string) (config.Config, error) {
	path, explicit := o.configPath, o.configPath != ""
	if !explicit && getenv("AGENTD_CONFIG") != "" {
		path, explicit = getenv("AGENTD_CONFIG"), true
	}
	cfg, err := config.Load(path, explicit, getenv)
	if err != nil {
		return cfg, err
	}
	str := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	str("database-url", &cfg.DatabaseURL, o.dbURL)
	str("pooler", &cfg.Pooler, o.pooler)
	str("storage-root", &cfg.StorageRoot, o.storageRoot)
	str("role", &cfg.Role, o.role)
	str("name", &cfg.Agentd.Name, o.name)
	str("lock-dir", &cfg.Agentd.LockDir, o.lockDir)
	str("state", &cfg.Agentd.State, o.statePath)
	str("socket", &cfg.Agentd.Socket, o.socket)
	str("storage", &cfg.Storage.Mode, o.storageMode)
	str("calcache-rules", &cfg.CalcacheRules, o.calcacheRules)
	str("metrics-addr", &cfg.Agentd.MetricsAddr, o.metricsAddr)
	if set["empty"] {
		cfg.Agentd.Empty = o.empty
	}
	if set["fast-rebuild"] {
		cfg.Agentd.FastRebuild = o.fastRebuild
	}
	if set["make-previews"] {
		cfg.Agentd.MakePreviews = o.makePreviews
	}
	if set["grace"] {
		cfg.Agentd.Grace.Duration = o.grace
	}
	if set["lease"] {
		cfg.Agentd.Lease.Duration = o.lease
	}
	if set["foreign-lease"] {
		cfg.Agentd.ForeignLease.Duration = o.foreignLease
	}
	if o.noQueues && len(o.queues) > 0 {
		return cfg, errors.New("--no-queues and --queue contradict each other")
	}
	if len(o.queues) > 0 {
		cfg.Agentd.Queues = map[string]config.QueueConfig{}
		for _, q := range o.queues {
			parsed, err := config.ParseQueues(q)
			if err != nil {
				return cfg, fmt.Errorf("--queue %s: %w", q, err)
			}
			for name, qc := range parsed {
				switch {
				case !strings.Contains(q, ":") && o.workers > 0:
					qc.Workers = o.workers
				case !strings.Contains(q, ":") && name == "calcache":
					// Its load is on the database server: one worker per CPU of this host.
					qc.Workers = runtime.NumCPU()
				}
				cfg.Agentd.Queues[name] = qc
			}
		}
	} else if set["workers"] {
		for name := range cfg.Agentd.Queues {
			cfg.Agentd.Queues[name] = config.QueueConfig{Workers: o.workers}
		}
	}
	if o.noQueues {
		cfg.Agentd.Queues = nil // the storage agent's unit: whatever the shared config names
	}
	if strings.ContainsAny(cfg.Agentd.Name, "/ ") || cfg.Agentd.Name == "" {
		return cfg, fmt.Errorf("--name %q: use letters, digits, - and _", cfg.Agentd.Name)
	}
	specs := queue.Specs()
	for name := range cfg.Agentd.Queues {
		if _, ok := specs[name]; !ok {
			return cfg, fmt.Errorf("%w %q: known queues are ingest, preview and calcache", queue.ErrUnknownQueue, name)
		}
	}
	return cfg, cfg.Validate()
}

// storageRootReady checks that the queue name's workers can read the file store.
func storageRootReady(cfg config.Config, name string) error {
	if cfg.StorageRoot == "" {
		return cli.WithCode(cli.ExitUsage, fmt.Errorf("the %s queue needs a storage root: --storage-root or storage_root in the config", name))
	}
	if fi, err := os.Stat(cfg.StorageRoot); err != nil || !fi.IsDir() {
		return cli.WithCode(cli.ExitConnect, fmt.Errorf("storage root %s is not a readable directory; mount it or fix --storage-root", cfg.StorageRoot))
	}
	return nil
}

// previewStore opens the storage root and the previews directory (created when missing).
func previewStore(cfg config.Config, logger *slog.Logger) (*preview.Store, func(), error) {
	dir := cfg.PreviewsPath()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("previews directory %s: %w; create it or fix previews_dir", dir, err))
	}
	storage, err := os.OpenRoot(cfg.StorageRoot)
	if err != nil {
		return nil, nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("storage root %s: %w; mount it or fix --storage-root", cfg.StorageRoot, err))
	}
	previews, err := os.OpenRoot(dir)
	if err != nil {
		storage.Close()
		return nil, nil, cli.WithCode(cli.ExitConnect, fmt.Errorf("previews directory %s: %w; create it or fix previews_dir", dir, err))
	}
	store := &preview.Store{Storage: storage, Previews: previews}
	// What writers killed mid-preview left (any host's: the directory is shared), once an
	// hour old; a failure to clean is worth a warning, not a refusal to serve.
	if n, err := store.CleanTemp(time.Now().Add(-time.Hour)); err != nil {
		logger.Warn("previews: could not clean the temporary directory", "err", err)
	} else if n > 0 {
		logger.Info("previews: removed what interrupted writers left", "files", n)
	}
	return store, func() { storage.Close(); previews.Close() }, nil
}

// serve runs the daemon with resolved settings until ctx ends (or the queues are empty).
func serve(ctx context.Context, cfg config.Config, getenv func(string) string, logger *slog.Logger, progressEvery time.Duration) error {
	a := cfg.Agentd
	names := make([]string, 0, len(a.Queues))
	for name := range a.Queues {
		names = append(names, name)
	}
	sort.Strings(names)

	// Locks first: a second agentd of the same name must not touch anything.
	var locks []*lockfile.Lock
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	for _, name := range names {
		for i := 0; i < a.Queues[name].Workers; i++ {
			l, err := lockfile.Acquire(filepath.Join(a.LockPath(), fmt.Sprintf("%s-%s-%d.lock", name, a.Name, i)))
			if err != nil {
				return cli.WithCode(cli.ExitRefused, err)
			}
			locks = append(locks, l)
		}
	}
	st, err := state.Open(a.StatePath(), 2*time.Second)
	if errors.Is(err, state.ErrLocked) {
		return cli.WithCode(cli.ExitRefused, err)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	status := newStatus(cfg, st, logger)
	if err := status.listen(a.SocketPath()); err != nil {
		return err
	}
	defer status.close()

	// systemd: the watchdog's supervisor (when WatchdogSec= asks for one), fed by every
	// long-running loop; READY=1 once the state is open and the socket bound, before the
	// database, whose state goes in STATUS=.
	notifier := systemd.NewNotifier()
	var sup *systemd.Supervisor
	if notifier.Watchdog() > 0 {
		sup = systemd.NewSupervisor(logger)
	}

	if cfg.Storage.Mode != config.StorageOff {
		rescan := cfg.Storage.Rescan.Duration
		if rescan <= 0 {
			rescan = 30 * time.Second
		}
		// A look runs several commands (mdadm, wipefs), each bounded by the exec runner's
		// timeout: ten minutes covers a slow one without a restart mid-command.
		beat, unregister := sup.Register("storage watcher", 2*rescan+10*time.Minute)
		defer unregister()
		watcher := storagewatch.New(cfg.Storage, storagewatch.Options{DevRoot: "/", Beat: beat}, st, hostexec.Exec{Logger: logger}, logger)
		status.setStorage(watcher)
		watchCtx, stopWatch := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		go func() { // owner: serve; ends when watchCtx ends
			defer close(watchDone)
			_ = watcher.Run(watchCtx)
		}()
		defer func() { stopWatch(); <-watchDone }()
		logger.Info("watching md mirrors", "mode", cfg.Storage.Mode, "arrays", cfg.Storage.Arrays, "candidates", cfg.Storage.Candidates)
	}

	dbs := &dbState{}
	if len(names) > 0 {
		status.setDB(dbs)
	}
	var met *metrics
	if a.MetricsAddr != "" {
		met = newMetrics(status)
		stopMetrics, err := serveMetrics(ctx, a.MetricsAddr, met, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	if err := notifier.Ready(status.statusLine()); err != nil {
		logger.Warn("systemd: could not say READY", "err", err)
	}
	hostCtx, stopHost := context.WithCancel(context.Background())
	var host sync.WaitGroup
	defer func() { stopHost(); host.Wait() }()
	if sup != nil {
		every := notifier.Watchdog() / 3
		logger.Info("systemd watchdog: pinging while every loop turns", "watchdog", notifier.Watchdog(), "every", every)
		host.Add(1)
		go func() { defer host.Done(); sup.Run(hostCtx, every, notifier.Ping) }() // owner: serve; ends with hostCtx
	}
	host.Add(1)
	go func() { defer host.Done(); status.notifyLoop(hostCtx, ctx, notifier, sup, a.Grace.Duration) }() // owner: serve; ends with hostCtx

	if len(names) == 0 {
		// Nothing to serve: no database connection at all (the storage agent will run here
		// while the database is down).
		logger.Info("no queue configured; not connecting to the database")
		if a.Empty && cfg.Storage.Mode == config.StorageOff {
			return nil
		}
		<-ctx.Done()
		return nil
	}
	hostname, _ := os.Hostname()
	holder := fmt.Sprintf("%s/%d/%s", hostname, os.Getpid(), a.Name)
	total := 0
	for _, n := range names {
		total += a.Queues[n].Workers
	}
	pc, err := agentPoolConfig(cfg, holder, total, getenv)
	if err != nil {
		return cli.WithCode(cli.ExitUsage, err)
	}
	// The database: waited for with backoff while it is down (the storage watcher and the
	// socket run meanwhile); only what a retry cannot fix ends the agent.
	db, err := connect(ctx, pc, dbs, notifier, status.statusLine, logger)
	if err != nil || db == nil {
		return err // nil: stopped while waiting
	}
	defer db.Close()
	// The database may restart right after the connection (a fleet starting while it does):
	// a transient failure here is waited out as at connect, not an exit.
	if err := retryTransient(ctx, logger, "schema check", func() error { return schema.Check(ctx, db) }); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("database %q: %w", pc.ConnConfig.Database, err)
	}

	// The calibration rules: for the calcache queue, and for an archive's ingest, which
	// queues the observations a new calibration serves. A rules file that does not fit
	// the database stops the agent here, before any item is taken (exit 4).
	var rules *calcache.Rules
	if slices.Contains(names, "calcache") || (slices.Contains(names, "ingest") && cfg.Role == config.RoleArchive && !a.FastRebuild) {
		err = retryTransient(ctx, logger, "loading the calibration rules", func() (err error) {
			rules, err = calcache.Load(ctx, db, cfg.CalcacheRules)
			return err
		})
		switch {
		case errors.Is(err, calcache.ErrRulesFile):
			return cli.WithCode(cli.ExitUsage, err)
		case err != nil:
			return cli.WithCode(cli.ExitWrong, err)
		}
		logger.Info("calibration rules loaded", "from", rules.Source, "sets", len(rules.Sets()))
	}

	owner := newUUID()
	var workers []queue.Workers
	for _, name := range names {
		spec := queue.Specs()[name]
		w := queue.Workers{Spec: spec, Count: a.Queues[name].Workers}
		if name != "calcache" { // the calibration cache is the database's alone
			if err := storageRootReady(cfg, name); err != nil {
				return err
			}
		}
		switch name {
		case "calcache":
			w.Handler = (&calcache.Worker{DB: db, Rules: rules}).Handle
		case "preview":
			store, closeStore, err := previewStore(cfg, logger)
			if err != nil {
				return err
			}
			defer closeStore()
			w.Handler = (&preview.Worker{DB: db, Store: store, Logger: logger}).Handle
		case "ingest":
			icfg := ingest.Config{
				DB: db, Root: cfg.StorageRoot,
				Archive: cfg.Role == config.RoleArchive, FastRebuild: a.FastRebuild, Logger: logger, CalcacheRules: rules,
			}
			switch {
			case a.MakePreviews:
				store, closeStore, err := previewStore(cfg, logger)
				if err != nil {
					return err
				}
				defer closeStore()
				icfg.Previews, icfg.PreviewStore = ingest.PreviewsInline, store
			case cfg.Role == config.RoleArchive:
				icfg.Previews = ingest.PreviewsQueued
			}
			ing, err := ingest.New(icfg)
			if err != nil {
				return cli.WithCode(cli.ExitConnect, fmt.Errorf("storage root %s: %w; mount it or fix --storage-root", cfg.StorageRoot, err))
			}
			defer ing.Close()
			w.Handler = ing.Handle
		}
		workers = append(workers, w)
	}
	poolCfg := queue.PoolConfig{
		DB: db, Owner: owner, Holder: holder, Lease: a.Lease.Duration, ForeignLease: a.ForeignLease.Duration, Grace: a.Grace.Duration,
		Empty: a.Empty, Queues: workers, Journal: journal.Of(st), Logger: logger,
		OnEvent: status.event, Liveness: sup, NoListen: cfg.Polled(),
	}
	if met != nil {
		poolCfg.Observer = met
	}
	pool := queue.NewPool(poolCfg)
	specs := make([]queue.Spec, len(workers))
	for i, w := range workers {
		specs[i] = w.Spec
	}
	dbs.use(db, specs)
	status.setPool(pool)
	// A spot host: its notices stop claims (rebalance) or the agent (interruption).
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	spotState := startSpot(hostCtx, cfg.Spot, pool, notifier, stopRun, logger, &host)
	status.setSpot(spotState)
	logger.Info("serving", "queues", names, "holder", holder, "empty", a.Empty)
	if a.Empty && progressEvery > 0 {
		progressCtx, stopProgress := context.WithCancel(ctx)
		progressDone := make(chan struct{})
		go func() { // owner: serve; ends when the pool has returned
			defer close(progressDone)
			logProgress(progressCtx, db, pool, logger, progressEvery)
		}()
		defer func() { stopProgress(); <-progressDone }()
	}
	runErr := pool.Run(runCtx)
	if runCtx.Err() == nil {
		_ = notifier.Stopping("done: every queue is empty")
		if runErr == nil && cfg.Spot.PoweroffWhenEmpty && spotState != nil {
			powerOff(context.WithoutCancel(ctx), hostexec.Exec{Logger: logger}, logger)
		}
	}
	for _, q := range pool.State() {
		c := q.Counts
		logger.Info("stopped", "queue", q.Queue, "completed", c[queue.OutcomeCompleted], "failed", c[queue.OutcomeFailed],
			"deferred", c[queue.OutcomeDeferred], "released", c[queue.OutcomeReleased], "lost", c[queue.OutcomeLost],
			"per_second", fmt.Sprintf("%.1f", q.Rate), "seconds", fmt.Sprintf("%.1f", q.Seconds))
	}
	return runErr
}

// logProgress logs, every period, each queue's figures: what this agent ended, its rate,
// what is pending in the whole queue, and the time left at that rate.
func logProgress(ctx context.Context, db *pgxpool.Pool, pool *queue.Pool, logger *slog.Logger, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, q := range pool.State() {
			c := q.Counts
			args := []any{"queue", q.Queue, "completed", c[queue.OutcomeCompleted], "failed", c[queue.OutcomeFailed],
				"deferred", c[queue.OutcomeDeferred], "per_second", fmt.Sprintf("%.1f", q.Rate)}
			if pending, err := queue.Pending(ctx, db, queue.Specs()[q.Queue]); err == nil {
				args = append(args, "pending", pending)
				if q.Rate > 0 {
					args = append(args, "left", time.Duration(float64(pending)/q.Rate*float64(time.Second)).Round(time.Second).String())
				}
			}
			logger.Info("progress", args...)
		}
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// agentPoolConfig is the pool of an agent with workers workers: one connection each and
// four for the queue's own loops. A stopped agent (SIGSTOP, a frozen VM) holds no row lock
// for longer than its lease: the server ends a transaction left idle that long, as the
// agent's claims are rescued after it. Through PgBouncer, which refuses startup parameters
// it does not know, set it on the agents' role instead (README).
func agentPoolConfig(cfg config.Config, holder string, workers int, getenv func(string) string) (*pgxpool.Config, error) {
	pc, err := cfg.PoolConfig(holder, getenv)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(workers + 4)
	// An operation whose context ends (a claim's, a heartbeat's deadline) keeps its
	// connection when the server answers within 10 s, instead of closing it
	// mid-statement (pgx's default).
	//   - Direct, the server is asked to cancel the statement: its answer comes at once.
	//   - Through a transaction pooler, the statement is left to finish (the queue's
	//     statements are bounded on the server: statement_timeout, lock_timeout). A client
	//     that gives up while it waits in the pooler's queue is often handed a server just
	//     then; closing it then makes PgBouncer drop that server connection, which it
	//     replaces one login at a time. After a database restart, a fleet whose clients gave
	//     up that way shrank PgBouncer's 40 server connections to 7 and kept them there. No
	//     cancel request either: Debian 12's PgBouncer (1.18) crashes ("bad client state")
	//     when a cancel's connection closes as soon as the statement has ended, as pgx's does.
	// Without an answer within 10 s the connection is closed all the same: a stop (its grace
	// 30 s by default) does not wait long for an unreachable server.
	const deadline = 10 * time.Second
	pc.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		if cfg.Pooler != "" {
			return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn(), DeadlineDelay: deadline}
		}
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: deadline}
	}
	if cfg.Pooler == "" {
		pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(cfg.Agentd.Lease.Milliseconds(), 10)
	}
	return pc, nil
}
