package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/schema"
)

// loadFitsStorageInto runs FitsStorage's own DDL (pg_dump --schema-only of the tables its
// models create) on conn.
func loadFitsStorageInto(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	pgtest.RunSQLFile(t, conn, "fitsstorage/fscore.sql")
}

// fitsStorageShape loads FitsStorage's DDL into an empty database and reads its shape.
func fitsStorageShape(t *testing.T) schema.Shape {
	t.Helper()
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	loadFitsStorageInto(t, conn)
	s, err := schema.ReadShape(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Columns) != 201 || len(s.Enums) != 31 || len(s.Constraints) != 35 { // counted in the file
		t.Fatalf("the fixture read as %d columns, %d enums, %d constraints; the file has 201, 31 and 35",
			len(s.Columns), len(s.Enums), len(s.Constraints))
	}
	return s
}

// A fresh db init holds every FitsStorage table, column (type, nullability, sequence), enum
// type (values in order) and constraint of the fixture: FitsStorage's own software can use it.
func TestInitIsASupersetOfFitsStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := fitsStorageShape(t)
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := schema.Init(ctx, conn); err != nil {
		t.Fatal(err)
	}
	have, err := schema.ReadShape(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if lacks := want.Lacks(have); len(lacks) > 0 {
		t.Fatalf("db init lacks %d things of FitsStorage's schema:\n%s", len(lacks), strings.Join(lacks, "\n"))
	}

	// The comparison itself sees what is missing or different.
	if _, err := conn.Exec(ctx, `ALTER TABLE gmos DROP COLUMN nod_count;
		ALTER TABLE header ALTER COLUMN diskfile_id DROP NOT NULL;
		ALTER TABLE ingestqueue DROP CONSTRAINT ingestqueue_filename_path_inprogress_fail_dt_key;
		ALTER TYPE obsclass RENAME VALUE 'acq' TO 'acquisition'`); err != nil {
		t.Fatal(err)
	}
	if have, err = schema.ReadShape(ctx, conn); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(want.Lacks(have), "\n")
	for _, w := range []string{"column gmos.nod_count is missing", "column header.diskfile_id is nullable, not NOT NULL",
		"constraint ingestqueue.ingestqueue_filename_path_inprogress_fail_dt_key (UNIQUE (filename, path, inprogress, fail_dt)) is missing",
		"enum type obsclass has values"} {
		if !strings.Contains(got, w) {
			t.Errorf("the comparison missed %q; it said:\n%s", w, got)
		}
	}
}

// A database made by an older agentctl (version 3) migrates to the same superset, its queue
// rows kept with FitsStorage's conventions.
func TestMigrationToFitsStorageShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := fitsStorageShape(t)
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := schema.MigrateTo(ctx, conn, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO ingestqueue (filename, path, sortkey) VALUES ('N20200101S0001.fits', '', 'a');
		INSERT INTO ingestqueue (filename, path, sortkey, fail_dt, error, claim_token)
			VALUES ('N20200101S0002.fits', '', 'b', now(), 'broken', gen_random_uuid());
		INSERT INTO file (name) VALUES ('N20200101S0003.fits');
		INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5, data_size, data_md5, compressed, lastmod)
			SELECT id, name, '', true, true, 1, 'x', 1, 'x', false, now() FROM file;
		INSERT INTO header (diskfile_id, telescope, qa_state, observation_type, central_wavelength, ra, ut_datetime)
			SELECT id, 'Gemini-North', 'UNKNOWN', 'OBJECT', 520, 10.5, '2020-01-27 06:11:21.9' FROM diskfile;`); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	have, err := schema.ReadShape(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if lacks := want.Lacks(have); len(lacks) > 0 {
		t.Fatalf("the migrated database lacks:\n%s", strings.Join(lacks, "\n"))
	}
	var pending, failed int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE fail_dt = '9999-12-31 23:59:59.999999' AND id IS NOT NULL),
		count(*) FILTER (WHERE fail_dt < '9999-01-01' AND error = 'broken') FROM ingestqueue`).Scan(&pending, &failed); err != nil {
		t.Fatal(err)
	}
	if pending != 1 || failed != 1 {
		t.Errorf("after the migration: %d pending (fail_dt = datetime.max, with an id), %d failed; want 1 and 1", pending, failed)
	}
	var secs int64
	if err := conn.QueryRow(ctx, `SELECT ut_datetime_secs FROM header`).Scan(&secs); err != nil || secs != 633420681 {
		t.Errorf("ut_datetime_secs after the migration: %d, %v; want 633420681 (from 2000-01-01, truncated)", secs, err)
	}
	var tel, qa, obstype *string
	var cw *float64
	if err := conn.QueryRow(ctx, `SELECT telescope::text, qa_state::text, observation_type::text, central_wavelength::float8 FROM header`).Scan(&tel, &qa, &obstype, &cw); err != nil {
		t.Fatal(err)
	}
	if tel == nil || *tel != "Gemini-North" || obstype == nil || *obstype != "OBJECT" || qa != nil || cw != nil {
		t.Errorf("header after the migration: telescope %v, obstype %v, qa_state %v, central_wavelength %v; want the enum values kept and the raw ones NULL",
			deref(tel), deref(obstype), deref(qa), cw)
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

var update = flag.Bool("update", false, "rewrite fitsstorage/shape.json from fitsstorage/fscore.sql")

// The shape Adopt checks (embedded fitsstorage/shape.json) is the one fscore.sql gives.
func TestEmbeddedFitsStorageShape(t *testing.T) {
	t.Parallel()
	want := fitsStorageShape(t)
	if *update {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("fitsstorage/shape.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := schema.FitsStorageShape(); !reflect.DeepEqual(got, want) {
		t.Fatal("fitsstorage/shape.json differs from the shape of fitsstorage/fscore.sql; run go test ./internal/schema -run TestEmbeddedFitsStorageShape -update")
	}
}

// A database FitsStorage made (its DDL and rows of its own) is adopted: agentd's schema
// version recorded, FitsStorage's shape and rows kept, agentd's columns there.
func TestAdopt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewEmptyDB(t)
	conn := pgtest.Conn(t, url)
	loadFitsStorageInto(t, conn)
	if _, err := conn.Exec(ctx, `INSERT INTO ingestqueue (filename, path, inprogress, fail_dt, added, sortkey)
		VALUES ('N20200101S0001.fits', '', false, '9999-12-31 23:59:59.999999', now(), 'z202001010001')`); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, conn); !errors.Is(err, schema.ErrNotArchive) {
		t.Fatalf("Check before adopting: %v, want ErrNotArchive", err)
	}
	if err := schema.Adopt(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, conn); err != nil {
		t.Fatalf("Check after adopting: %v", err)
	}
	have, err := schema.ReadShape(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if lacks := schema.FitsStorageShape().Lacks(have); len(lacks) > 0 {
		t.Fatalf("adopting changed FitsStorage's shape: %v", lacks)
	}
	var attempts int
	var id int
	if err := conn.QueryRow(ctx, `SELECT id, attempts FROM ingestqueue`).Scan(&id, &attempts); err != nil || id != 1 {
		t.Fatalf("FitsStorage's queue row after adopting: id %d, attempts %d, %v", id, attempts, err)
	}
	if err := schema.Adopt(ctx, conn); !errors.Is(err, schema.ErrNotEmpty) {
		t.Fatalf("adopting again: %v, want ErrNotEmpty (ours already)", err)
	}
	if applied, err := schema.Migrate(ctx, conn); err != nil || len(applied) != 0 {
		t.Fatalf("migrate after adopting: %v, %v; want nothing to do", applied, err)
	}
}

// Adopt refuses an empty database and one that is neither ours nor FitsStorage's, naming
// what it lacks; nothing is written.
func TestAdoptRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if err := schema.Adopt(ctx, empty); !errors.Is(err, schema.ErrNoSchema) {
		t.Errorf("empty database: %v, want ErrNoSchema", err)
	}
	other := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	loadFitsStorageInto(t, other)
	if _, err := other.Exec(ctx, `ALTER TABLE ingestqueue DROP COLUMN sortkey; DROP TABLE gmos`); err != nil {
		t.Fatal(err)
	}
	err := schema.Adopt(ctx, other)
	if !errors.Is(err, schema.ErrNotFitsStorage) || !strings.Contains(err.Error(), "column ingestqueue.sortkey is missing") ||
		!strings.Contains(err.Error(), "table gmos is missing") {
		t.Fatalf("foreign database: %v, want ErrNotFitsStorage naming what it lacks", err)
	}
	var n int
	other.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE proname LIKE 'agentd_%'`).Scan(&n)
	if n != 0 {
		t.Fatalf("a refused adoption left %d functions", n)
	}
}
