package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/filenames"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/queue"
)

// queueRow adds a queue row directly, as a hostile or broken enqueue could.
func (b testBundle) queueRow(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := b.db.Exec(context.Background(), `INSERT INTO ingestqueue (filename, path, sortkey) VALUES ($1, $2, $3)`,
		name, dir, filenames.SortKey(name)); err != nil {
		t.Fatal(err)
	}
}

// Nothing outside the storage root is read: not through a symlink in the tree (a root-only
// file elsewhere), not through ".." in a queue row; a FIFO in place of a file fails its item
// at once instead of hanging the worker. A symlink that stays inside the root is fine.
func TestIngestStaysInsideTheStorageRoot(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	outside := t.TempDir()
	if _, err := sample.Tree(outside, sample.Options{Nights: 1}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "2020", "20200101", "N20200101S0001.fits")
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("sample tree layout changed: %v", err)
	}
	old := time.Now().Add(-time.Hour)
	writeFile(t, b.root, "inside/N20200102S0001.fits", "not FITS but inside", old)
	os.MkdirAll(filepath.Join(b.root, "links"), 0o755)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(secret, filepath.Join(b.root, "links", "N20200101S0001.fits")))                          // out of the root
	must(os.Symlink("../inside/N20200102S0001.fits", filepath.Join(b.root, "links", "N20200102S0001.fits"))) // stays inside
	must(syscall.Mkfifo(filepath.Join(b.root, "N20200103S0001.fits"), 0o644))
	b.queueRow(t, "links", "N20200101S0001.fits")
	b.queueRow(t, "links", "N20200102S0001.fits")
	b.queueRow(t, "", "N20200103S0001.fits")
	rel, _ := filepath.Rel(b.root, filepath.Dir(secret))
	b.queueRow(t, rel, "N20200101S0001.fits") // a path with ".." out of the root
	b.queueRow(t, "../"+filepath.Base(outside)+"/2020/20200101", "N20200101S0002.fits")

	done := make(chan map[string]error, 1)
	go func() { done <- b.drain(t) }()
	var errs map[string]error
	select {
	case errs = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ingest hangs (a FIFO opened for reading?)")
	}
	if n := b.count(t, `SELECT count(*) FROM header WHERE object IS NOT NULL`); n != 0 {
		t.Fatalf("%d headers written: a file outside the root was read", n)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE filename LIKE 'N20200101%'`); n != 0 {
		t.Fatalf("%d diskfiles of files outside the root", n)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE filename = 'N20200102S0001.fits' AND path = 'links'`); n != 1 {
		t.Fatalf("the symlink inside the root was not ingested: errors %v", errs)
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue WHERE fail_dt < '9999-12-31'`); n != 4 {
		t.Fatalf("%d failed items, want 4 (two symlinks or paths out of the root, one ..-path, the FIFO): %v", n, errs)
	}
	for label, err := range errs {
		if !strings.Contains(err.Error(), "escapes") && !strings.Contains(err.Error(), "not inside the storage root") &&
			!strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s failed with %v; want it to say it left the root or is not a regular file", label, err)
		}
	}
}

// A .bz2 that expands past the cap (a 242-byte file of 300 MiB of zeros, far beyond
// MaxRatio × its size) fails its item with ErrTooLarge, marked permanent, instead of
// pinning a worker; nothing is recorded.
func TestDecompressionBombFailsItsItem(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Minute)
	bomb, err := os.ReadFile("testdata/zeros300M.fits.bz2")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, b.root, "N20200101S0001.fits.bz2", string(bomb), time.Now().Add(-time.Hour))
	b.enqueueAll(t)
	errs := b.drain(t)
	err = errs["N20200101S0001.fits.bz2"]
	if !errors.Is(err, ErrTooLarge) || queue.Transient(err) {
		t.Fatalf("ingest of a bzip2 bomb = %v; want ErrTooLarge, not transient", err)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != 0 {
		t.Fatalf("%d diskfiles recorded", n)
	}
}
