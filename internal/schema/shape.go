package schema

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Shape is what another program relies on in a database's schema public: its tables'
// columns (type, nullability, whether a sequence fills them), its enum types with their
// values in order, and its constraints (primary keys, unique, foreign keys, checks) with
// their definitions.
type Shape struct {
	Columns     map[string]ColumnShape // "table.column"
	Enums       map[string][]string    // type → values in order
	Constraints map[string]string      // "table.constraint" → pg_get_constraintdef
}

// ColumnShape is one column as Shape sees it.
type ColumnShape struct {
	Type     string // format_type
	NotNull  bool
	Sequence string // the data type of the sequence its default draws from; "" when none
}

// Rows is what ReadShape needs: a connection, a pool or a transaction.
type Rows interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadShape reads the shape of the database's schema public.
func ReadShape(ctx context.Context, q Rows) (Shape, error) {
	s := Shape{Columns: map[string]ColumnShape{}, Enums: map[string][]string{}, Constraints: map[string]string{}}
	rows, err := q.Query(ctx, `
		SELECT c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       coalesce(format_type(sq.seqtypid, NULL), '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		-- The default's dependencies on a sequence only: it also depends on its own column
		-- (a pg_class row too), and that second row made the result depend on row order.
		LEFT JOIN (pg_depend dep JOIN pg_sequence sq ON sq.seqrelid = dep.refobjid)
		     ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
		WHERE c.relkind IN ('r', 'p')`)
	if err != nil {
		return s, fmt.Errorf("read the columns: %w", err)
	}
	for rows.Next() {
		var name string
		var c ColumnShape
		if err := rows.Scan(&name, &c.Type, &c.NotNull, &c.Sequence); err != nil {
			rows.Close()
			return s, err
		}
		s.Columns[name] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read the columns: %w", err)
	}
	rows, err = q.Query(ctx, `
		SELECT t.typname, e.enumlabel
		FROM pg_type t
		JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'public'
		JOIN pg_enum e ON e.enumtypid = t.oid
		ORDER BY t.typname, e.enumsortorder`)
	if err != nil {
		return s, fmt.Errorf("read the enum types: %w", err)
	}
	for rows.Next() {
		var typ, label string
		if err := rows.Scan(&typ, &label); err != nil {
			rows.Close()
			return s, err
		}
		s.Enums[typ] = append(s.Enums[typ], label)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read the enum types: %w", err)
	}
	rows, err = q.Query(ctx, `
		SELECT c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
		WHERE k.contype IN ('p', 'u', 'f', 'c')`)
	if err != nil {
		return s, fmt.Errorf("read the constraints: %w", err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return s, err
		}
		s.Constraints[name] = def
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read the constraints: %w", err)
	}
	return s, nil
}

// Lacks lists — missing tables first, then columns, enum types and constraints, each sorted —
// what want has that have does not have the same way: a missing
// column or one of another type, nullability or sequence; a missing enum type or one whose
// values differ (more values at the end are allowed: an enum only grows); a missing
// constraint or one defined otherwise. What have adds is not listed: a superset fits.
func (want Shape) Lacks(have Shape) []string {
	var out []string
	// A table missing whole is one line, not one per column and constraint.
	haveTables := map[string]bool{}
	for name := range have.Columns {
		haveTables[strings.SplitN(name, ".", 2)[0]] = true
	}
	gone := map[string]bool{}
	for name := range want.Columns {
		if table := strings.SplitN(name, ".", 2)[0]; !haveTables[table] && !gone[table] {
			gone[table] = true
			out = append(out, "table "+table+" is missing")
		}
	}
	for name, w := range want.Columns {
		if gone[strings.SplitN(name, ".", 2)[0]] {
			continue
		}
		h, ok := have.Columns[name]
		switch {
		case !ok:
			out = append(out, "column "+name+" is missing")
		case h.Type != w.Type:
			out = append(out, fmt.Sprintf("column %s is %s, not %s", name, h.Type, w.Type))
		case h.NotNull != w.NotNull:
			out = append(out, fmt.Sprintf("column %s is %s, not %s", name, nullable(h.NotNull), nullable(w.NotNull)))
		case h.Sequence != w.Sequence:
			out = append(out, fmt.Sprintf("column %s draws from %s, not %s", name, seqDesc(h.Sequence), seqDesc(w.Sequence)))
		}
	}
	for typ, w := range want.Enums {
		h, ok := have.Enums[typ]
		switch {
		case !ok:
			out = append(out, "enum type "+typ+" is missing")
		case len(h) < len(w) || strings.Join(h[:len(w)], ",") != strings.Join(w, ","):
			out = append(out, fmt.Sprintf("enum type %s has values (%s), not (%s)", typ, strings.Join(h, ", "), strings.Join(w, ", ")))
		}
	}
	for name, w := range want.Constraints {
		if gone[strings.SplitN(name, ".", 2)[0]] {
			continue
		}
		h, ok := have.Constraints[name]
		switch {
		case !ok:
			out = append(out, "constraint "+name+" ("+w+") is missing")
		case h != w:
			out = append(out, fmt.Sprintf("constraint %s is %s, not %s", name, h, w))
		}
	}
	// Tables first, then columns, enum types and constraints: the biggest gaps lead.
	rank := func(s string) int {
		for i, p := range []string{"table ", "column ", "enum type ", "constraint "} {
			if strings.HasPrefix(s, p) {
				return i
			}
		}
		return 4
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

func nullable(notNull bool) string {
	if notNull {
		return "NOT NULL"
	}
	return "nullable"
}

func seqDesc(typ string) string {
	if typ == "" {
		return "no sequence"
	}
	return "a sequence of " + typ
}
