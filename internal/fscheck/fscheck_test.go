package fscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/sample"
)

// python is Debian's interpreter with FitsStorage's dependencies (scripts/fitsstorage-python.sh);
// without them the check is skipped loudly, except under CI where it fails.
func python(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", "../../scripts/fitsstorage-python.sh").Output()
	if err != nil {
		msg := "Python with SQLAlchemy, psycopg2, numpy, dateutil and astropy cannot be had here: " + err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED LOUDLY: " + msg)
	}
	return strings.TrimSpace(string(out))
}

// harness runs the real binaries and FitsStorage's code against one database.
type harness struct {
	t                   *testing.T
	bin, root, work, py string
	env                 []string
	agentRuns           int
}

// newHarness builds both binaries, makes an empty database and a storage root, and finds
// Debian's Python; the caller sets h.env.
func newHarness(t *testing.T) (*harness, string) {
	t.Helper()
	h := &harness{t: t, py: python(t), bin: t.TempDir(), work: t.TempDir()}
	h.root = filepath.Join(h.work, "storage")
	for _, cmd := range []string{"agentctl", "agentd"} {
		if out, err := exec.Command("go", "build", "-o", h.bin, "../../"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	return h, pgtest.NewEmptyDB(t)
}

// run runs a program to completion (at most 3 minutes: a hung agentd fails the test).
func (h *harness) run(name string, args ...string) []byte {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

func (h *harness) agentctl(args ...string) []byte {
	return h.run(filepath.Join(h.bin, "agentctl"), args...)
}

// agentd services the queues args name until they are empty.
func (h *harness) agentd(args ...string) {
	h.agentRuns++
	dir := filepath.Join(h.work, "agentd", string(rune('a'+h.agentRuns)))
	h.run(filepath.Join(h.bin, "agentd"), append([]string{"--name", "fscheck", "--empty",
		"--lock-dir", filepath.Join(dir, "locks"), "--state", filepath.Join(dir, "state.db"),
		"--socket", filepath.Join(dir, "s.sock"), "--log-level", "warn"}, args...)...)
}

// fitsstorage runs testdata/fscheck.py (FitsStorage's own code) and decodes its JSON.
func (h *harness) fitsstorage(v any, args ...string) {
	h.t.Helper()
	out := h.run(h.py, append([]string{"testdata/fscheck.py"}, args...)...)
	if err := json.Unmarshal(out, v); err != nil {
		h.t.Fatalf("fscheck.py %v: %v\n%s", args, err, out)
	}
}

// What fscheck.py read.
type queueFacts struct {
	Length               int `json:"length"`
	LengthWithInprogress int `json:"length_with_inprogress"`
	Count                int `json:"count"`
	InProgress           int `json:"in_progress"`
	Failed               int `json:"failed"`
}

type readBack struct {
	Headers  []map[string]any `json:"headers"`
	Searches []struct {
		Selection map[string]any `json:"selection"`
		Open      bool           `json:"open"`
		Filenames []string       `json:"filenames"`
	} `json:"searches"`
	Instruments   map[string][]map[string]any `json:"instruments"`
	IngestQueue   queueFacts                  `json:"ingestqueue"`
	CalCacheQueue queueFacts                  `json:"calcachequeue"`
	CalCache      map[string][]struct {
		CalType string `json:"caltype"`
		Rank    int    `json:"rank"`
		Cal     string `json:"cal"`
	} `json:"calcache"`
	Calibrations  map[string][]string `json:"calibrations"`
	IngestEntries map[string]struct {
		Failed     bool    `json:"failed"`
		InProgress bool    `json:"inprogress"`
		Error      *string `json:"error"`
	} `json:"ingest_entries"`
}

// search is one list_headers selection and the files it must find.
type search struct {
	selection map[string]any
	want      func(sample.Frame) bool
}

var searches = []search{
	{map[string]any{"canonical": true}, func(sample.Frame) bool { return true }},
	{map[string]any{"observation_type": "BIAS"}, func(f sample.Frame) bool { return f.ObsType == "BIAS" }},
	{map[string]any{"observation_type": "FLAT", "canonical": true}, func(f sample.Frame) bool { return f.ObsType == "FLAT" }},
	{map[string]any{"inst": "GMOS-N"}, func(f sample.Frame) bool { return f.Instrument == "GMOS-N" }},
	{map[string]any{"inst": "GMOS"}, func(f sample.Frame) bool { return f.Instrument == "GMOS-N" }},
	{map[string]any{"inst": "NIRI"}, func(f sample.Frame) bool { return f.Instrument == "NIRI" }},
	{map[string]any{"inst": "F2"}, func(f sample.Frame) bool { return f.Instrument == "F2" }},
	{map[string]any{"telescope": "Gemini-South"}, func(f sample.Frame) bool { return f.Instrument == "F2" }},
	{map[string]any{"program_id": "GN-2020A-Q-3"}, func(f sample.Frame) bool { return f.Instrument == "GNIRS" }},
}

// FitsStorage's own ORM, search and queue code read a database made by `agentctl db init`
// and filled by agentd, and the rows FitsStorage's own IngestQueue.add and pop() write are
// serviced by agentd.
func TestFitsStorageUsesWhatAgentdBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries and runs FitsStorage's code: skipped with -short")
	}
	h, dbURL := newHarness(t)
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	h.env = append(os.Environ(), "DATABASE_URL="+dbURL, "AGENTD_STORAGE_ROOT="+h.root,
		"FITS_STORAGE_DB_URL="+sqlalchemyURL(t, dbURL),
		"PYTHONPATH="+filepath.Join(abs, "fitsstorage")+":"+filepath.Join(abs, "dragons"), "PYTHONDONTWRITEBYTECODE=1")

	h.agentctl("db", "init")
	m, err := sample.Tree(h.root, sample.Options{Nights: 2, Infrared: true})
	if err != nil {
		t.Fatal(err)
	}
	h.agentctl("enqueue", "ingest")

	// A file only FitsStorage's own IngestQueue.add knows of: a copy of the first bias.
	first := filepath.Join("2020", "20200101", "N20200101S0001.fits")
	added := filepath.Join("2020", "20200102", "N20200102S0200.fits")
	copyFile(t, filepath.Join(h.root, first), filepath.Join(h.root, added))
	m.FITS = append(m.FITS, added)
	m.Frames[added] = m.Frames[first]
	var entry struct {
		Failed, InProgress bool
	}
	h.fitsstorage(&entry, "add", filepath.Base(added), filepath.Dir(added))
	if entry.Failed || entry.InProgress {
		t.Fatalf("FitsStorage's IngestQueue.add made a row it reads as failed %v, in progress %v", entry.Failed, entry.InProgress)
	}

	var before readBack
	h.fitsstorage(&before, "read", "[]")
	if want := len(m.Ingestable) + 1; before.IngestQueue.Length != want || before.IngestQueue.Failed != 0 {
		t.Fatalf("before agentd, FitsStorage's IngestQueue.length() = %d (failed %d); want every queued file, %d, none failed",
			before.IngestQueue.Length, before.IngestQueue.Failed, want)
	}

	h.agentd("--queue", "ingest:2")
	h.agentd("--queue", "calcache:2")

	sels := make([]map[string]any, len(searches))
	for i, s := range searches {
		sels[i] = s.selection
	}
	selJSON, err := json.Marshal(sels)
	if err != nil {
		t.Fatal(err)
	}
	var got readBack
	h.fitsstorage(&got, "read", string(selJSON))

	// query(Header).join(DiskFile).join(File): one row per canonical FITS file.
	var names []string
	for _, hd := range got.Headers {
		names = append(names, filepath.Join(hd["path"].(string), hd["filename"].(string)))
	}
	if !sameSet(names, m.FITS) {
		t.Fatalf("FitsStorage's query(Header) joined to DiskFile and File found\n%v\nwant every FITS file\n%v", sorted(names), sorted(m.FITS))
	}
	for _, hd := range got.Headers {
		rel := filepath.Join(hd["path"].(string), hd["filename"].(string))
		checkHeader(t, rel, m.Frames[rel], hd)
		// FitsStorage's file.name is the name without its compression suffix.
		if name := strings.TrimSuffix(filepath.Base(rel), ".bz2"); hd["file_name"] != name {
			t.Errorf("%s: file.name %v, want %s", rel, hd["file_name"], name)
		}
	}

	// list_headers with FitsStorage's Selection.
	for i, s := range searches {
		var want []string
		for rel, f := range m.Frames {
			if s.want(f) {
				want = append(want, filepath.Base(rel))
			}
		}
		res := got.Searches[i]
		if !sameSet(res.Filenames, want) {
			t.Errorf("list_headers(%v) found %v; want %v", s.selection, res.Filenames, sorted(want))
		}
	}
	if !got.Searches[0].Open {
		t.Errorf("the selection %v is not an open search to FitsStorage", searches[0].selection)
	}

	// query(Gmos) and the other instruments' tables: one row per frame.
	for table, inst := range map[string]string{"gmos": "GMOS-N", "niri": "NIRI", "gnirs": "GNIRS", "f2": "F2"} {
		var want, rows []string
		for rel, f := range m.Frames {
			if f.Instrument == inst {
				want = append(want, filepath.Base(rel))
			}
		}
		for _, r := range got.Instruments[table] {
			rows = append(rows, r["filename"].(string))
		}
		if len(rows) != len(want) || !sameSet(rows, want) {
			t.Errorf("query(%s) gave rows for %v; want one per %s frame %v", table, sorted(rows), inst, sorted(want))
		}
	}

	// The calibration cache agentd's calcache worker wrote, read through FitsStorage's ORM
	// and found by its own lookup (associate_cals_from_cache, which also follows the
	// calibrations of calibrations): every science spectrum has its arc and biases.
	spectra := 0
	for _, hd := range got.Headers {
		if hd["observation_type"] != "OBJECT" || hd["spectroscopy"] != true {
			continue
		}
		spectra++
		name := hd["filename"].(string)
		types := map[string]int{}
		for _, row := range got.CalCache[name] {
			types[row.CalType]++
			if !slices.Contains(got.Calibrations[name], row.Cal) {
				t.Errorf("%s: FitsStorage's lookup from the cache misses its %s %s", name, row.CalType, row.Cal)
			}
		}
		if types["arc"] != 1 || types["bias"] < 2 {
			t.Errorf("%s: calibrations by type %v; want an arc and the night's biases", name, types)
		}
	}
	if spectra == 0 {
		t.Fatal("no science spectrum in the sample")
	}

	// The queues as FitsStorage's status pages and Queue.length() see them.
	if got.IngestQueue != (queueFacts{}) {
		t.Errorf("after agentd, FitsStorage's ingest queue reads %+v; want empty", got.IngestQueue)
	}
	if got.CalCacheQueue != (queueFacts{}) {
		t.Errorf("after agentd --queue calcache, FitsStorage's CalCacheQueue reads %+v; want empty", got.CalCacheQueue)
	}

	// A row FitsStorage's own pop() set in progress (no lease): agentctl still reports the
	// queue, and agentd treats the row as abandoned once its foreign lease has passed.
	late := filepath.Join("2020", "20200102", "N20200102S0201.fits")
	copyFile(t, filepath.Join(h.root, first), filepath.Join(h.root, late))
	h.fitsstorage(&entry, "add", filepath.Base(late), filepath.Dir(late))
	var popped struct {
		Filename   string
		InProgress bool
	}
	h.fitsstorage(&popped, "pop")
	if popped.Filename != filepath.Base(late) || !popped.InProgress {
		t.Fatalf("FitsStorage's pop() gave %+v; want %s in progress", popped, filepath.Base(late))
	}
	var status struct {
		Queues []struct {
			Queue      string
			InProgress int `json:"in_progress"`
		}
	}
	if err := json.Unmarshal(h.agentctl("queue", "status", "--json"), &status); err != nil {
		t.Fatal(err)
	}
	for _, q := range status.Queues {
		if q.Queue == "ingest" && q.InProgress != 1 {
			t.Errorf("agentctl queue status counts %d ingest items in progress; want FitsStorage's popped row", q.InProgress)
		}
	}
	h.agentd("--queue", "ingest:2", "--foreign-lease", "1s")
	var after readBack
	h.fitsstorage(&after, "read", "[]")
	found := false
	for _, hd := range after.Headers {
		found = found || hd["filename"] == filepath.Base(late)
	}
	if !found || after.IngestQueue != (queueFacts{}) {
		t.Errorf("the row FitsStorage popped and left: ingested %v, ingest queue %+v; want ingested and the queue empty", found, after.IngestQueue)
	}
}

// checkHeader holds the values FitsStorage's search and calibration rules rely on, read
// through its ORM (so every enum column holds a value of FitsStorage's own enum).
func checkHeader(t *testing.T, rel string, f sample.Frame, hd map[string]any) {
	t.Helper()
	want := map[string]any{"instrument": f.Instrument, "observation_type": f.ObsType, "reduction": "RAW",
		"processing": "Raw", "engineering": false, "science_verification": false}
	for k, v := range want {
		if hd[k] != v {
			t.Errorf("%s: %s = %v, want %v", rel, k, hd[k], v)
		}
	}
	for _, k := range []string{"telescope", "observation_class", "qa_state", "ut_datetime", "ut_datetime_secs",
		"program_id", "data_label", "detector_binning", "mode", "spectroscopy", "release", "filter_name"} {
		if hd[k] == nil {
			t.Errorf("%s: %s is NULL", rel, k)
		}
	}
	// Micrometres, and for spectroscopy only.
	if cw, ok := hd["central_wavelength"].(float64); ok && (hd["spectroscopy"] != true || cw <= 0.1 || cw > 30) {
		t.Errorf("%s: central_wavelength %v (spectroscopy %v); want µm for spectra only", rel, cw, hd["spectroscopy"])
	}
	if hd["spectroscopy"] == true && hd["central_wavelength"] == nil {
		t.Errorf("%s: a spectrum without central_wavelength", rel)
	}
}

// sqlalchemyURL turns the test database's URL into SQLAlchemy's postgresql:// form, as
// FitsStorage's configuration reads it: query values unescaped (its configparser takes "%"
// for interpolation, so a literal "%" is doubled).
func sqlalchemyURL(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("unexpected test database URL %q: %v", raw, err)
	}
	var q []string
	for k, vs := range u.Query() {
		for _, v := range vs {
			q = append(q, k+"="+v)
		}
	}
	sort.Strings(q)
	s := "postgresql://" + u.User.String() + "@" + u.Host + u.Path
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return strings.ReplaceAll(s, "%", "%%")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// As old as the sample's files: a file modified a moment ago is deferred by the ingest.
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(to, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func sameSet(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
