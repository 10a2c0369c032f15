package preview

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsnet/compress/bzip2"

	"github.com/fitsarchive/agentd/internal/fits"
)

func openRoots(t *testing.T) (storageDir string, s *Store) {
	t.Helper()
	storageDir, previewsDir := t.TempDir(), t.TempDir()
	storage, err := os.OpenRoot(storageDir)
	if err != nil {
		t.Fatal(err)
	}
	previews, err := os.OpenRoot(previewsDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storage.Close(); previews.Close() })
	return storageDir, &Store{Storage: storage, Previews: previews, Options: Options{MaxSide: 64}}
}

func bz2(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := bzip2.NewWriter(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A stored file, plain or .bz2, gets its preview under FitsStorage's name; a file that
// cannot be previewed leaves the old preview as it was and no temporary file behind.
func TestStoreWritesWholePreviewsOnly(t *testing.T) {
	dir, s := openRoots(t)
	image := imageFile(t, true, encoder{16, 32768, 1}, 128, 96, nil, func(x, y int) float64 { return float64(x * y) })
	if err := os.MkdirAll(filepath.Join(dir, "2020", "20200101"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "2020/20200101/N20200101S0001.fits"), image, 0o644)
	os.WriteFile(filepath.Join(dir, "2020/20200101/N20200101S0002.fits.bz2"), bz2(t, image), 0o644)
	ctx := context.Background()
	for _, name := range []string{"N20200101S0001.fits", "N20200101S0002.fits.bz2"} {
		jpg, res, err := s.Write(ctx, "2020/20200101", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := "2020/20200101/" + name[:len("N20200101S0001")] + ".jpg"; jpg != want || res.Width != 64 || res.Height != 48 {
			t.Fatalf("%s: %s %+v, want %s, 64×48", name, jpg, res, want)
		}
		b, err := s.Previews.ReadFile(jpg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: %v", jpg, err)
		}
	}
	before, _ := s.Previews.ReadFile("2020/20200101/N20200101S0001.jpg")
	os.WriteFile(filepath.Join(dir, "2020/20200101/N20200101S0001.fits"), image[:fits.BlockSize+1000], 0o644)
	if _, _, err := s.Write(ctx, "2020/20200101", "N20200101S0001.fits"); !errors.Is(err, fits.ErrTruncated) {
		t.Fatalf("a cut file: %v, want ErrTruncated", err)
	}
	after, _ := s.Previews.ReadFile("2020/20200101/N20200101S0001.jpg")
	if !bytes.Equal(before, after) {
		t.Fatal("a failed preview replaced the old one")
	}
	entries, _ := os.ReadDir(filepath.Join(s.Previews.Name(), "2020", "20200101"))
	if len(entries) != 2 {
		t.Fatalf("the previews directory holds %d files, want the 2 previews and no temporary file", len(entries))
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.Previews.Name(), TempDir)); len(tmp) != 0 {
		t.Fatalf("%d files left in the temporary directory", len(tmp))
	}
	if _, _, err := s.Write(ctx, "2020/20200101", "../../../etc/passwd"); err == nil {
		t.Fatal("read a file outside the storage root")
	}
}

// What a killed writer leaves in the temporary directory is removed once old enough; a
// younger file (another host's write in progress) and the previews themselves stay.
func TestCleanTempRemovesOnlyOldLeftovers(t *testing.T) {
	_, s := openRoots(t)
	if n, err := s.CleanTemp(time.Now()); err != nil || n != 0 {
		t.Fatalf("no temporary directory yet: %d, %v", n, err)
	}
	tmp := filepath.Join(s.Previews.Name(), TempDir)
	os.MkdirAll(tmp, 0o755)
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{"a1-N1.jpg", "b2-N2.jpg"} {
		os.WriteFile(filepath.Join(tmp, name), []byte("half a jpeg"), 0o644)
		os.Chtimes(filepath.Join(tmp, name), old, old)
	}
	os.WriteFile(filepath.Join(tmp, "c3-N3.jpg"), []byte("being written"), 0o644)
	os.WriteFile(filepath.Join(s.Previews.Name(), "N4.jpg"), []byte("a preview"), 0o644)
	os.Chtimes(filepath.Join(s.Previews.Name(), "N4.jpg"), old, old)
	n, err := s.CleanTemp(time.Now().Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want the 2 old leftovers", n, err)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != 1 || left[0].Name() != "c3-N3.jpg" {
		t.Fatalf("left in the temporary directory: %v", left)
	}
	if _, err := os.Stat(filepath.Join(s.Previews.Name(), "N4.jpg")); err != nil {
		t.Fatal("a preview was removed")
	}
}
