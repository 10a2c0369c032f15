package rollcall

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

type archive struct {
	db   *pgxpool.Pool
	root string
}

func setup(t *testing.T) archive {
	t.Helper()
	return archive{db: pgtest.Pool(t, pgtest.NewDB(t)), root: t.TempDir()}
}

// file writes rel under the root (unless onDisk is false) and records it as a present,
// canonical diskfile modified age ago.
func (a archive) file(t *testing.T, rel string, onDisk bool, age time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	body := "data of " + rel
	if onDisk {
		full := filepath.Join(a.root, rel)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := md5.Sum([]byte(body))
	dir, name := filepath.Split(rel)
	var fileID, id int64
	if err := a.db.QueryRow(ctx, `INSERT INTO file (name) VALUES ($1) RETURNING id`, name).Scan(&fileID); err != nil {
		t.Fatal(err)
	}
	if err := a.db.QueryRow(ctx, `INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5,
			data_size, data_md5, compressed, lastmod) VALUES ($1, $2, $3, true, true, $4, $5, $4, $5, false, $6) RETURNING id`,
		fileID, name, strings.TrimSuffix(dir, "/"), len(body), hex.EncodeToString(sum[:]), time.Now().Add(-age)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (a archive) present(t *testing.T) map[string]bool {
	t.Helper()
	rows, err := a.db.Query(context.Background(), `SELECT filename, present, canonical FROM diskfile`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		var present, canonical bool
		rows.Scan(&name, &present, &canonical)
		if !canonical {
			t.Fatalf("%s lost canonical", name)
		}
		out[name] = present
	}
	return out
}

func TestMarksOnlyMissingFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setup(t)
	for i, name := range []string{"a/N1.fits", "a/N2.fits", "b/N3.fits", "N4.fits"} {
		a.file(t, name, true, time.Duration(i)*time.Hour)
	}
	a.file(t, "a/gone1.fits", false, time.Hour)
	a.file(t, "b/gone2.fits", false, time.Hour)
	// A path through a regular file: the file system says "not a directory", not "does not
	// exist": reported, never marked.
	a.file(t, "N4.fits/inside.fits", false, time.Hour)
	// One that was absent already stays absent even though it is back on disk.
	back := a.file(t, "c/back.fits", true, time.Hour)
	a.db.Exec(ctx, `UPDATE diskfile SET present = false WHERE id = $1`, back)

	sum, err := Run(ctx, a.db, Options{Root: a.root, MaxMissing: 50})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Checked != 7 || sum.Missing != 2 || sum.Marked != 2 || sum.Errors != 1 {
		t.Fatalf("summary %+v; want 7 checked, 2 missing and marked, 1 error", sum)
	}
	if len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0].Error, "not a directory") {
		t.Fatalf("problems %+v", sum.Problems)
	}
	got := a.present(t)
	want := map[string]bool{"N1.fits": true, "N2.fits": true, "N3.fits": true, "N4.fits": true,
		"gone1.fits": false, "gone2.fits": false, "inside.fits": true, "back.fits": false}
	for name, p := range want {
		if got[name] != p {
			t.Errorf("%s present = %v, want %v", name, got[name], p)
		}
	}
}

func TestLimitOldestFirstAndFilePre(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setup(t)
	os.WriteFile(filepath.Join(a.root, "keep"), nil, 0o644) // the root must not be empty
	a.file(t, "N2020new.fits", false, time.Minute)
	a.file(t, "N2020old.fits", false, 48*time.Hour)
	a.file(t, "S2020old.fits", false, 72*time.Hour)
	sum, err := Run(ctx, a.db, Options{Root: a.root, Limit: 1, FilePre: "N2020", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	got := a.present(t)
	if sum.Checked != 1 || got["N2020old.fits"] || !got["N2020new.fits"] || !got["S2020old.fits"] {
		t.Fatalf("limit 1 with prefix N2020 checked %d, present now %v; want only the oldest N2020 file marked", sum.Checked, got)
	}
	// A prefix with LIKE's special characters matches them literally.
	sum, err = Run(ctx, a.db, Options{Root: a.root, FilePre: "N2020_", Force: true})
	if err != nil || sum.Checked != 0 {
		t.Fatalf("prefix N2020_ checked %d (%v), want 0", sum.Checked, err)
	}
}

func TestCheckMD5ReportsAndChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setup(t)
	a.file(t, "ok.fits", true, time.Hour)
	a.file(t, "changed.fits", true, time.Hour)
	os.WriteFile(filepath.Join(a.root, "changed.fits"), []byte("other bytes"), 0o644)
	sum, err := Run(ctx, a.db, Options{Root: a.root, CheckMD5: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.MD5Mismatches != 1 || sum.Problems[0].Path != filepath.Join(a.root, "changed.fits") {
		t.Fatalf("summary %+v; want one md5 mismatch on changed.fits", sum)
	}
	if got := a.present(t); !got["changed.fits"] || !got["ok.fits"] {
		t.Fatalf("present %v: checkmd5 must not change anything", got)
	}
}

func TestGuards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setup(t)
	a.file(t, "x/gone.fits", false, time.Hour)
	// Empty root (an unmounted disk): refused before anything is checked.
	empty := t.TempDir()
	if _, err := Run(ctx, a.db, Options{Root: empty}); !errors.Is(err, ErrBadRoot) {
		t.Fatalf("empty root: %v", err)
	}
	if _, err := Run(ctx, a.db, Options{Root: filepath.Join(empty, "nosuch")}); !errors.Is(err, ErrBadRoot) {
		t.Fatalf("missing root: %v", err)
	}
	a.file(t, "x/here.fits", true, time.Hour)
	if _, err := Run(ctx, a.db, Options{Root: a.root, Sentinel: ".mounted"}); !errors.Is(err, ErrBadRoot) || !strings.Contains(err.Error(), ".mounted") {
		t.Fatalf("missing sentinel: %v", err)
	}
	// Half the files missing, above the 1% default: nothing marked.
	sum, err := Run(ctx, a.db, Options{Root: a.root})
	if !errors.Is(err, ErrTooManyMissing) || sum.Missing != 1 {
		t.Fatalf("max-missing: %v, %+v", err, sum)
	}
	if got := a.present(t); !got["gone.fits"] {
		t.Fatal("the max-missing guard let a file be marked")
	}
	// Dry run: reported, nothing marked.
	if sum, err = Run(ctx, a.db, Options{Root: a.root, MaxMissing: 100, DryRun: true}); err != nil || sum.Missing != 1 || sum.Marked != 0 {
		t.Fatalf("dry run: %v, %+v", err, sum)
	}
	if got := a.present(t); !got["gone.fits"] {
		t.Fatal("dry run marked a file")
	}
	// --yes goes past the guard.
	os.WriteFile(filepath.Join(a.root, ".mounted"), nil, 0o644)
	if sum, err = Run(ctx, a.db, Options{Root: a.root, Sentinel: ".mounted", Force: true}); err != nil || sum.Marked != 1 {
		t.Fatalf("--yes: %v, %+v", err, sum)
	}
}

func TestAllAbsent(t *testing.T) {
	t.Parallel()
	a := setup(t)
	a.file(t, "a.fits", true, time.Hour)
	a.file(t, "b.fits", false, time.Hour)
	n, err := AllAbsent(context.Background(), a.db)
	if err != nil || n != 2 {
		t.Fatalf("all-absent marked %d (%v), want 2", n, err)
	}
	for name, p := range a.present(t) {
		if p {
			t.Errorf("%s still present", name)
		}
	}
}

// Rollcall looks only inside the storage root: a recorded path with ".." (whose target
// exists outside) and a symlink out of the root are problems, not "present"; a FIFO in place
// of a file does not hang --checkmd5, and nothing is marked on the strength of any of them.
func TestRollcallStaysInsideTheRootAndNeverBlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := setup(t)
	a.file(t, "2020/N20200101S0001.fits", true, time.Hour)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "N20200101S0002.fits"), []byte("x"), 0o644)
	rel, _ := filepath.Rel(a.root, outside)
	a.file(t, filepath.Join(rel, "N20200101S0002.fits"), false, time.Hour) // path "../…": exists outside
	os.WriteFile(filepath.Join(outside, "N20200101S0003.fits"), []byte("x"), 0o644)
	a.file(t, "2020/N20200101S0003.fits", false, time.Hour)
	if err := os.Symlink(filepath.Join(outside, "N20200101S0003.fits"), filepath.Join(a.root, "2020", "N20200101S0003.fits")); err != nil {
		t.Fatal(err)
	}
	a.file(t, "2020/N20200101S0004.fits", false, time.Hour)
	if err := syscall.Mkfifo(filepath.Join(a.root, "2020", "N20200101S0004.fits"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, md5 := range []bool{false, true} {
		done := make(chan struct{})
		var sum Summary
		var err error
		go func() {
			defer close(done)
			sum, err = Run(ctx, a.db, Options{Root: a.root, CheckMD5: md5, Force: true})
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("rollcall (checkmd5 %v) hangs on a FIFO", md5)
		}
		if err != nil {
			t.Fatal(err)
		}
		if sum.Missing != 0 {
			t.Fatalf("checkmd5 %v: %d marked missing; want none (problems are not absence)", md5, sum.Missing)
		}
		var paths []string
		for _, p := range sum.Problems {
			paths = append(paths, filepath.Base(p.Path)+": "+p.Error)
		}
		want := 2 // the ".." row and the symlink out of the root
		if md5 {
			want = 3 // and the FIFO, which is not a regular file
		}
		if len(sum.Problems) != want {
			t.Fatalf("checkmd5 %v: problems %q, want %d", md5, paths, want)
		}
	}
	if p := a.present(t); !p["N20200101S0002.fits"] || !p["N20200101S0003.fits"] || !p["N20200101S0004.fits"] {
		t.Fatalf("present after rollcall: %v", p)
	}
}
