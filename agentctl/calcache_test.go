package main

import (
	"context"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// Three GMOS-N frames: a science spectrum, a bias and an arc, all of one setup.
func calcacheFrames(t *testing.T, url string) {
	t.Helper()
	_, err := pgtest.Pool(t, url).Exec(context.Background(), `
		INSERT INTO file (name) VALUES ('S.fits'), ('B.fits'), ('A.fits');
		INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5, compressed, lastmod, isfits)
			SELECT id, name, '', true, true, 1, 'x', 1, 'x', false, now(), true FROM file;
		INSERT INTO header (diskfile_id, instrument, observation_type, observation_class, object, reduction, qa_state,
			spectroscopy, central_wavelength, ut_datetime, ut_datetime_secs, detector_binning, data_label, engineering)
		SELECT d.id, 'GMOS-N', v.t::obstype, v.c::obsclass, v.o, 'RAW', 'Pass', v.s, v.cw, v.ut::timestamp,
			extract(epoch FROM v.ut::timestamp - '2000-01-01')::bigint, '2x2', v.dl, false
		FROM diskfile d JOIN (VALUES ('S.fits', 'OBJECT', 'science', 'M 31', true, 0.52, '2020-01-01 05:00', 'GN-1-001'),
			('B.fits', 'BIAS', 'dayCal', 'Bias', false, NULL, '2020-01-01 01:00', 'GN-2-001'),
			('A.fits', 'ARC', 'dayCal', 'CuAr', true, 0.52, '2020-01-01 03:00', 'GN-3-001')) v(f, t, c, o, s, cw, ut, dl) ON v.f = d.filename;
		INSERT INTO gmos (header_id, disperser, filter_name, detector_x_bin, detector_y_bin, focal_plane_mask)
			SELECT id, 'B600+_G5307', 'open1-6&open2-8', 2, 2, '1.0arcsec' FROM header;`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestCalcacheRebuildShowStatus(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	calcacheFrames(t, url)
	env := []string{"DATABASE_URL=" + url}
	r := agentctl(t, env, "calcache", "status", "--json")
	if v := jsonOf(t, r); r.code != 0 || v["rows"] != float64(0) || v["last_rebuild"] != nil {
		t.Fatalf("status before: exit %d, %v", r.code, r.stdout)
	}
	r = agentctl(t, env, "calcache", "rebuild", "--json")
	if v := jsonOf(t, r); r.code != 0 || v["observations"] != float64(3) || v["rows"] != float64(2) {
		t.Fatalf("rebuild: exit %d, %s%s; want 3 observations and 2 rows (the spectrum's bias and arc)", r.code, r.stdout, r.stderr)
	}
	r = agentctl(t, env, "calcache", "show", "GN-1-001")
	if r.code != 0 || !strings.Contains(r.stdout, "S.fits (header") || !strings.Contains(r.stdout, "bias — RAW BIAS; same instrument") ||
		!strings.Contains(r.stdout, "   0  B.fits") || !strings.Contains(r.stdout, "   0  A.fits") || !strings.Contains(r.stdout, "processed_arc") {
		t.Fatalf("show by data label: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = agentctl(t, env, "calcache", "show", "S.fits", "--json")
	v := jsonOf(t, r)
	if cals, _ := v["calibrations"].([]any); r.code != 0 || len(cals) != 2 {
		t.Fatalf("show --json: exit %d, %v", r.code, v)
	}
	r = agentctl(t, env, "calcache", "status", "--json")
	v = jsonOf(t, r)
	if r.code != 0 || v["rows"] != float64(2) || v["observations"] != float64(1) || v["last_rebuild"] == nil {
		t.Fatalf("status after: exit %d, %v", r.code, v)
	}
	if r := agentctl(t, env, "calcache", "show", "nothing.fits"); r.code != 1 || !strings.Contains(r.stderr, "neither the name nor the data label") {
		t.Fatalf("an unknown name: exit %d, %s", r.code, r.stderr)
	}
}
