package fscheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// A tree of FITS files written by another generator (astropy, testdata/othergen.py: three
// nights of GMOS-N and GMOS-S, three extensions of three pixel types, some .bz2, one frame
// QA-failed, one engineering) goes through the whole path with the real binaries: ingest
// with previews, the calcache queue serviced by agentd, then the bulk rebuild. The rebuild
// leaves the cache exactly as the worker made it; every science frame that passed QA has
// biases and flats, every science spectrum an arc; every FITS file has its preview.
func TestAnotherGeneratorsTree(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries and runs astropy: skipped with -short")
	}
	h, dbURL := newHarness(t)
	h.env = append(os.Environ(), "DATABASE_URL="+dbURL, "AGENTD_STORAGE_ROOT="+h.root, "PYTHONDONTWRITEBYTECODE=1")

	var frames []struct {
		Path         string `json:"path"`
		Instrument   string `json:"instrument"`
		ObsType      string `json:"obstype"`
		ObsClass     string `json:"obsclass"`
		Spectroscopy bool   `json:"spectroscopy"`
	}
	if err := json.Unmarshal(h.run(h.py, "testdata/othergen.py", h.root, "3"), &frames); err != nil {
		t.Fatal(err)
	}
	if len(frames) < 100 {
		t.Fatalf("the generator wrote %d frames", len(frames))
	}

	h.agentctl("db", "init")
	h.agentctl("enqueue", "ingest")
	h.agentd("--queue", "ingest:2", "--make-previews")
	h.agentd("--queue", "calcache:2")

	db := pgtest.Pool(t, dbURL)
	ctx := context.Background()
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM header`); n != len(frames) {
		t.Fatalf("%d headers for %d files", n, len(frames))
	}
	if n := count(`SELECT count(*) FROM ingestqueue`) + count(`SELECT count(*) FROM calcachequeue`); n != 0 {
		t.Fatalf("%d queue rows left", n)
	}
	dump := func() string {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT fo.filename, c.caltype::text, c.rank, fc.filename FROM calcache c
			JOIN header o ON o.id = c.obs_hid JOIN diskfile fo ON fo.id = o.diskfile_id
			JOIN header k ON k.id = c.cal_hid JOIN diskfile fc ON fc.id = k.diskfile_id
			ORDER BY 1, 2, 3`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var obs, typ, cal string
			var rank int
			if err := rows.Scan(&obs, &typ, &rank, &cal); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s %d %s\n", obs, typ, rank, cal)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	byWorker := dump()

	// Science frames that passed QA: biases and flats (and an arc for a spectrum).
	var missing []string
	rows, err := db.Query(ctx, `SELECT d.filename, o.spectroscopy,
			count(*) FILTER (WHERE c.caltype = 'bias'), count(*) FILTER (WHERE c.caltype = 'flat'), count(*) FILTER (WHERE c.caltype = 'arc')
		FROM header o JOIN diskfile d ON d.id = o.diskfile_id LEFT JOIN calcache c ON c.obs_hid = o.id
		WHERE o.observation_class = 'science' AND o.observation_type = 'OBJECT' AND o.qa_state <> 'Fail'
		GROUP BY 1, 2 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	science := 0
	for rows.Next() {
		var name string
		var spect bool
		var biases, flats, arcs int
		if err := rows.Scan(&name, &spect, &biases, &flats, &arcs); err != nil {
			t.Fatal(err)
		}
		science++
		if biases == 0 || flats == 0 || (spect && arcs == 0) {
			missing = append(missing, fmt.Sprintf("%s (spectrum %v): %d biases, %d flats, %d arcs", name, spect, biases, flats, arcs))
		}
	}
	rows.Close()
	if science < 40 || len(missing) > 0 {
		t.Fatalf("%d science frames; without their calibrations:\n%s", science, strings.Join(missing, "\n"))
	}
	t.Logf("%d frames, %d science frames with their calibrations, %d calcache rows", len(frames), science, strings.Count(byWorker, "\n"))
	if fail, eng := count(`SELECT count(*) FROM header WHERE qa_state = 'Fail'`), count(`SELECT count(*) FROM header WHERE engineering`); fail == 0 || eng == 0 {
		t.Fatalf("%d QA-failed and %d engineering headers: the generator writes some of each", fail, eng)
	}
	if n := count(`SELECT count(*) FROM calcache c JOIN header k ON k.id = c.cal_hid WHERE k.qa_state = 'Fail' OR k.engineering`); n != 0 {
		t.Fatalf("%d cached calibrations are QA-failed or engineering frames", n)
	}

	// The bulk rebuild (set-based: one batch holds every observation) gives the same rows.
	h.agentctl("calcache", "rebuild")
	if again := dump(); again != byWorker {
		t.Fatalf("the bulk rebuild differs from the worker's cache:\n%s\nvs the worker's\n%s", again, byWorker)
	}

	// Previews: one row per file, each naming a JPEG that exists.
	if n := count(`SELECT count(DISTINCT diskfile_id) FROM preview`); n != len(frames) {
		t.Fatalf("%d previews for %d files", n, len(frames))
	}
	prow, err := db.Query(ctx, `SELECT filename FROM preview`)
	if err != nil {
		t.Fatal(err)
	}
	defer prow.Close()
	for prow.Next() {
		var name string
		if err := prow.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(filepath.Join(h.root, "previews", name)); err != nil || st.Size() == 0 {
			t.Fatalf("preview %s: %v", name, err)
		}
	}
}
