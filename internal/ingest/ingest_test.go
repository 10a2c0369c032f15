package ingest

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/enqueue"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/queue"
)

const owner = "00000000-0000-0000-0000-0000000000bb"

type testBundle struct {
	db   *pgxpool.Pool
	root string
	q    *queue.Queue
	ing  *Ingester
}

func setup(t *testing.T, lease time.Duration) testBundle {
	t.Helper()
	db := pgtest.Pool(t, pgtest.NewDB(t))
	root := t.TempDir()
	q := queue.New(db, queue.Ingest(), queue.Options{Owner: owner, Lease: lease})
	ing, err := New(Config{DB: db, Root: root, Archive: true, CalcacheRules: loadRules(t, db)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ing.Close() })
	return testBundle{db: db, root: root, q: q, ing: ing}
}

// enqueueAll fills the queue from the tree.
func (b testBundle) enqueueAll(t *testing.T) {
	t.Helper()
	if _, err := enqueue.Ingest(context.Background(), b.db, enqueue.Options{Root: b.root}); err != nil {
		t.Fatal(err)
	}
}

// drain claims and handles items until none is left; it returns the errors by file name.
func (b testBundle) drain(t *testing.T) map[string]error {
	t.Helper()
	ctx := context.Background()
	errs := map[string]error{}
	for {
		items, err := b.q.Claim(ctx, []string{"test/0"})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			return errs
		}
		it := items[0]
		res, err := b.ing.Handle(ctx, it)
		switch {
		case err != nil:
			errs[it.Label] = err
			if ferr := b.q.Fail(ctx, it, err.Error()); ferr != nil {
				t.Fatal(ferr)
			}
		case res == queue.Complete:
			if _, err := b.q.CompleteBatch(ctx, items); err != nil {
				t.Fatal(err)
			}
		case res == queue.CompletedTx:
		default:
			t.Fatalf("%s: unexpected result %+v", it.Label, res)
		}
	}
}

func (b testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIngestSampleTree(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	m, err := sample.Tree(b.root, sample.Options{Nights: 2})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) != 0 {
		t.Fatalf("ingest errors: %v", errs)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE present AND canonical`); n != len(m.Ingestable) {
		t.Fatalf("%d present canonical diskfiles, want %d", n, len(m.Ingestable))
	}
	if n := b.count(t, `SELECT count(*) FROM header`); n != len(m.FITS) {
		t.Fatalf("%d headers, want %d", n, len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM calcachequeue`); n != len(m.FITS) {
		t.Fatalf("%d calcache items on the archive, want %d", n, len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE NOT isfits`); n != len(m.Ingestable)-len(m.FITS) {
		t.Fatalf("%d non-FITS diskfiles, want %d (obslogs and the bad file)", n, len(m.Ingestable)-len(m.FITS))
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue`); n != 0 {
		t.Fatalf("%d queue rows left", n)
	}

	// A compressed file: file md5 of the stored bytes, data md5 of the decompressed stream.
	var rel string
	for _, f := range m.FITS {
		if strings.HasSuffix(f, ".bz2") {
			rel = f
			break
		}
	}
	raw, _ := os.ReadFile(filepath.Join(b.root, rel))
	plain, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var fileMD5, dataMD5, fileName string
	var dataSize int64
	var compressed bool
	err = b.db.QueryRow(context.Background(), `SELECT d.file_md5, d.data_md5, d.data_size, d.compressed, f.name
		FROM diskfile d JOIN file f ON f.id = d.file_id WHERE d.filename = $1`, filepath.Base(rel)).
		Scan(&fileMD5, &dataMD5, &dataSize, &compressed, &fileName)
	if err != nil {
		t.Fatal(err)
	}
	if fileMD5 != md5hex(raw) || dataMD5 != md5hex(plain) || dataSize != int64(len(plain)) || !compressed {
		t.Fatalf("bz2 diskfile md5 %s/%s size %d compressed %v; want %s/%s %d true",
			fileMD5, dataMD5, dataSize, compressed, md5hex(raw), md5hex(plain), len(plain))
	}
	if fileName != strings.TrimSuffix(filepath.Base(rel), ".bz2") {
		t.Fatalf("file name %q, want it without .bz2", fileName)
	}
	var instrument, obstype, binning string
	var spectroscopy bool
	err = b.db.QueryRow(context.Background(), `SELECT h.instrument, h.observation_type, h.detector_binning, h.spectroscopy
		FROM header h JOIN diskfile d ON d.id = h.diskfile_id WHERE d.filename = 'N20200101S0005.fits'`).
		Scan(&instrument, &obstype, &binning, &spectroscopy)
	if err != nil {
		t.Fatal(err)
	}
	if instrument != "GMOS-N" || obstype != "ARC" || binning != "2x2" || !spectroscopy {
		t.Fatalf("header of the arc: %s %s %s %v", instrument, obstype, binning, spectroscopy)
	}
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func writeFile(t *testing.T, root, rel, body string, mtime time.Time) {
	t.Helper()
	full := filepath.Join(root, rel)
	os.MkdirAll(filepath.Dir(full), 0o755)
	if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(full, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestUnchangedTest(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	old := time.Now().Add(-time.Hour)
	writeFile(t, b.root, "d/20200101_x_obslog.txt", "v1", old)
	b.enqueueAll(t)
	b.drain(t)
	versions := func() int { return b.count(t, `SELECT count(*) FROM diskfile`) }

	// Same mtime: unchanged without reading.
	b.enqueueAll(t)
	b.drain(t)
	if versions() != 1 {
		t.Fatalf("same mtime made %d versions, want 1", versions())
	}
	// New mtime, same content: unchanged by md5.
	newer := old.Add(time.Minute)
	os.Chtimes(filepath.Join(b.root, "d/20200101_x_obslog.txt"), newer, newer)
	b.enqueueAll(t)
	b.drain(t)
	if versions() != 1 {
		t.Fatalf("same content made %d versions, want 1", versions())
	}
	// New content: a new version, the old one neither present nor canonical.
	writeFile(t, b.root, "d/20200101_x_obslog.txt", "v2", old.Add(2*time.Minute))
	b.enqueueAll(t)
	b.drain(t)
	if versions() != 2 || b.count(t, `SELECT count(*) FROM diskfile WHERE present OR canonical`) != 1 {
		t.Fatalf("changed content: %d versions, want 2 with one present canonical", versions())
	}
	if b.count(t, `SELECT count(*) FROM diskfile WHERE present AND canonical AND file_md5 = $1`, md5hex([]byte("v2"))) != 1 {
		t.Fatal("the new content is not the present canonical version")
	}
}

func TestPlainAndCompressedAreOneFile(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	m, err := sample.Tree(b.root, sample.Options{Nights: 1})
	if err != nil {
		t.Fatal(err)
	}
	// N20200101S0003.fits.bz2 exists; put its plain twin beside it.
	var bz string
	for _, f := range m.FITS {
		if strings.HasSuffix(f, "S0003.fits.bz2") {
			bz = f
		}
	}
	raw, _ := os.ReadFile(filepath.Join(b.root, bz))
	plain, _ := io.ReadAll(bzip2.NewReader(bytes.NewReader(raw)))
	writeFile(t, b.root, strings.TrimSuffix(bz, ".bz2"), string(plain), time.Now().Add(-time.Hour))
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	if n := b.count(t, `SELECT count(*) FROM file WHERE name = 'N20200101S0003.fits'`); n != 1 {
		t.Fatalf("%d file rows for the twins, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile d JOIN file f ON f.id = d.file_id
		WHERE f.name = 'N20200101S0003.fits'`); n != 2 {
		t.Fatalf("%d diskfiles for the twins, want 2", n)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile d JOIN file f ON f.id = d.file_id
		WHERE f.name = 'N20200101S0003.fits' AND present AND canonical`); n != 1 {
		t.Fatalf("%d present canonical twins, want 1", n)
	}
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	old := time.Now().Add(-time.Hour)
	writeFile(t, b.root, "N20200101S0001.fits.bz2", "BZh91AY&SYgarbage-not-bzip2", old)
	writeFile(t, b.root, "N20200101S0002.fits", "SIMPLE  =                    T", old) // truncated FITS
	writeFile(t, b.root, "N20200101S0003.fits", "gone soon", old)
	// A real bzip2 stream cut in the middle.
	other := t.TempDir()
	m, err := sample.Tree(other, sample.Options{Nights: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.FITS {
		if strings.HasSuffix(f, ".bz2") {
			whole, _ := os.ReadFile(filepath.Join(other, f))
			writeFile(t, b.root, "N20200101S0004.fits.bz2", string(whole[:len(whole)/2]), old)
			break
		}
	}
	b.enqueueAll(t)
	os.Remove(filepath.Join(b.root, "N20200101S0003.fits"))
	errs := b.drain(t)
	for _, name := range []string{"N20200101S0001.fits.bz2", "N20200101S0004.fits.bz2"} {
		if err := errs[name]; !errors.Is(err, ErrCorrupt) {
			t.Errorf("corrupt bz2 %s: %v, want ErrCorrupt", name, err)
		}
	}
	if err := errs["N20200101S0003.fits"]; !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), filepath.Join(b.root, "N20200101S0003.fits")) {
		t.Errorf("missing file: %v, want ErrMissing with its path", err)
	}
	if _, ok := errs["N20200101S0002.fits"]; ok {
		t.Errorf("truncated FITS failed the item; want it recorded with isfits=false")
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE filename = 'N20200101S0002.fits' AND NOT isfits`); n != 1 {
		t.Errorf("truncated FITS: %d non-FITS diskfiles, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue WHERE fail_dt < '9999-12-31'`); n != 3 {
		t.Errorf("%d failed items, want 3 (nothing lost)", n)
	}
}

func TestRecentFileIsDeferred(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	writeFile(t, b.root, "20200101_x_obslog.txt", "being written", time.Now())
	b.enqueueAll(t)
	items, _ := b.q.Claim(context.Background(), []string{"t"})
	res, err := b.ing.Handle(context.Background(), items[0])
	if err != nil || res == queue.CompletedTx || res == queue.Complete {
		t.Fatalf("fresh file: %+v, %v; want a deferral", res, err)
	}
}

func TestLostLeaseWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 30*time.Millisecond)
	writeFile(t, b.root, "20200101_x_obslog.txt", "x", time.Now().Add(-time.Hour))
	b.enqueueAll(t)
	items, _ := b.q.Claim(ctx, []string{"stalled"})
	time.Sleep(60 * time.Millisecond)
	if n, err := b.q.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("rescue = %d, %v", n, err)
	}
	if _, err := b.ing.Handle(ctx, items[0]); !errors.Is(err, queue.ErrLeaseLost) {
		t.Fatalf("handle with a rescued lease = %v, want ErrLeaseLost", err)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != 0 {
		t.Fatalf("a worker without its lease wrote %d diskfiles", n)
	}
	if n := b.count(t, `SELECT count(*) FROM file`); n != 0 {
		t.Fatalf("a worker without its lease wrote %d file rows", n)
	}
}

// While a worker writes, pg_stat_activity must say which worker it is: a trigger (test only)
// records the application_name each diskfile insert runs under.
func TestWritesRunUnderTheWorkersApplicationName(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	ctx := context.Background()
	if _, err := b.db.Exec(ctx, `CREATE TABLE seen_app (name text);
		CREATE FUNCTION note_app() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO seen_app VALUES (current_setting('application_name')); RETURN NEW; END $$;
		CREATE TRIGGER note_app BEFORE INSERT ON diskfile FOR EACH ROW EXECUTE FUNCTION note_app()`); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	writeFile(t, b.root, "N20200101S0001.fits", "not fits", old)
	writeFile(t, b.root, "N20200101S0002.fits", "not fits either", old)
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	rows, err := b.db.Query(ctx, `SELECT name FROM seen_app`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "test/0" || names[1] != "test/0" {
		t.Fatalf("diskfile inserts ran under application_name %q, want the worker's holder test/0 twice", names)
	}
}

// A file's transaction is one round trip: nothing in it waits for the client, so a worker
// a region away (or slowed by its CPU) holds no row lock and, through a transaction
// pooler, no server connection for longer than the server works. The worker reaches the
// database through a proxy that adds 150 ms each way; a trigger (test only) records, at
// the item's completion (the transaction's last write), how long its transaction has run.
// More than one round trip inside it would show as at least 300 ms.
func TestIngestTransactionIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDB(t)
	admin := pgtest.Pool(t, url)
	if _, err := admin.Exec(ctx, `CREATE TABLE tx_span (filename text, ms double precision);
		CREATE FUNCTION note_span() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO tx_span VALUES (OLD.filename, extract(epoch FROM clock_timestamp() - now()) * 1000); RETURN OLD; END $$;
		CREATE TRIGGER note_span BEFORE DELETE ON ingestqueue FOR EACH ROW EXECUTE FUNCTION note_span()`); err != nil {
		t.Fatal(err)
	}
	const oneWay = 150 * time.Millisecond
	db := pgtest.Pool(t, pgtest.Delayed(t, url, oneWay))
	root := t.TempDir()
	ing, err := New(Config{DB: db, Root: root, Archive: true, CalcacheRules: loadRules(t, admin)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ing.Close() })
	b := testBundle{db: admin, root: root, q: queue.New(admin, queue.Ingest(), queue.Options{Owner: owner, Lease: time.Minute}), ing: ing}
	// A night: biases, flats and an arc that serve the science frames (calcache work), and
	// the night's log.
	if _, err := sample.Tree(root, sample.Options{Nights: 1}); err != nil {
		t.Fatal(err)
	}
	b.enqueueAll(t)
	if errs := b.drain(t); len(errs) != 0 {
		t.Fatal(errs)
	}
	rows, err := admin.Query(ctx, `SELECT filename, ms FROM tx_span ORDER BY filename`)
	if err != nil {
		t.Fatal(err)
	}
	type span struct {
		Name string
		Ms   float64
	}
	spans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[span])
	if err != nil {
		t.Fatal(err)
	}
	fits := 0
	for _, s := range spans {
		if strings.Contains(s.Name, ".fits") {
			fits++
		}
		if s.Ms >= float64(oneWay.Milliseconds()) {
			t.Errorf("the transaction of %s ran %.0f ms by its completion: it waited for the client (a round trip is %v)", s.Name, s.Ms, 2*oneWay)
		}
	}
	if fits == 0 {
		t.Fatalf("no FITS file was ingested (%v): the test proves nothing", spans)
	}
	t.Logf("transactions by their completion: %v", spans)
}

// loadRules loads the built-in calibration rules for db.
func loadRules(t *testing.T, db *pgxpool.Pool) *calcache.Rules {
	t.Helper()
	rs, err := calcache.Load(context.Background(), db, "")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
