package schema_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/schema"
)

// fitsStorageShape loads FitsStorage's own DDL (pg_dump --schema-only of the tables its
// models create) into an empty database and reads its shape.
func fitsStorageShape(t *testing.T) schema.Shape {
	t.Helper()
	ddl, err := os.ReadFile("testdata/fscore.sql")
	if err != nil {
		t.Fatal(err)
	}
	// psql's own lines (\restrict) are no SQL.
	var sql strings.Builder
	for _, line := range strings.Split(string(ddl), "\n") {
		if !strings.HasPrefix(line, "\\") {
			sql.WriteString(line + "\n")
		}
	}
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	ctx := context.Background()
	if _, err := conn.Exec(ctx, sql.String()); err != nil {
		t.Fatalf("load fscore.sql: %v", err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		t.Fatal(err)
	}
	s, err := schema.ReadShape(ctx, conn)
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
