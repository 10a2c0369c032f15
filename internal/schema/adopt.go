package schema

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNotFitsStorage is returned by Adopt for a database that is neither ours nor one
// FitsStorage's software made: what it lacks is named.
var ErrNotFitsStorage = errors.New("not a FitsStorage database")

//go:embed fitsstorage/adopt.sql
var adoptSQL string

// fitsStorageShape is the shape of the tables FitsStorage's models create (fscore.sql, read
// into a database by the test that writes and checks this file).
//
//go:embed fitsstorage/shape.json
var fitsStorageShape []byte

// FitsStorageShape is what a database FitsStorage made must have.
func FitsStorageShape() Shape {
	var s Shape
	if err := json.Unmarshal(fitsStorageShape, &s); err != nil {
		panic(err) // embedded and tested
	}
	return s
}

// adoptedVersion is the schema adopt.sql brings a FitsStorage database to; the migrations
// after it are applied as they are to a database of ours (they are written for both).
const adoptedVersion = 4

// AdoptSQL is what Adopt runs, for --dry-run: adopt.sql, then the later migrations.
func AdoptSQL() string {
	sql := adoptSQL
	for _, m := range Migrations() {
		if m.Version > adoptedVersion {
			sql += fmt.Sprintf("\n-- migration %d (%s)\n%s", m.Version, m.Name, m.SQL)
		}
	}
	return sql
}

// Adopt turns a database FitsStorage's own software created into one agentd serves: it
// checks that the database has every FitsStorage table, column, type and constraint agentd
// relies on (else ErrNotFitsStorage, naming what is missing), adds agentd's functions,
// columns, defaults and indexes (AdoptSQL), and records this program's schema version — in
// one transaction, under the migration lock. FitsStorage's own tables, columns and data are
// not changed. A database that is ours already is refused (ErrNotEmpty), an empty one too
// (ErrNoSchema: use Init).
func Adopt(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("adopt: lock: %w", err)
	}
	v, err := current(ctx, tx)
	switch {
	case err == nil && v > 0:
		return fmt.Errorf("%w: it is an archive database of ours already (schema version %d); use agentctl db migrate", ErrNotEmpty, v)
	case err == nil:
		return fmt.Errorf("%w: the database is empty; use agentctl db init", ErrNoSchema)
	case !errors.Is(err, ErrNotArchive):
		return err
	}
	have, err := ReadShape(ctx, tx)
	if err != nil {
		return err
	}
	if lacks := FitsStorageShape().Lacks(have); len(lacks) > 0 {
		shown := lacks[:min(len(lacks), 10)]
		more := ""
		if len(lacks) > len(shown) {
			more = fmt.Sprintf("; and %d more", len(lacks)-len(shown))
		}
		return fmt.Errorf("%w: %s%s", ErrNotFitsStorage, strings.Join(shown, "; "), more)
	}
	for _, name := range []string{"agentd_filekey", "agentd_not_failed", "agentd_enum_or_null"} {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regproc($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("%w: it has agentd's function %s but no schema version; it was adopted in part by hand: fix it by hand", ErrNotFitsStorage, name)
		}
	}
	if _, err := tx.Exec(ctx, adoptSQL); err != nil {
		return fmt.Errorf("adopt: %w; nothing was changed (a unique index of agentd's may meet rows that break it: two in-progress rows of one file, two present canonical versions of one file)", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+VersionTable+` (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	for _, m := range Migrations() {
		if m.OutsideTransaction() {
			break // applied by Migrate below, outside this transaction
		}
		name := "adopted: " + m.Name
		if m.Version > adoptedVersion {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("adopt: migration %d (%s): %w; nothing was changed", m.Version, m.Name, err)
			}
			name = m.Name
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+VersionTable+` (version, name) VALUES ($1, $2)`, m.Version, name); err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if _, err := Migrate(ctx, conn); err != nil {
		return fmt.Errorf("adopted; then %w", err)
	}
	return nil
}
