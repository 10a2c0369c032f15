// Package schema owns the archive database's schema: the versioned SQL migrations embedded in
// the binaries, applying them (each in one transaction) and checking that a database is an
// archive database at the version this binary understands.
//
// # Caveats
//
// Versions only grow. A binary refuses a database whose version is newer than its own
// (ErrTooNew): an old agentd must not write into a schema it does not know. A database with
// tables but without the version table is not ours (ErrNotArchive) and is never migrated.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable records which migrations a database has had.
const VersionTable = "agentd_schema_version"

// lockKey is the advisory lock that serialises migrations of one database.
const lockKey = 0x61676e74 // "agnt"

var (
	// ErrNotArchive is returned when the database holds tables but no schema version: it is
	// not an archive database created by agentctl db init.
	ErrNotArchive = errors.New("not an archive database")
	// ErrNotEmpty is returned by Init when the database already holds tables.
	ErrNotEmpty = errors.New("database is not empty")
	// ErrTooNew is returned when the database's schema is newer than this binary's.
	ErrTooNew = errors.New("database schema is newer than this program")
	// ErrOutdated is returned by Check when migrations are pending.
	ErrOutdated = errors.New("database schema is older than this program")
	// ErrNoSchema is returned by Check on an empty database.
	ErrNoSchema = errors.New("database has no archive schema")
)

// Migration is one embedded SQL file, named NNNN_description.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("schema: badly named migration " + e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Latest is the version this binary brings.
func Latest() int {
	m := Migrations()
	return m[len(m)-1].Version
}

// Querier is a connection, pool or transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func current(ctx context.Context, q Querier) (int, error) {
	var hasVersion bool
	var tables int
	err := q.QueryRow(ctx, `
		SELECT to_regclass($1) IS NOT NULL,
		       (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())`,
		VersionTable).Scan(&hasVersion, &tables)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !hasVersion {
		if tables > 0 {
			return 0, fmt.Errorf("%w: it has %d tables but no %s table (a database FitsStorage's software made is adopted with agentctl db adopt)", ErrNotArchive, tables, VersionTable)
		}
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+VersionTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Version reports the database's schema version (0: empty database).
func Version(ctx context.Context, conn *pgx.Conn) (int, error) {
	return current(ctx, conn)
}

// Check returns nil when the database is an archive database at exactly this binary's version.
func Check(ctx context.Context, q Querier) error {
	v, err := current(ctx, q)
	if err != nil {
		return err
	}
	latest := Latest()
	switch {
	case v == 0:
		return fmt.Errorf("%w: run agentctl db init", ErrNoSchema)
	case v > latest:
		return fmt.Errorf("%w: database is at version %d, this program knows up to %d; use a newer release", ErrTooNew, v, latest)
	case v < latest:
		return fmt.Errorf("%w: database is at version %d, this program needs %d; run agentctl db migrate", ErrOutdated, v, latest)
	}
	return nil
}

// Init creates the archive schema in an empty database.
func Init(ctx context.Context, conn *pgx.Conn) (applied []Migration, err error) {
	return apply(ctx, conn, true, Latest())
}

// Migrate applies the migrations the database lacks and returns them.
func Migrate(ctx context.Context, conn *pgx.Conn) (applied []Migration, err error) {
	return apply(ctx, conn, false, Latest())
}

// apply applies the migrations up to version upTo that the database lacks.
func apply(ctx context.Context, conn *pgx.Conn, mustBeEmpty bool, upTo int) ([]Migration, error) {
	var applied []Migration
	for _, m := range Migrations() {
		if m.Version > upTo {
			break
		}
		done, err := applyOne(ctx, conn, m, mustBeEmpty && len(applied) == 0)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m)
		}
	}
	if mustBeEmpty && len(applied) == 0 {
		return nil, fmt.Errorf("%w: it already has an archive schema", ErrNotEmpty)
	}
	return applied, nil
}

// outsideTx marks a migration whose statements run one by one outside a transaction (CREATE
// INDEX CONCURRENTLY, which must not block a live archive's writers for a whole build).
const outsideTx = "-- agentd: outside a transaction"

// OutsideTransaction reports whether m runs outside a transaction.
func (m Migration) OutsideTransaction() bool { return strings.HasPrefix(m.SQL, outsideTx) }

// concurrentIndex finds the name of a CREATE INDEX CONCURRENTLY IF NOT EXISTS statement.
var concurrentIndex = regexp.MustCompile(`(?s)^\s*(?:--[^\n]*\n\s*)*CREATE (?:UNIQUE )?INDEX CONCURRENTLY IF NOT EXISTS ([a-z0-9_]+) `)

// applyOutside applies a migration that runs outside a transaction: under the session's
// migration lock, each statement alone; an index left invalid by an interrupted build is
// dropped and built again; the version is recorded at the end, so an interrupted run is
// finished by running it again.
func applyOutside(ctx context.Context, conn *pgx.Conn, m Migration) (bool, error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return false, fmt.Errorf("lock schema for migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck // the session ends soon anyway
	v, err := current(ctx, conn)
	if err != nil {
		return false, err
	}
	if v >= m.Version {
		return false, nil
	}
	if v != m.Version-1 {
		return false, fmt.Errorf("apply migration %d (%s): the database is at version %d", m.Version, m.Name, v)
	}
	for _, stmt := range strings.Split(m.SQL, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if name := concurrentIndex.FindStringSubmatch(stmt); name != nil {
			var valid *bool
			err := conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`, name[1]).Scan(&valid)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return false, fmt.Errorf("apply migration %d: index %s: %w", m.Version, name[1], err)
			}
			if valid != nil && !*valid {
				if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{name[1]}.Sanitize()); err != nil {
					return false, fmt.Errorf("apply migration %d: drop the invalid index %s: %w", m.Version, name[1], err)
				}
			}
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return false, fmt.Errorf("apply migration %d (%s): %w; run agentctl db migrate again to finish it", m.Version, m.Name, err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO `+VersionTable+` (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return false, fmt.Errorf("record migration %d: %w", m.Version, err)
	}
	return true, nil
}

// stripComments removes the SQL line comments of s.
func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// applyOne applies m in its own transaction unless the database already has it.
func applyOne(ctx context.Context, conn *pgx.Conn, m Migration, mustBeEmpty bool) (bool, error) {
	if m.OutsideTransaction() && !mustBeEmpty {
		return applyOutside(ctx, conn, m)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin migration %d: %w", m.Version, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return false, fmt.Errorf("lock schema for migration: %w", err)
	}
	v, err := current(ctx, tx)
	if err != nil {
		return false, err
	}
	if mustBeEmpty && v != 0 {
		return false, fmt.Errorf("%w: it already has an archive schema at version %d", ErrNotEmpty, v)
	}
	if v > Latest() {
		return false, fmt.Errorf("%w: database is at version %d, this program knows up to %d", ErrTooNew, v, Latest())
	}
	if v >= m.Version {
		return false, nil
	}
	if v == 0 {
		if _, err := tx.Exec(ctx, `CREATE TABLE `+VersionTable+` (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return false, fmt.Errorf("create %s: %w", VersionTable, err)
		}
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("apply migration %d (%s): %w", m.Version, m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+VersionTable+` (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
		return false, fmt.Errorf("record migration %d: %w", m.Version, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit migration %d: %w", m.Version, err)
	}
	return true, nil
}
