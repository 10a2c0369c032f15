package enqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// tree writes empty files at the given paths (relative to a new root) and returns the root.
func tree(t *testing.T, paths ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type row struct {
	filename, path, sortkey string
	force, forceMD5         bool
	after                   *time.Time
}

func rows(t *testing.T, pool *pgxpool.Pool) map[string]row {
	t.Helper()
	rs, err := pool.Query(context.Background(), `SELECT filename, path, sortkey, force, force_md5, after FROM ingestqueue`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]row{}
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.filename, &r.path, &r.sortkey, &r.force, &r.forceMD5, &r.after); err != nil {
			t.Fatal(err)
		}
		out[filepath.Join(r.path, r.filename)] = r
	}
	return out
}

func TestIngestWalksTreeAppliesRulesAndSkipsPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	root := tree(t,
		"N20200101S0001.fits",
		"2020/N20200102S0002.fits.bz2",
		"2020/jan/N20200103S0003.fits",
		"2020/20200103_GN-2020A-Q-1_obslog.txt",
		"N20200101S0001_tmp.fits",
		"N20200101S0001.jpg",
		"notes.txt",
	)
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Seen != 7 || sum.Added != 4 || sum.AlreadyPending != 0 {
		t.Fatalf("summary = %+v, want seen 7, added 4", sum)
	}
	if sum.Skipped["temporary"] != 1 || sum.Skipped["preview"] != 1 || sum.Skipped["not-data"] != 1 {
		t.Fatalf("skipped = %v", sum.Skipped)
	}
	got := rows(t, pool)
	r, ok := got["2020/N20200102S0002.fits.bz2"]
	if !ok || r.path != "2020" || r.sortkey != "z202001020002" {
		t.Fatalf("bz2 row = %+v (present %v)", r, ok)
	}
	if got["N20200101S0001.fits"].path != "" {
		t.Fatalf("top-level path = %q, want empty", got["N20200101S0001.fits"].path)
	}

	// Again: everything is already pending, nothing added, no error.
	sum, err = Ingest(ctx, pool, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 0 || sum.AlreadyPending != 4 {
		t.Fatalf("second run = %+v, want added 0, already pending 4", sum)
	}
	if n := len(rows(t, pool)); n != 4 {
		t.Fatalf("%d queue rows after a second run, want 4", n)
	}
}

// A batch that meets a pending name is rolled back whole on the direct COPY path; the run
// must redo it on the careful path, add exactly the new names, and stay on that path.
func TestIngestMixOfPendingAndNewNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	root := tree(t, "a/N20200101S0001.fits", "a/N20200101S0003.fits", "a/N20200101S0005.fits")
	if _, err := Ingest(ctx, pool, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	// New names sort before, between and after the pending ones, so every batch of two
	// holds a pending name and a new one.
	for _, p := range []string{"a/N20200101S0000.fits", "a/N20200101S0002.fits", "a/N20200101S0004.fits", "a/N20200101S0006.fits"} {
		if err := os.WriteFile(filepath.Join(root, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 2, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 4 || sum.AlreadyPending != 3 || sum.Batches != 4 {
		t.Fatalf("summary = %+v, want added 4, already pending 3 in 4 batches", sum)
	}
	got := rows(t, pool)
	if len(got) != 7 {
		t.Fatalf("%d queue rows, want 7", len(got))
	}
	// Columns a run does not set are not sent: the table's defaults fill them.
	if n := got["a/N20200101S0006.fits"]; n.forceMD5 || n.after != nil {
		t.Fatalf("new row %+v: force_md5 and after should keep their defaults", n)
	}
	if !got["a/N20200101S0006.fits"].force || got["a/N20200101S0001.fits"].force {
		t.Fatalf("force on new rows only expected: %+v / %+v", got["a/N20200101S0006.fits"], got["a/N20200101S0001.fits"])
	}
}

func TestIngestFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	root := tree(t, "a/N20261125S0001.fits", "a/N20261124S0001.fits", "b/N20261120S0001.fits", "b/old_N20261125S0009.fits")
	old := now.Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(root, "b/old_N20261125S0009.fits"), old, old); err != nil {
		t.Fatal(err)
	}
	re, err := FileRE("twoday", now)
	if err != nil {
		t.Fatal(err)
	}
	after := now.Add(time.Hour)
	sum, err := Ingest(ctx, pool, Options{Root: root, FileRE: re, Now: func() time.Time { return time.Now() }, NewFiles: 3,
		Force: true, ForceMD5: true, After: after})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, pool)
	if len(got) != 2 || sum.Skipped["file-re"] != 1 || sum.Skipped["newfiles"] != 1 {
		t.Fatalf("rows %v, summary %+v; want the two files of the last two days", got, sum)
	}
	r := got["a/N20261125S0001.fits"]
	if !r.force || !r.forceMD5 || r.after == nil || !r.after.Equal(after) {
		t.Fatalf("row = %+v, want force, force_md5 and after set", r)
	}

	// --path starts lower in the tree.
	pool2 := pgtest.Pool(t, pgtest.NewDB(t))
	if _, err := Ingest(ctx, pool2, Options{Root: root, Path: "b"}); err != nil {
		t.Fatal(err)
	}
	got = rows(t, pool2)
	if _, ok := got["b/N20261120S0001.fits"]; len(got) != 2 || !ok {
		t.Fatalf("--path b enqueued %v", got)
	}
}

func TestIngestBadRoot(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	root := tree(t, "x/N20200101S0001.fits")
	for _, o := range []Options{
		{Root: filepath.Join(root, "missing")},
		{Root: ""},
		{Root: root, Path: "nope"},
		{Root: root, Path: "x/N20200101S0001.fits"},
	} {
		if _, err := Ingest(context.Background(), pool, o); !errors.Is(err, ErrNoStorageRoot) {
			t.Errorf("Ingest(%+v) = %v, want ErrNoStorageRoot", o, err)
		}
	}
	if _, err := Ingest(context.Background(), pool, Options{Root: root, Path: "../etc"}); !errors.Is(err, ErrBadPath) {
		t.Errorf("path ../etc: %v, want ErrBadPath", err)
	}
}

func TestFileREShorthands(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	re, err := FileRE("fourday", now)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"N20260301S0001.fits": true, "N20260226S0001.fits": true, "N20260225S0001.fits": false,
	} {
		if re.MatchString(name) != want {
			t.Errorf("fourday matches %s = %v, want %v", name, !want, want)
		}
	}
	if _, err := FileRE("(", now); err == nil {
		t.Error("bad regex accepted")
	}
}

// An interrupted run (the operator's ^C) stops every writer and the walk, returns the
// interruption, and keeps the batches that committed: they are whole and pending.
func TestIngestInterruptedKeepsCommittedBatches(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	var paths []string
	for i := 0; i < 40; i++ {
		paths = append(paths, fmt.Sprintf("d%02d/N20200101S%04d.fits", i/10, i))
	}
	root := tree(t, paths...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 2, Writers: 3,
		Progress: func(Summary) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err %v, want context.Canceled", err)
	}
	got := rows(t, pool)
	if int64(len(got)) != sum.Added || sum.Added == 0 || sum.Added%2 != 0 || len(got) == len(paths) {
		t.Fatalf("interrupted run: %d rows in the queue, summary says %d added; want whole batches, some but not all", len(got), sum.Added)
	}
}

// Names travel in COPY's text format: the characters it gives a meaning to must arrive as
// they are on disk. Names that are not UTF-8 cannot be stored and are counted, not fatal.
func TestIngestUnusualNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	odd := []string{"tab\there.fits", `back\slash.fits`, "new\nline.fits", "cr\r.fits", `\..fits`, `d\N\t/N20200101S0001.fits`}
	root := tree(t, append([]string{"bad\xff.fits", "d\xfe/N20200101S0009.fits"}, odd...)...)
	sum, err := Ingest(ctx, pool, Options{Root: root, Force: true, After: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != int64(len(odd)) || sum.Skipped[SkipNotUTF8] != 2 {
		t.Fatalf("summary %+v, want %d added and 2 not-utf8", sum, len(odd))
	}
	got := rows(t, pool)
	for _, p := range odd {
		r, ok := got[p]
		if !ok {
			t.Errorf("%q not in the queue; queue holds %q", p, keys(got))
			continue
		}
		if !r.force || r.after == nil || !r.after.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
			t.Errorf("%q: %+v, want force and after 2026-01-02T03:04:05.000006Z", p, r)
		}
	}
}

func keys(m map[string]row) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Batches commit asynchronously; when Ingest returns, the WAL must be on disk up to the
// last batch's commit. The test cluster (scripts/pg.sh) sets wal_writer_delay = 10s, so
// nothing but enqueue's own flush gets it there in time.
func TestIngestReturnsWithBatchesOnDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	var delay string
	if err := pool.QueryRow(ctx, `SELECT setting FROM pg_settings WHERE name = 'wal_writer_delay'`).Scan(&delay); err != nil {
		t.Fatal(err)
	}
	if ms, _ := strconv.Atoi(delay); ms < 5000 {
		t.Skipf("wal_writer_delay is %s ms on this server: the background writer could flush in time and hide a missing flush (scripts/pg.sh sets 10s)", delay)
	}
	var paths []string
	for i := 0; i < 30; i++ {
		paths = append(paths, fmt.Sprintf("d/N20200101S%04d.fits", i))
	}
	root := tree(t, paths...)
	var lastCommit string // WAL position after the newest committed batch
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 10, Progress: func(Summary) {
		if err := pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lastCommit); err != nil {
			t.Error(err)
		}
	}})
	if err != nil || sum.Added != 30 {
		t.Fatalf("Ingest = %+v, %v", sum, err)
	}
	var onDisk bool
	var flushed string
	if err := pool.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn, pg_current_wal_flush_lsn()::text`,
		lastCommit).Scan(&onDisk, &flushed); err != nil {
		t.Fatal(err)
	}
	if !onDisk {
		t.Fatalf("Ingest returned with the WAL flushed to %s only; the last batch committed at %s", flushed, lastCommit)
	}
}

// A pool smaller than the writers (pool_max_conns=1 in the URL) must not make enqueue wait
// forever for a second connection.
// poolOf returns a pool of at most conns connections to a new test database.
func poolOf(ctx context.Context, t *testing.T, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestIngestWithOneConnectionPool(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := poolOf(ctx, t, 1)
	root := tree(t, "a/N20200101S0001.fits", "a/N20200101S0002.fits", "b/N20200101S0003.fits")
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 1, Writers: 4})
	if err != nil || sum.Added != 3 {
		t.Fatalf("Ingest on a one-connection pool = %+v, %v; want 3 added", sum, err)
	}
}

// Nothing outside the storage root is queued: a symlink to a file elsewhere is skipped and
// counted, a symlink to a directory too; a symlink inside the root is queued; --path
// through a symlinked directory that leaves the root is refused.
func TestIngestSkipsSymlinksOutOfTheRoot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, pgtest.NewDB(t))
	outside := tree(t, "N20200101S0001.fits", "night/N20200101S0002.fits")
	root := tree(t, "2020/N20200102S0001.fits")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "N20200101S0001.fits"), filepath.Join(root, "2020", "N20200101S0001.fits")))
	must(os.Symlink("N20200102S0001.fits", filepath.Join(root, "2020", "N20200102S0002.fits")))
	must(os.Symlink(filepath.Join(outside, "night"), filepath.Join(root, "night")))
	must(os.Symlink(filepath.Join(outside, "night"), filepath.Join(root, "2020", "N20200101S0005.fits"))) // a directory outside
	must(os.Symlink("../2020", filepath.Join(root, "2020", "N20200102S0003.fits")))                       // a directory inside
	sum, err := Ingest(ctx, pool, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	got := rows(t, pool)
	if len(got) != 2 || sum.Added != 2 {
		t.Fatalf("queued %v; want the file and the symlink inside the root", keys(got))
	}
	if sum.Skipped[SkipSymlinkOutside] != 2 || sum.Skipped[SkipNotAFile] != 1 {
		t.Fatalf("skipped %v; want 2 symlinks out of the root (a file, a directory) and 1 symlink to a directory inside", sum.Skipped)
	}
	if _, err := Ingest(ctx, pool, Options{Root: root, Path: "night"}); !errors.Is(err, ErrBadPath) {
		t.Fatalf("--path through a symlink out of the root = %v, want ErrBadPath", err)
	}
	if _, err := Ingest(ctx, pool, Options{Root: root, Path: "../" + filepath.Base(outside)}); !errors.Is(err, ErrBadPath) {
		t.Fatalf("--path with .. = %v, want ErrBadPath", err)
	}
}

// An enqueue analyzes the queue once its first batch has added rows (agents may be claiming
// already) and again at its end: on a database just created the queue's table has never
// been analyzed, and without statistics the claim's plan reads every pending row.
func TestIngestAnalyzesTheQueue(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := poolOf(ctx, t, 4)
	reltuples := func() float64 {
		var n float64
		if err := pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'ingestqueue'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n != -1 {
		t.Fatalf("a new database's queue has reltuples %v; want -1 (never analyzed)", n)
	}
	var paths []string
	for i := range 40 {
		paths = append(paths, fmt.Sprintf("d%d/N20200101S%04d.fits", i%4, i))
	}
	root := tree(t, paths...)
	var during []float64
	sum, err := Ingest(ctx, pool, Options{Root: root, BatchSize: 10, Writers: 2, Progress: func(s Summary) {
		if s.Added > 0 {
			during = append(during, reltuples())
		}
	}})
	if err != nil || sum.Added != 40 || len(sum.Warnings) > 0 {
		t.Fatalf("Ingest = %+v, %v; want 40 added, no warning", sum, err)
	}
	if len(during) == 0 || during[0] < 10 {
		t.Errorf("the queue's reltuples after each batch: %v; want at least the first batch's 10 from the first on", during)
	}
	if n := reltuples(); n != 40 {
		t.Errorf("after the run the queue's reltuples = %v; want 40", n)
	}
}
