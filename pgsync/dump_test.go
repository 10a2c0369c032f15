package pgsync

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

const smallSchema = `CREATE TABLE usagelog (id serial PRIMARY KEY, uri text);
	INSERT INTO usagelog (uri) SELECT '/' || i FROM generate_series(1, 10) i;`

func TestDumpBadInputs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srcURL, _ := db(t, smallSchema)

	// Not a dump at all.
	junk := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(junk, []byte("shopping list\n"), 0o644)
	if _, err := OpenDump(ctx, junk); !errors.Is(err, ErrNotDump) {
		t.Errorf("text file: %v, want ErrNotDump", err)
	}
	// A missing file cannot be read.
	if _, err := OpenDump(ctx, filepath.Join(t.TempDir(), "nosuch")); !errors.Is(err, ErrConnect) {
		t.Errorf("missing file: %v, want ErrConnect", err)
	}

	// A dump made with --inserts is refused, naming the option.
	_, dst := db(t, `CREATE TABLE usagelog (id serial PRIMARY KEY, uri text);`)
	ins := filepath.Join(t.TempDir(), "inserts.sql")
	if out, err := execOut("pg_dump", "--inserts", "-f", ins, srcURL); err != nil {
		t.Fatalf("pg_dump: %v %s", err, out)
	}
	d, err := OpenDump(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Transfer(ctx, d, dst, Options{Request: Request{Tables: []string{"usagelog"}}}); !errors.Is(err, ErrInserts) || !strings.Contains(err.Error(), "--inserts") {
		t.Errorf("--inserts dump: %v, want ErrInserts", err)
	}

	// A plain dump cut in the middle of its data.
	plain := makeDump(t, srcURL, "plain")
	whole, _ := os.ReadFile(plain)
	cut := strings.Index(string(whole), "/5\n")
	os.WriteFile(plain, whole[:cut], 0o644)
	if d, err = OpenDump(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if _, err := Transfer(ctx, d, dst, Options{Request: Request{Tables: []string{"usagelog"}}}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated dump: %v, want an error saying truncated", err)
	}

	// A dump of another database: none of the preset's tables.
	d, err = OpenDump(ctx, makeDump(t, srcURL, "custom"))
	if err != nil {
		t.Fatal(err)
	}
	archive := pgtest.Conn(t, pgtest.NewDB(t)) // our schema: every preset table
	if _, err := Transfer(ctx, d, archive, Options{Request: Request{Presets: []string{"summit"}}}); !errors.Is(err, ErrNoTable) || !strings.Contains(err.Error(), "none of the requested tables") {
		t.Errorf("other database's dump: %v, want ErrNoTable", err)
	}
	var n int
	dst.QueryRow(ctx, `SELECT count(*) FROM usagelog`).Scan(&n)
	if n != 0 {
		t.Errorf("failed transfers wrote %d rows", n)
	}
}

// A dump from a newer pg_dump: the archive version in the header is beyond this pg_restore.
// The error says so and names the pg_dump that made it.
func TestDumpFromNewerPgDump(t *testing.T) {
	t.Parallel()
	srcURL, _ := db(t, smallSchema)
	path := makeDump(t, srcURL, "custom")
	b, _ := os.ReadFile(path)
	b[6] = 99 // archive format 1.99
	os.WriteFile(path, b, 0o644)
	_, err := OpenDump(context.Background(), path)
	if !errors.Is(err, ErrNotDump) || !strings.Contains(err.Error(), "newer pg_dump, by pg_dump 15") || !strings.Contains(err.Error(), "postgresql-client") {
		t.Fatalf("newer dump: %v", err)
	}
}

func FuzzReadDumpSchema(f *testing.F) {
	for _, file := range []string{"testdata/fs2020.sql", "testdata/fshead.sql"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b[:min(len(b), 4000)]))
	}
	f.Add("CREATE TABLE public.\"t\"\"x\" (\n    \"a b\" integer DEFAULT 1 NOT NULL,\n    g integer GENERATED ALWAYS AS ((a * 2)) STORED\n);\n")
	f.Add("COPY public.t (a, \"b\") FROM stdin;\n1\t2\n\\.\nSELECT pg_catalog.setval('public.t_id_seq', 5, false);\n")
	f.Fuzz(func(t *testing.T, sql string) {
		cat, _, err := ReadDumpSchema(strings.NewReader(sql))
		if err != nil {
			return
		}
		for name, tab := range cat {
			if tab == nil || tab.Name != name {
				t.Fatalf("table %q: %+v", name, tab)
			}
			for _, c := range tab.Columns {
				if c.Name == "" && c.Type == "" {
					t.Fatalf("empty column in %q", name)
				}
			}
		}
		_ = readDumpData(strings.NewReader(sql), dataHandler{
			want: func(string) bool { return true },
			copy: func(_ string, _ []string, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err },
		})
	})
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// repeatReader yields n bytes of c.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = r.c
	}
	r.n -= k
	return int(k), nil
}

// A 256 MiB line outside the COPY data (a comment, a function body) is skipped without
// being held in memory, and the tables around it are read.
func TestLongDumpLineIsNotHeld(t *testing.T) {
	dump := io.MultiReader(
		strings.NewReader("COMMENT ON DATABASE x IS '"),
		&repeatReader{c: 'x', n: 256 << 20},
		strings.NewReader("';\nCREATE TABLE public.notes (\n    id integer NOT NULL,\n    v text\n);\n"),
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cat, _, err := ReadDumpSchema(dump)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if tb := cat["notes"]; tb == nil || len(tb.Columns) != 2 {
		t.Fatalf("catalog %v; want notes with 2 columns", cat)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Fatalf("reading a 256 MiB line allocated %d MiB; want it skipped, not held", grew>>20)
	}
}
