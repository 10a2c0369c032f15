package schema_test

import (
	"context"
	"maps"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/schema"
)

// indexDefs reads the definitions of the indexes of FitsStorage's search tables, by name.
func indexDefs(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = 'public' AND tablename IN ('header', 'diskfile', 'preview', 'calcache') AND indexname LIKE 'ix\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		defs[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return defs
}

func actions(steps []schema.IndexStep) map[string]int {
	n := map[string]int{}
	for _, s := range steps {
		n[s.Action]++
	}
	return n
}

// db init leaves FitsStorage's search indexes out; BuildSearchIndexes creates exactly those
// of FitsStorage's DDL (same names, same definitions), skips the ones present, rebuilds an
// invalid one (what an interrupted concurrent build leaves), and DropSearchIndexes drops them.
func TestSearchIndexesAreFitsStorages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	loadFitsStorageInto(t, fs)
	want := indexDefs(t, fs)
	if len(want) != len(schema.SearchIndexes()) {
		t.Fatalf("FitsStorage's DDL has %d search indexes, the program knows %d", len(want), len(schema.SearchIndexes()))
	}

	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := schema.Init(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if got := indexDefs(t, conn); len(got) != 0 {
		t.Fatalf("db init created search indexes %v; a rebuild writes without them", got)
	}
	var seen []string
	steps, err := schema.BuildSearchIndexes(ctx, conn, func(s schema.IndexStep) { seen = append(seen, s.Index.Name) })
	if err != nil {
		t.Fatal(err)
	}
	if n := actions(steps); n["created"] != len(want) || len(seen) != len(want) {
		t.Fatalf("first build: %v, %d reported; want %d created", n, len(seen), len(want))
	}
	if got := indexDefs(t, conn); !maps.Equal(got, want) {
		for name, def := range want {
			if got[name] != def {
				t.Errorf("%s: built as %q; FitsStorage's is %q", name, got[name], def)
			}
		}
		t.FailNow()
	}

	if _, err := conn.Exec(ctx, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_header_ut_datetime'::regclass`); err != nil {
		t.Fatal(err)
	}
	states, err := schema.SearchIndexStates(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if states["ix_header_ut_datetime"] != schema.IndexInvalid || states["ix_header_ra"] != schema.IndexValid {
		t.Fatalf("states %v", states)
	}
	steps, err = schema.BuildSearchIndexes(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := actions(steps); n["rebuilt"] != 1 || n["present"] != len(want)-1 {
		t.Fatalf("second build: %v; want the invalid one rebuilt, the rest present", n)
	}
	if states, _ := schema.SearchIndexStates(ctx, conn); states["ix_header_ut_datetime"] != schema.IndexValid {
		t.Fatalf("after the rebuild ix_header_ut_datetime is %s", states["ix_header_ut_datetime"])
	}

	steps, err = schema.DropSearchIndexes(ctx, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := actions(steps); n["dropped"] != len(want) {
		t.Fatalf("drop: %v", n)
	}
	if got := indexDefs(t, conn); len(got) != 0 {
		t.Fatalf("left after the drop: %v", got)
	}
	if _, err := schema.BuildSearchIndexes(ctx, fs, nil); err == nil {
		t.Fatal("built indexes in a database that is not ours")
	}
}

// A migration outside a transaction (CREATE INDEX CONCURRENTLY) that was interrupted, an
// invalid index left and its version not recorded, is finished by db migrate: the invalid
// index is built again.
func TestInterruptedConcurrentMigrationIsFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewEmptyDB(t))
	if _, err := schema.Init(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// The last migration that builds an index outside a transaction; it and the later ones
	// are undone in the version table.
	builds := regexp.MustCompile(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ([a-z0-9_]+) `)
	var last schema.Migration
	for _, m := range schema.Migrations() {
		if m.OutsideTransaction() && builds.MatchString(m.SQL) {
			last = m
		}
	}
	if last.Version == 0 {
		t.Fatal("no migration builds an index outside a transaction")
	}
	if _, err := conn.Exec(ctx, `DELETE FROM `+schema.VersionTable+` WHERE version >= $1`, last.Version); err != nil {
		t.Fatal(err)
	}
	// The index that migration builds, left invalid as an interrupted build leaves it.
	name := builds.FindStringSubmatch(last.SQL)
	if _, err := conn.Exec(ctx, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, name[1]); err != nil {
		t.Fatal(err)
	}
	applied, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0].Version != last.Version {
		t.Fatalf("applied %v; want migration %d again", applied, last.Version)
	}
	var valid bool
	if err := conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = $1::regclass`, name[1]).Scan(&valid); err != nil || !valid {
		t.Fatalf("the index %s is still invalid (%v)", name[1], err)
	}
}
