// Package pgtest gives tests real PostgreSQL databases: each call to NewDB creates a fresh
// database holding the archive schema (cloned from a template built once per schema version),
// dropped when the test ends.
//
// The server comes from TEST_DATABASE_URL (scripts/test.sh starts a private cluster and sets
// it), else from libpq's PG* variables. There is no fallback to a fake: a test that needs a
// database fails when none can be reached, with a line saying how to get one.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/schema"
)

// Prefix starts the name of every database this package creates.
const Prefix = "agentd_test_"

// AdminURL is the URL of the server's maintenance database that tests are given.
func AdminURL() string {
	return os.Getenv("TEST_DATABASE_URL")
}

// connect opens a connection to dbname on the test server.
func connect(ctx context.Context, t testing.TB, dbname string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		t.Fatalf("pgtest: bad TEST_DATABASE_URL: %v", err)
	}
	if dbname != "" {
		cfg.Database = dbname
	}
	cfg.RuntimeParams["application_name"] = "pgtest"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: cannot reach the test PostgreSQL (%v); run the tests with scripts/test.sh, "+
			"or set TEST_DATABASE_URL to a server where this user may create databases", err)
	}
	return conn
}

// URLFor returns the URL of database dbname on the test server.
func URLFor(t testing.TB, dbname string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(AdminURL())
	if err != nil {
		t.Fatalf("pgtest: bad TEST_DATABASE_URL: %v", err)
	}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + dbname}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	u.RawQuery = url.Values{"host": {cfg.Host}, "port": {fmt.Sprint(cfg.Port)}}.Encode()
	return u.String()
}

// templateName names the template database of the current schema.
func templateName() string {
	h := sha256.New()
	for _, m := range schema.Migrations() {
		fmt.Fprintf(h, "%d\x00%s\x00", m.Version, m.SQL)
	}
	return Prefix + "tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

func randomName(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	if len(name) > 30 {
		name = name[:30]
	}
	return Prefix + name + "_" + hex.EncodeToString(b[:])
}

// ensureTemplate builds the schema template once per server and schema version.
func ensureTemplate(ctx context.Context, t testing.TB, admin *pgx.Conn) string {
	t.Helper()
	tmpl := templateName()
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(7364)`); err != nil {
		t.Fatalf("pgtest: lock: %v", err)
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(7364)`) //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if exists {
		return tmpl
	}
	building := tmpl + "_new"
	ident := pgx.Identifier{building}.Sanitize()
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+ident+` TEMPLATE template0`); err != nil {
		t.Fatalf("pgtest: create template: %v", err)
	}
	conn := connect(ctx, t, building)
	if _, err := schema.Init(ctx, conn); err != nil {
		t.Fatalf("pgtest: schema init: %v", err)
	}
	conn.Close(ctx)
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+ident+` RENAME TO `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("pgtest: rename template: %v", err)
	}
	return tmpl
}

// NewDB creates a fresh database holding the current archive schema and returns its URL.
// The database is dropped when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	return newDB(t, true)
}

// NewEmptyDB creates a fresh empty database and returns its URL; dropped when the test ends.
func NewEmptyDB(t testing.TB) string {
	t.Helper()
	return newDB(t, false)
}

func newDB(t testing.TB, withSchema bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := connect(ctx, t, "")
	defer admin.Close(ctx)
	tmpl := "template0"
	if withSchema {
		tmpl = ensureTemplate(ctx, t, admin)
	}
	name := randomName(t)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+ident+` TEMPLATE `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin := connect(ctx, t, "")
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return URLFor(t, name)
}

// Pool opens a pool on url, closed when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "test/" + t.Name()
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Conn opens one connection to url, closed when the test ends.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// RunSQLFile runs the SQL script at path (a pg_dump --schema-only, say) on conn, leaving out
// psql's own lines (\restrict …), and leaves the session's search_path at public (pg_dump
// empties it).
func RunSQLFile(t testing.TB, conn *pgx.Conn, path string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var sql strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, `\`) {
			sql.WriteString(line + "\n")
		}
	}
	ctx := context.Background()
	if _, err := conn.Exec(ctx, sql.String()); err != nil {
		t.Fatalf("pgtest: run %s: %v", path, err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}
