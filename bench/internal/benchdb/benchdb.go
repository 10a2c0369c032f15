// Package benchdb gives a benchmark program its own archive database on the cluster named by
// TEST_DATABASE_URL (the one scripts/pg.sh starts), and drops it afterwards.
package benchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/internal/schema"
)

// DB is a scratch archive database.
type DB struct {
	Name  string
	URL   string // connection string of the new database
	admin string
}

// New creates a database with the archive schema.
func New(ctx context.Context) (*DB, error) { return create(ctx, true) }

// NewEmpty creates a database with no tables.
func NewEmpty(ctx context.Context) (*DB, error) { return create(ctx, false) }

func create(ctx context.Context, withSchema bool) (*DB, error) {
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		return nil, fmt.Errorf("TEST_DATABASE_URL is not set; run: eval \"$(scripts/pg.sh start)\" && export TEST_DATABASE_URL")
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to TEST_DATABASE_URL (run under scripts/pg.sh): %w", err)
	}
	defer conn.Close(ctx)
	var b [4]byte
	rand.Read(b[:])
	name := "agentd_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	cfg := conn.Config()
	db := &DB{Name: name, admin: admin,
		URL: fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", cfg.User, name, cfg.Host, cfg.Port)}
	if !withSchema {
		return db, nil
	}
	c, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		db.Drop(ctx)
		return nil, err
	}
	defer c.Close(ctx)
	if _, err := schema.Init(ctx, c); err != nil {
		db.Drop(ctx)
		return nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	return db, nil
}

// Drop removes the database, closing its connections.
func (db *DB) Drop(ctx context.Context) {
	conn, err := pgx.Connect(ctx, db.admin)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{db.Name}.Sanitize()+` WITH (FORCE)`) //nolint:errcheck // best effort
}

// ServerVersion is the server's version string, for the table's caption.
func ServerVersion(ctx context.Context, conn interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) string {
	var v string
	if err := conn.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// DropIndexes removes the named indexes or constraints of table (comma-separated; a
// constraint goes with its index), to measure what each costs. It reports each on w.
func DropIndexes(ctx context.Context, conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, table, names string, w io.Writer) error {
	for _, name := range strings.Split(names, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		id := pgx.Identifier{name}.Sanitize()
		if _, err := conn.Exec(ctx, `ALTER TABLE `+pgx.Identifier{table}.Sanitize()+` DROP CONSTRAINT IF EXISTS `+id+`;
			DROP INDEX IF EXISTS `+id); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		fmt.Fprintf(w, "dropped %s of %s for this run\n", name, table)
	}
	return nil
}
