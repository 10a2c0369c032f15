// Package enqueue fills the ingest queue from the storage tree: it walks the tree, applies
// the archive's name rules and the operator's filters, and inserts the names in batches with
// one NOTIFY per batch. A file that is already pending is counted, not an error.
//
// The walk feeds batches to two connections that insert side by side, each batch in one
// transaction through the queue's own Inserter (COPY straight into the queue while no name
// is pending yet, else through a staging table: see queue.Inserter). Batches commit
// asynchronously and the run flushes once at its end.
package enqueue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/filenames"
	"github.com/fitsarchive/agentd/queue"
)

var (
	// ErrNoStorageRoot is returned when the storage root (or --path under it) does not exist
	// or is not a directory.
	ErrNoStorageRoot = errors.New("storage root not found")
	// ErrBadPath is returned when --path leaves the storage root.
	ErrBadPath = errors.New("path must stay inside the storage root")
	// ErrUnconfirmed is returned when the batches were committed but the database did not
	// confirm that they reached its disk: a crash of the server now could lose them.
	ErrUnconfirmed = errors.New("the database did not confirm that the enqueued names are on disk")
)

// SkipNotUTF8 counts the names (or directories) that are not valid UTF-8: the archive
// database stores names as UTF-8 text, so such a file cannot be queued; rename it.
const SkipNotUTF8 = "not-utf8"

// Skips of entries that are not files of the storage tree: a symlink whose target lies
// outside the storage root (or does not exist), and a symlink to something that is not a
// regular file. Nothing outside the root is ever queued.
const (
	SkipSymlinkOutside = "symlink-outside-root"
	SkipNotAFile       = "not-a-file"
)

// DefaultBatch is the number of names inserted per transaction.
const DefaultBatch = 10000

// DefaultWriters is the number of connections that insert batches side by side.
const DefaultWriters = 2

// Options says what to enqueue.
type Options struct {
	Root      string         // storage root
	Path      string         // start here, relative to Root ("" = everything)
	FileRE    *regexp.Regexp // only names matching (search, not anchored); nil = all
	NewFiles  int            // only files modified within this many days; 0 = all
	Force     bool           // ingest even when unchanged
	ForceMD5  bool           // compare md5 even when lastmod is unchanged
	After     time.Time      // not before this time; zero = now
	BatchSize int            // names per transaction (default DefaultBatch)
	Writers   int            // connections inserting side by side (default DefaultWriters)
	Now       func() time.Time
	// Progress, when set, is called after each batch with the running totals.
	Progress func(Summary)
}

// Summary counts what a run did.
type Summary struct {
	Seen           int64            `json:"seen"`            // files found under the start directory
	Added          int64            `json:"added"`           // new pending rows
	AlreadyPending int64            `json:"already_pending"` // names that were pending already
	Skipped        map[string]int64 `json:"skipped"`         // by rule (temporary, tiled, …) and filter
	Batches        int              `json:"batches"`
	Seconds        float64          `json:"seconds"`
	// Warnings: what went wrong without failing the run (the names are in the queue).
	Warnings []string `json:"warnings,omitempty"`
}

// finishGrace is how long a batch under way may take to finish once the run is interrupted.
const finishGrace = 10 * time.Second

// batchContext returns a context for one batch: an interruption of ctx lets the batch finish
// (so that every batch is either committed and counted, or not written) unless it takes
// longer than finishGrace. Call done when the batch is over.
func batchContext(ctx context.Context) (bctx context.Context, done func()) {
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(finishGrace, cancel) })
	return bctx, func() { stop(); cancel() } // a grace timer still running cancels nothing new
}

// batchResult is what one written batch adds to the summary.
type batchResult struct {
	names int   // names in the batch
	added int64 // rows new in the queue
	err   error
}

// Ingest walks the storage tree and fills the ingest queue.
func Ingest(ctx context.Context, pool *pgxpool.Pool, opt Options) (Summary, error) {
	start := time.Now()
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatch
	}
	if opt.Writers <= 0 {
		opt.Writers = DefaultWriters
	}
	opt.Writers = min(opt.Writers, int(pool.Config().MaxConns)) // more would wait forever
	sum := Summary{Skipped: map[string]int64{}}
	root, startDir, err := startDir(opt.Root, opt.Path)
	if err != nil {
		return sum, err
	}
	defer root.Close()

	conns := make([]*pgxpool.Conn, opt.Writers)
	for i := range conns {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return sum, fmt.Errorf("connect for enqueue: %w", err)
		}
		defer conn.Release()
		conns[i] = conn
	}

	batches := make(chan []queue.IngestItem, 2*len(conns))
	walkErr := make(chan error, 1)
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	var walked Summary // written by the walker only, read after walkErr
	walked.Skipped = map[string]int64{}
	go func() { // owner: Ingest; exits when the walk ends or walkCtx is cancelled
		defer close(batches)
		walkErr <- walk(walkCtx, opt, root, startDir, &walked, batches)
	}()

	// The writers share the batches and one Inserter: once a writer meets a name already
	// pending, all take the careful path. The first batch that adds rows is followed by an
	// ANALYZE of the queue (queue.Analyze), so that agents already claiming plan for a queue
	// with rows in it; the run's end analyzes it again.
	var ins queue.Inserter[queue.IngestItem]
	var analyzeFirst sync.Once
	var warnMu sync.Mutex
	var warnings []string // under warnMu
	warn := func(err error) {
		warnMu.Lock()
		defer warnMu.Unlock()
		warnings = append(warnings, err.Error()+" (the queue's statistics stay stale until autovacuum analyzes it: claims may be slow until then)")
	}
	results := make(chan batchResult)
	var writers sync.WaitGroup
	for _, conn := range conns {
		writers.Add(1)
		go func() { // owner: Ingest; exits when batches is closed and drained
			defer writers.Done()
			failed := false
			for batch := range batches {
				if failed || walkCtx.Err() != nil {
					if ctx.Err() != nil {
						results <- batchResult{err: ctx.Err()} // interrupted: this batch is not written
					}
					continue // drain: the run is failing
				}
				r := batchResult{names: len(batch)}
				bctx, done := batchContext(ctx)
				r.added, r.err = write(bctx, conn.Conn(), &ins, batch)
				if r.err == nil && r.added > 0 {
					analyzeFirst.Do(func() {
						if err := queue.Analyze(bctx, conn, queue.Ingest()); err != nil {
							warn(err)
						}
					})
				}
				done()
				failed = r.err != nil
				results <- r
			}
		}()
	}
	go func() { writers.Wait(); close(results) }()

	var firstErr error
	for r := range results {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				cancelWalk()
			}
			continue
		}
		sum.Added += r.added
		sum.AlreadyPending += int64(r.names) - r.added
		sum.Batches++
		if opt.Progress != nil {
			p := sum
			p.Seen = sum.Added + sum.AlreadyPending
			opt.Progress(p)
		}
	}
	if werr := <-walkErr; firstErr == nil {
		firstErr = werr
	}
	if sum.Batches > 0 {
		fctx, done := batchContext(ctx)
		if ferr := flushAny(fctx, pool, conns); ferr != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("%w: %w", ErrUnconfirmed, ferr))
		}
		done()
	}
	if firstErr != nil {
		sum.Warnings = warnings // the writers are done
		return sum, firstErr
	}
	if sum.Batches > 1 && sum.Added > 0 {
		actx, done := batchContext(ctx)
		if err := queue.Analyze(actx, conns[0], queue.Ingest()); err != nil {
			warn(err)
		}
		done()
	}
	sum.Warnings = warnings // the writers are done
	sum.Seen = walked.Seen
	sum.Skipped = walked.Skipped
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// startDir opens the storage root and checks the directory to start from (relative to
// it, slash-separated: "." for the whole tree). --path may not leave the root, not even
// through a symlinked directory.
func startDir(rootDir, sub string) (*os.Root, string, error) {
	if rootDir == "" {
		return nil, "", fmt.Errorf("%w: no storage root configured; give --storage-root or set storage_root in the config", ErrNoStorageRoot)
	}
	clean := "."
	if sub != "" {
		if filepath.IsAbs(sub) || !filepath.IsLocal(filepath.Clean(sub)) {
			return nil, "", fmt.Errorf("%w: %q", ErrBadPath, sub)
		}
		clean = filepath.ToSlash(filepath.Clean(sub))
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrNoStorageRoot, err)
	}
	st, err := root.Stat(clean)
	if err != nil {
		root.Close()
		if clean != "." && !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%w: %q: %v", ErrBadPath, sub, err) // e.g. a symlink out of the root
		}
		return nil, "", fmt.Errorf("%w: %v", ErrNoStorageRoot, err)
	}
	if !st.IsDir() {
		root.Close()
		return nil, "", fmt.Errorf("%w: %s is not a directory", ErrNoStorageRoot, filepath.Join(rootDir, clean))
	}
	return root, clean, nil
}

// walk sends accepted files in batches. Only it writes to sum. A symlink is queued only
// when it names a regular file inside the root (checked through root). The walk itself is
// filepath.WalkDir, which never follows a symlinked directory: walking through os.Root's
// fs.FS resolved every directory from the root again and cost a third of enqueue's speed
// (docs/benchmarks.md). A directory swapped for a symlink during the walk could at worst
// queue a name; ingest opens every file through os.Root and refuses it.
func walk(ctx context.Context, opt Options, root *os.Root, start string, sum *Summary, out chan<- []queue.IngestItem) error {
	dir := filepath.Join(opt.Root, filepath.FromSlash(start))
	var cutoff time.Time
	if opt.NewFiles > 0 {
		cutoff = opt.Now().Add(-time.Duration(opt.NewFiles) * 24 * time.Hour)
	}
	batch := make([]queue.IngestItem, 0, opt.BatchSize)
	var lastDir, lastRel string // the directory of the previous file, relative to the root
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return fmt.Errorf("read %s: %w", p, err)
		}
		if d.IsDir() {
			if err := ctx.Err(); err != nil {
				return err
			}
			return nil
		}
		symlink := d.Type()&fs.ModeSymlink != 0
		if !d.Type().IsRegular() && !symlink {
			return nil
		}
		sum.Seen++
		name := d.Name()
		if !utf8.ValidString(name) {
			sum.Skipped[SkipNotUTF8]++
			return nil
		}
		if ok, reason := filenames.Accept(name); !ok {
			sum.Skipped[reason]++
			return nil
		}
		if opt.FileRE != nil && !opt.FileRE.MatchString(name) {
			sum.Skipped["file-re"]++
			return nil
		}
		var info fs.FileInfo
		if symlink {
			// Followed inside the root only: os.Root refuses a target outside it.
			rel, err := filepath.Rel(opt.Root, p)
			if err != nil {
				return err
			}
			if info, err = root.Stat(rel); err != nil {
				sum.Skipped[SkipSymlinkOutside]++
				return nil
			}
			if !info.Mode().IsRegular() {
				sum.Skipped[SkipNotAFile]++
				return nil
			}
		}
		if !cutoff.IsZero() {
			if info == nil {
				if info, err = d.Info(); err != nil {
					return fmt.Errorf("stat %s: %w", p, err)
				}
			}
			if info.ModTime().Before(cutoff) {
				sum.Skipped["newfiles"]++
				return nil
			}
		}
		if dir := filepath.Dir(p); dir != lastDir {
			rel, err := filepath.Rel(opt.Root, dir)
			if err != nil {
				return err
			}
			if rel == "." {
				rel = ""
			}
			lastDir, lastRel = dir, rel
		}
		if !utf8.ValidString(lastRel) {
			sum.Skipped[SkipNotUTF8]++
			return nil
		}
		batch = append(batch, queue.IngestItem{Filename: name, Path: lastRel, Force: opt.Force, ForceMD5: opt.ForceMD5, After: opt.After})
		if len(batch) == opt.BatchSize {
			select {
			case out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]queue.IngestItem, 0, opt.BatchSize)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk storage: %w", err)
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// write adds one batch in one transaction and returns how many rows were new.
//
// The batch commits without waiting for its WAL to reach disk (synchronous_commit off, this
// transaction only); flush makes the run durable before Ingest returns, so a run that
// reports its rows added has them on disk as before, at the cost of one wait instead of
// one per batch. A server crash during a run may lose its last batches: the run fails and
// is re-run, and names already pending are skipped.
func write(ctx context.Context, conn *pgx.Conn, ins *queue.Inserter[queue.IngestItem], batch []queue.IngestItem) (int64, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin enqueue batch: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return 0, fmt.Errorf("begin enqueue batch: %w", err)
	}
	n, err := ins.InsertTx(ctx, tx, batch)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit enqueue batch: %w", err)
	}
	return n, nil
}

// flush waits until every batch committed before it, on any connection, is on disk. Its
// transaction writes one WAL record (a transactional logical message: no table, any role
// may) and commits synchronously, which makes the server flush the WAL up to its commit
// record, after all of theirs. A transaction that writes no WAL would commit without
// waiting, whatever synchronous_commit says.
func flush(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("flush enqueued batches to disk: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
		return fmt.Errorf("flush enqueued batches to disk: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_logical_emit_message(true, 'agentd.enqueue', 'flush')`); err != nil {
		return fmt.Errorf("flush enqueued batches to disk: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("flush enqueued batches to disk: %w", err)
	}
	return nil
}

// flushAny flushes on the first connection that works, the pool's last.
func flushAny(ctx context.Context, pool *pgxpool.Pool, conns []*pgxpool.Conn) error {
	var err error
	for _, c := range conns {
		if c.Conn().IsClosed() {
			continue
		}
		if err = flush(ctx, c.Conn()); err == nil {
			return nil
		}
	}
	c, aerr := pool.Acquire(ctx)
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("flush enqueued batches to disk: %w", aerr))
	}
	defer c.Release()
	return flush(ctx, c.Conn())
}

// dayShorthands are the --file-re words for "files of the last N days".
var dayShorthands = map[string]int{"today": 1, "twoday": 2, "fourday": 4, "tenday": 10, "twentyday": 20}

// FileRE compiles a --file-re value; the shorthands today, twoday, fourday, tenday and
// twentyday match the YYYYMMDD dates of the last 1, 2, 4, 10 or 20 UTC days.
func FileRE(s string, now time.Time) (*regexp.Regexp, error) {
	if n, ok := dayShorthands[s]; ok {
		dates := make([]string, n)
		for i := range dates {
			dates[i] = now.UTC().AddDate(0, 0, -i).Format("20060102")
		}
		return regexp.MustCompile(strings.Join(dates, "|")), nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("--file-re: %w", err)
	}
	return re, nil
}
