package pgsync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostileName is a column name long enough that a same-length SQL payload can take its
// place (with its type) inside a real pg_dump archive, whose TOC strings are
// length-prefixed.
var hostileName = "A" + strings.Repeat("a", 62) // NAMEDATALEN - 1; quoted by pg_dump

const hostilePayload = `a integer); CREATE TABLE pwned AS SELECT current_user AS who; CREATE TEMP TABLE zz (q int`

// hostileDump makes a real pg_dump of srcURL in format way, then rewrites the column
// declaration `"aaa…" character varying(1000)` into an injection of the same length, as a tampered
// backup would carry it.
func hostileDump(t *testing.T, srcURL, way string) string {
	t.Helper()
	gz := way == "plain.gz"
	if gz {
		way = "plain"
	}
	path := makeDump(t, srcURL, way)
	old := []byte(`"` + hostileName + `" character varying(1000)`)
	payload := []byte(hostilePayload)
	if len(payload) > len(old) {
		t.Fatalf("payload longer than the declaration it replaces")
	}
	payload = append(payload, bytes.Repeat([]byte(" "), len(old)-len(payload))...)
	files := []string{path}
	if way == "directory" {
		files = []string{filepath.Join(path, "toc.dat")}
	}
	patched := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, old); n > 0 {
			patched += n
			b = bytes.ReplaceAll(b, old, payload)
			// The COPY column list names the column as the payload does.
			quoted := []byte(`"` + hostileName + `"`)
			b = bytes.ReplaceAll(b, quoted, append([]byte("a"), bytes.Repeat([]byte(" "), len(quoted)-1)...))
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if patched == 0 {
		t.Fatalf("%s dump: the column declaration to tamper with was not found", way)
	}
	if gz {
		if out, err := exec.Command("gzip", path).CombinedOutput(); err != nil {
			t.Fatalf("gzip: %v\n%s", err, out)
		}
		path += ".gz"
	}
	return path
}

// A dump whose column type text carries SQL is refused before anything runs on the target,
// in every dump format, with and without --dry-run; the error names table, column and text.
func TestHostileDumpTypeNeverReachesSQL(t *testing.T) {
	t.Parallel()
	srcURL, _ := db(t, `CREATE TABLE hostile (id integer, "`+hostileName+`" character varying(1000)); INSERT INTO hostile VALUES (1, 'x');`)
	for _, way := range []string{"plain", "plain.gz", "custom", "directory"} {
		for _, dry := range []bool{true, false} {
			name := way
			if dry {
				name += " dry-run"
			}
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				_, dst := db(t, `CREATE TABLE hostile (id integer, a integer)`)
				d, err := OpenDump(ctx, hostileDump(t, srcURL, way), nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = Transfer(ctx, d, dst, Options{Request: Request{Tables: []string{"hostile"}, AllowDrop: true}, DryRun: dry})
				var pwned bool
				if err := dst.QueryRow(ctx, `SELECT to_regclass('pwned') IS NOT NULL`).Scan(&pwned); err != nil || pwned {
					t.Fatalf("the dump's SQL ran on the target: table pwned exists (%v)", err)
				}
				if !errors.Is(err, ErrPlan) || !strings.Contains(err.Error(), "hostile") || !strings.Contains(err.Error(), "column a") ||
					!strings.Contains(err.Error(), "CREATE TABLE pwned") {
					t.Fatalf("transfer of a hostile dump = %v; want a plan error naming table, column and type text", err)
				}
				var rows int
				dst.QueryRow(ctx, `SELECT count(*) FROM hostile`).Scan(&rows)
				if rows != 0 {
					t.Fatalf("%d rows written", rows)
				}
			})
		}
	}
}
