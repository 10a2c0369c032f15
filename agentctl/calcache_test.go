package main

import (
	"context"
	"os"
	"path/filepath"
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

// calcache rules lists the built-in rules; --export writes them (never over a file already
// there); an archive's edited copy is used when --rules or the config names it, and one
// that does not fit the database stops every calcache command with exit 4 (2 when it is not
// even a rules file), the file, rule and descriptor named, nothing written.
func TestCalcacheRulesCommand(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	calcacheFrames(t, url)
	env := []string{"DATABASE_URL=" + url}
	r := agentctl(t, env, "calcache", "rules", "--json")
	v := jsonOf(t, r)
	sets, _ := v["sets"].([]any)
	if r.code != 0 || v["source"] != "built-in" || len(sets) != 4 {
		t.Fatalf("rules: exit %d, %s%s; want the 4 built-in sets", r.code, r.stdout, r.stderr)
	}
	if last, _ := sets[3].(map[string]any); last["file"] != "default.yml" {
		t.Fatalf("the default set is not last: %v", sets[3])
	}
	dir := filepath.Join(t.TempDir(), "rules")
	if r := agentctl(t, env, "calcache", "rules", "--export", dir); r.code != 0 || !strings.Contains(r.stdout, "wrote 4 rules files") {
		t.Fatalf("export: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := agentctl(t, env, "calcache", "rules", "--export", dir); r.code != 5 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("export over an export: exit %d, %s; want 5 (refused)", r.code, r.stderr)
	}
	if r := agentctl(t, env, "calcache", "rules", "--rules", dir); r.code != 0 || !strings.Contains(r.stdout, "("+dir+"): fit this database") {
		t.Fatalf("the exported rules: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}

	// An edit: a descriptor this database does not have.
	gmos := filepath.Join(dir, "gmos.yml")
	body, err := os.ReadFile(gmos)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(body), "[instrument, detector_x_bin,", "[instrument, detector_xbin,", 1)
	if edited == string(body) {
		t.Fatal("gmos.yml has no descriptor list to edit")
	}
	os.WriteFile(gmos, []byte(edited), 0o644)
	want := `gmos.yml: rule 1 (bias): unknown descriptor "detector_xbin"`
	for _, args := range [][]string{{"calcache", "rules", "--rules", dir}, {"calcache", "rebuild", "--rules", dir}, {"calcache", "show", "S.fits", "--rules", dir}} {
		if r := agentctl(t, env, args...); r.code != 4 || !strings.Contains(r.stderr, want) {
			t.Errorf("%v: exit %d, %s; want 4 naming %s", args, r.code, r.stderr, want)
		}
	}
	if r := agentctl(t, append(env, "AGENTD_CALCACHE_RULES="+dir), "calcache", "status"); r.code != 4 || !strings.Contains(r.stderr, want) {
		t.Errorf("status with $AGENTD_CALCACHE_RULES: exit %d, %s", r.code, r.stderr)
	}
	var rows int
	pgtest.Pool(t, url).QueryRow(context.Background(), `SELECT count(*) FROM calcache`).Scan(&rows)
	if rows != 0 {
		t.Errorf("%d calcache rows written with rules that do not fit", rows)
	}
	// Not a rules file at all: a key the format does not have.
	os.WriteFile(gmos, []byte(strings.Replace(string(body), "conditional:", "condition:", 1)), 0o644)
	if r := agentctl(t, env, "calcache", "rules", "--rules", dir); r.code != 2 || !strings.Contains(r.stderr, "field condition not found") {
		t.Errorf("a misspelt key: exit %d, %s; want 2", r.code, r.stderr)
	}
}
