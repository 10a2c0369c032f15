package main

import (
	"context"
	"image/jpeg"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/preview"
	"github.com/fitsarchive/agentd/internal/sample"
)

// checkPreviews holds every FITS file of m to one preview row naming a JPEG (of at most
// 1024 px) in the previews directory, and nothing left in the preview queue.
func (b testBundle) checkPreviews(t *testing.T, m sample.Manifest) {
	t.Helper()
	if n := b.count(t, `SELECT count(*) FROM previewqueue`); n != 0 {
		t.Fatalf("%d preview queue rows left", n)
	}
	rows, err := b.db.Query(context.Background(), `SELECT d.path, d.filename, p.filename FROM preview p JOIN diskfile d ON d.id = p.diskfile_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var dir, name, jpg string
		if err := rows.Scan(&dir, &name, &jpg); err != nil {
			t.Fatal(err)
		}
		seen[filepath.Join(dir, name)] = true
		if jpg != preview.Name(dir, name) {
			t.Errorf("%s/%s: preview named %s, want %s", dir, name, jpg, preview.Name(dir, name))
		}
		f, err := os.Open(filepath.Join(b.root, "previews", jpg))
		if err != nil {
			t.Fatalf("preview row without its file: %v", err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() == 0 || img.Bounds().Dx() > 1024 || img.Bounds().Dy() > 1024 {
			t.Fatalf("%s: not a preview: %v %v", jpg, err, img.Bounds())
		}
	}
	if len(seen) != len(m.FITS) {
		t.Fatalf("%d previews, want one per FITS file (%d)", len(seen), len(m.FITS))
	}
	for _, rel := range m.FITS {
		if !seen[rel] {
			t.Errorf("no preview of %s", rel)
		}
	}
}

// On the archive, ingest queues a preview per FITS file in its own transaction and
// agentd --queue preview makes them; with --make-previews ingest makes them itself from
// the same read of each file, and queues none.
func TestPreviewsQueuedThenMade(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := sample.Tree(b.root, sample.Options{Nights: 1, Infrared: true, Size: 300})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	if code := b.start(t, "i", "--queue", "ingest:2", "--empty").wait(t, 60*time.Second); code != 0 {
		t.Fatalf("ingest exit %d", code)
	}
	if n := b.count(t, `SELECT count(*) FROM previewqueue`); n != len(m.FITS) {
		t.Fatalf("%d preview items queued, want one per FITS file (%d)", n, len(m.FITS))
	}
	a := b.start(t, "p", "--queue", "preview:2", "--empty")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("preview exit %d:\n%s", code, a.stderr)
	}
	b.checkPreviews(t, m)
}

func TestMakePreviewsInline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := sample.Tree(b.root, sample.Options{Nights: 1, Infrared: true})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	a := b.start(t, "i", "--queue", "ingest:2", "--empty", "--make-previews")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("ingest exit %d:\n%s", code, a.stderr)
	}
	b.checkPreviews(t, m)
	if n := b.count(t, `SELECT count(*) FROM header`); n != len(m.FITS) {
		t.Fatalf("%d headers, want %d: a preview spoiled the ingest", n, len(m.FITS))
	}
}

// After ingest, agentd --queue calcache empties the calcache queue, and each science
// spectrum of the sample (GMOS-N, B600 at 520 nm) gets the night's biases and arc.
func TestCalcacheQueueServiced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := sample.Tree(b.root, sample.Options{Nights: 2}); err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	if code := b.start(t, "i", "--queue", "ingest:2", "--empty").wait(t, 60*time.Second); code != 0 {
		t.Fatalf("ingest exit %d", code)
	}
	headers := b.count(t, `SELECT count(*) FROM header`)
	if n := b.count(t, `SELECT count(*) FROM calcachequeue`); n != headers {
		t.Fatalf("%d calcache items, want one per header (%d)", n, headers)
	}
	a := b.start(t, "c", "--queue", "calcache", "--empty")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("calcache exit %d:\n%s", code, a.stderr)
	}
	if n := b.count(t, `SELECT count(*) FROM calcachequeue`); n != 0 {
		t.Fatalf("%d calcache items left", n)
	}
	spectra := b.count(t, `SELECT count(*) FROM header WHERE observation_type = 'OBJECT' AND spectroscopy`)
	if n := b.count(t, `SELECT count(DISTINCT c.obs_hid) FROM calcache c JOIN header o ON o.id = c.obs_hid
		WHERE o.spectroscopy AND o.observation_type = 'OBJECT' AND c.caltype = 'arc'`); n != spectra || spectra == 0 {
		t.Fatalf("%d of %d science spectra have an arc", n, spectra)
	}
	if n := b.count(t, `SELECT min(k) FROM (SELECT count(*) k FROM calcache c JOIN header o ON o.id = c.obs_hid
		WHERE o.spectroscopy AND o.observation_type = 'OBJECT' AND c.caltype = 'bias' GROUP BY c.obs_hid) x`); n != 4 {
		t.Fatalf("a science spectrum has %d biases, want the 4 of the two nights", n)
	}

	// A bias ingested later queues the observations it could serve (all of the sample's
	// within 90 days, biases and arcs aside), and the worker gives each its fifth bias.
	first := filepath.Join(b.root, "2020", "20200101", "N20200101S0001.fits")
	later := filepath.Join(b.root, "2020", "20200102", "N20200102S0300.fits")
	body, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(later, body, 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(later, old, old)
	b.enqueue(t)
	if code := b.start(t, "i", "--queue", "ingest:2", "--empty").wait(t, 60*time.Second); code != 0 {
		t.Fatalf("second ingest exit %d", code)
	}
	served := b.count(t, `SELECT count(*) FROM header WHERE observation_type NOT IN ('BIAS', 'ARC')`)
	if n := b.count(t, `SELECT count(*) FROM calcachequeue`); n != served+1 {
		t.Fatalf("%d calcache items after a new bias; want the %d observations it serves and itself", n, served)
	}
	if code := b.start(t, "c", "--queue", "calcache", "--empty").wait(t, 60*time.Second); code != 0 {
		t.Fatalf("second calcache exit %d", code)
	}
	if n := b.count(t, `SELECT min(k) FROM (SELECT count(*) k FROM calcache c JOIN header o ON o.id = c.obs_hid
		WHERE o.spectroscopy AND o.observation_type = 'OBJECT' AND c.caltype = 'bias' GROUP BY c.obs_hid) x`); n != 5 {
		t.Fatalf("a science spectrum has %d biases after the new one, want 5", n)
	}
}

// The calibration cache is the database's alone: agentd --queue calcache needs no storage
// root (it runs on the database server, where the file store may not be mounted).
func TestCalcacheNeedsNoStorageRoot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := t.TempDir()
	cmd := exec.Command(agentdBin, "--queue", "calcache", "--empty", "--name", "c", "--lock-dir", filepath.Join(dir, "locks"),
		"--state", filepath.Join(dir, "c.db"), "--socket", filepath.Join(dir, "c.sock"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + b.url}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("agentd --queue calcache without a storage root: %v\n%s", err, out)
	}
}

// Calibration rules that do not fit the database stop agentd before it takes an item
// (exit 4, which its unit does not restart), for the calcache queue and for an archive's
// ingest (which queues what a new calibration serves); the items stay pending, untouched.
func TestRulesThatDoNotFitStopTheAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := sample.Tree(b.root, sample.Options{Nights: 1}); err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	queued := b.count(t, `SELECT count(*) FROM ingestqueue`)
	rules := t.TempDir()
	builtin := calcache.BuiltinRules()
	entries, err := fs.ReadDir(builtin, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		body, _ := fs.ReadFile(builtin, e.Name())
		if e.Name() == "default.yml" {
			body = []byte(strings.Replace(string(body), "[instrument, detector_binning]", "[instrument, detector_binning, seeing]", 1))
		}
		os.WriteFile(filepath.Join(rules, e.Name()), body, 0o644)
	}
	want := `default.yml: rule 1 (bias): unknown descriptor "seeing"`
	for _, args := range [][]string{{"--queue", "ingest", "--role", "archive"}, {"--queue", "calcache"}} {
		a := b.start(t, "r", append(args, "--empty", "--calcache-rules", rules)...)
		if code := a.wait(t, 30*time.Second); code != 4 || !strings.Contains(a.stderr.String(), want) {
			t.Errorf("%v: exit %d, %s; want 4 naming %s", args, code, a.stderr, want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue WHERE NOT inprogress AND attempts = 0`); n != queued || queued == 0 {
		t.Errorf("%d of %d ingest items left untouched", n, queued)
	}
	// A summit's ingest queues no calcache work: it needs no rules.
	if code := b.start(t, "s", "--queue", "ingest", "--role", "summit", "--empty", "--calcache-rules", rules).wait(t, 60*time.Second); code != 0 {
		t.Errorf("a summit's ingest with unfit rules: exit %d", code)
	}
}
