// Package pgsync carries tables from an old archive database (or its pg_dump backup) into a
// freshly created one whose schema may have drifted: it plans the column mapping from both
// catalogs and a map of known renames and expressions, stages the raw rows in temporary
// tables on the target, and then moves them into place with their id sequences in one
// transaction, so that either every table arrives or the target is as it was.
package pgsync

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fitsarchive/agentd/pgdump"
)

// Querier is what catalog reads need: a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Column is one column of a table, as the catalog describes it.
type Column struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // format_type(), e.g. "character varying(20)"
	TypeOID   uint32 `json:"-"`
	NotNull   bool   `json:"not_null,omitempty"`
	Default   string `json:"default,omitempty"` // SQL expression, "" when none
	Generated bool   `json:"generated,omitempty"`
	Identity  bool   `json:"identity,omitempty"`
	// Staged marks a column read from a dump: its values are staged in a temporary table.
	// Cast is the type it is staged as: one of stagedTypes, which the dump's type text
	// resolved to on the target; "" stages it as text, cast to the target's type on the way
	// in. The dump's own type text never reaches SQL.
	Staged bool   `json:"-"`
	Cast   string `json:"-"`
}

// Table is one table of the current schema.
type Table struct {
	Name     string
	Columns  []Column
	Sequence string   // the id column's sequence (serial or identity), qualified; "" when none
	Refs     []string // tables its foreign keys point to
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Catalog is the tables of a database's current schema, by name.
type Catalog map[string]*Table

// ReadCatalog describes every ordinary table of the current schema (the first of the
// search_path, normally public).
func ReadCatalog(ctx context.Context, q Querier) (Catalog, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid,
		       a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
		       a.attgenerated <> '', a.attidentity <> ''
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	cat := Catalog{}
	for rows.Next() {
		var table string
		var c Column
		if err := rows.Scan(&table, &c.Name, &c.Type, &c.TypeOID, &c.NotNull, &c.Default, &c.Generated, &c.Identity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		t := cat[table]
		if t == nil {
			t = &Table{Name: table}
			cat[table] = t
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}

	// Foreign keys within the schema.
	rows, err = q.Query(ctx, `
		SELECT c.relname, r.relname
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_class r ON r.oid = k.confrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE k.contype = 'f' AND n.nspname = current_schema()
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			rows.Close()
			return nil, err
		}
		if t := cat[from]; t != nil && from != to {
			t.Refs = append(t.Refs, to)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}

	// The id sequences, whatever they are called: pg_get_serial_sequence follows the
	// column's ownership (serial) or identity.
	for _, t := range cat {
		if t.Column("id") == nil {
			continue
		}
		var seq *string
		if err := q.QueryRow(ctx, `SELECT pg_get_serial_sequence(quote_ident($1), 'id')`, t.Name).Scan(&seq); err != nil {
			return nil, fmt.Errorf("find the id sequence of %s: %w", t.Name, err)
		}
		if seq != nil {
			t.Sequence = *seq
		} else if name := pgdump.SequenceOfDefault(t.Column("id").Default); name != "" {
			t.Sequence = name // a default without ownership
		}
	}
	return cat, nil
}

// SequenceLast returns a sequence's last value as the next nextval would see it: the value
// already handed out (0 when none was).
func SequenceLast(ctx context.Context, q Querier, seq string) (int64, error) {
	var last int64
	var called bool
	if err := q.QueryRow(ctx, `SELECT last_value, is_called FROM `+seq).Scan(&last, &called); err != nil {
		return 0, fmt.Errorf("read sequence %s: %w", seq, err)
	}
	if !called {
		last--
	}
	return last, nil
}

// builtin reports whether the column's type is one of PostgreSQL's own (an OID below
// FirstNormalObjectId), which exists on the target under the same name and binary format.
func builtin(c Column) bool { return c.TypeOID < 16384 }

// stageType is the type a source column has in the plan: its own when PostgreSQL's,
// else text (a dump stages it as text; a live source reads it as text).
func stageType(c Column) string {
	if builtin(c) {
		return c.Type
	}
	return "text"
}
