package main

import (
	"context"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// previews rebuild queues every present, canonical FITS file (modified since --since), once.
func TestPreviewsRebuild(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	db := pgtest.Pool(t, url)
	_, err := db.Exec(context.Background(), `
		INSERT INTO file (name) SELECT 'N2020010' || d || 'S000' || i || '.fits' FROM generate_series(1, 3) d, generate_series(1, 4) i;
		INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5,
			compressed, lastmod, isfits)
		SELECT f.id, f.name, '', true, true, 1, 'x', 1, 'x', false, ('2020-01-0' || substr(f.name, 9, 1))::timestamptz, true FROM file f;
		UPDATE diskfile SET isfits = false WHERE filename LIKE '%S0001.fits';
		UPDATE diskfile SET present = false WHERE filename LIKE '%S0002.fits';`)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DATABASE_URL=" + url}
	r := agentctl(t, env, "previews", "rebuild", "--json", "--batch", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if v := jsonOf(t, r); v["files"] != float64(6) || v["queued"] != float64(6) {
		t.Fatalf("%v; want the 6 present FITS files queued (3 nights × S0003, S0004)", v)
	}
	r = agentctl(t, env, "previews", "rebuild", "--since", "2020-01-02")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "4 FITS files: 0 previews queued, 4 already pending, in ") {
		t.Fatalf("--since: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM previewqueue WHERE force AND NOT inprogress`).Scan(&n); err != nil || n != 6 {
		t.Fatalf("%d forced pending preview items, want 6 (%v)", n, err)
	}
	if r := agentctl(t, env, "previews", "rebuild", "--since", "yesterday-ish"); r.code != 2 {
		t.Fatalf("a bad --since: exit %d, want 2", r.code)
	}
}
