package schema_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/schema"
)

func TestInitThenCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if err := schema.Check(ctx, conn); !errors.Is(err, schema.ErrNoSchema) {
		t.Fatalf("Check on empty database = %v, want ErrNoSchema", err)
	}
	applied, err := schema.Init(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(schema.Migrations()) {
		t.Fatalf("applied %d migrations, want %d", len(applied), len(schema.Migrations()))
	}
	if err := schema.Check(ctx, conn); err != nil {
		t.Fatalf("Check after init: %v", err)
	}
	for _, table := range []string{"file", "diskfile", "header", "preview", "ingestqueue",
		"calcachequeue", "calcache", "users", "userprogram", "notification", "glacier", "usagelog",
		"querylog", "downloadlog", "filedownloadlog", "fileuploadlog", "qareport", "qametriciq",
		"qametricpe", "qametricsb", "qametriczp"} {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after init (err %v)", table, err)
		}
	}
	if _, err := schema.Init(ctx, conn); !errors.Is(err, schema.ErrNotEmpty) {
		t.Fatalf("second Init = %v, want ErrNotEmpty", err)
	}
	applied, err = schema.Migrate(ctx, conn)
	if err != nil || len(applied) != 0 {
		t.Fatalf("Migrate on current schema applied %d, err %v; want 0, nil", len(applied), err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewDB(t))
	if _, err := conn.Exec(ctx, `INSERT INTO `+schema.VersionTable+` (version, name) VALUES ($1, 'future')`, schema.Latest()+1); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, conn); !errors.Is(err, schema.ErrTooNew) {
		t.Fatalf("Check = %v, want ErrTooNew", err)
	}
	if _, err := schema.Migrate(ctx, conn); !errors.Is(err, schema.ErrTooNew) {
		t.Fatalf("Migrate = %v, want ErrTooNew", err)
	}
}

func TestRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := conn.Exec(ctx, `CREATE TABLE stuff (id int)`); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, conn); !errors.Is(err, schema.ErrNotArchive) {
		t.Fatalf("Check = %v, want ErrNotArchive", err)
	}
	if _, err := schema.Init(ctx, conn); !errors.Is(err, schema.ErrNotArchive) {
		t.Fatalf("Init = %v, want ErrNotArchive", err)
	}
	if _, err := schema.Migrate(ctx, conn); !errors.Is(err, schema.ErrNotArchive) {
		t.Fatalf("Migrate = %v, want ErrNotArchive", err)
	}
}

func TestPresentCanonicalInvariant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewDB(t))
	ins := `INSERT INTO diskfile (file_id, filename, path, present, canonical, file_size, file_md5,
		data_size, data_md5, compressed, lastmod) VALUES (1, 'a.fits', $1, true, true, 0, '', 0, '', false, now())`
	if _, err := conn.Exec(ctx, `INSERT INTO file (id, name) VALUES (1, 'a.fits')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, ins, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, ins, "y"); err == nil {
		t.Fatal("a second present canonical diskfile of one file was accepted")
	}
}

// Migration 3 reshapes the queues of a live database: the rows in them survive, a failed
// row gets the token that names it from now on, and one pending row per (filename, path)
// still holds through the new index.
func TestMigration3KeepsQueueRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := schema.MigrateTo(ctx, conn, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO ingestqueue (filename, path, filekey, sortkey, inprogress, fail_dt, claim_token, lease_until) VALUES
		('N20200101S0001.fits', 'a', 'N20200101S0001.fits', 'z202001010001', false, NULL, NULL, NULL),
		('N20200101S0002.fits', 'a', 'N20200101S0002.fits', 'z202001010002', false, now(), NULL, NULL),
		('N20200101S0003.fits', 'a', 'N20200101S0003.fits', 'z202001010003', true, NULL, gen_random_uuid(), now())`); err != nil {
		t.Fatal(err)
	}
	applied, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != schema.Latest()-2 {
		t.Fatalf("applied %d migrations, want %d", len(applied), schema.Latest()-2)
	}
	var n, failedWithToken int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE fail_dt < '9999-12-31' AND claim_token IS NOT NULL)
		FROM ingestqueue`).Scan(&n, &failedWithToken); err != nil {
		t.Fatal(err)
	}
	if n != 3 || failedWithToken != 1 {
		t.Fatalf("after migration: %d rows, %d failed with a token; want 3 and 1", n, failedWithToken)
	}
	_, err = conn.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey)
		VALUES ('N20200101S0001.fits', 'a', 'z202001010001')`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second pending row for one file: err %v, want a unique violation", err)
	}
	// The .bz2 twin of the file in progress cannot run beside it.
	_, err = conn.Exec(ctx, `INSERT INTO ingestqueue (filename, path, sortkey, inprogress, claim_token)
		VALUES ('N20200101S0003.fits.bz2', 'b', 'z202001010003', true, gen_random_uuid())`)
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second in-progress row for one file: err %v, want a unique violation", err)
	}
}
