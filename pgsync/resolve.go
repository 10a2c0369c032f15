package pgsync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// stagedTypes are the types a dump column may be staged as: PostgreSQL's own, named as
// format_type names them without a modifier, whose values read the same without their
// modifier (the dump's values already fit it). Any other type — character(n) and bit(n),
// whose modifier changes what a bare name means, enums, domains, extension types — is
// staged as text and cast from text to the target's type.
var stagedTypes = map[string]bool{
	"smallint": true, "integer": true, "bigint": true, "numeric": true, "real": true,
	"double precision": true, "boolean": true, "text": true, "character varying": true,
	"date": true, "time without time zone": true, "time with time zone": true,
	"timestamp without time zone": true, "timestamp with time zone": true, "interval": true,
	"uuid": true, "json": true, "jsonb": true, "bytea": true, "inet": true, "cidr": true,
	"oid": true,
}

// resolveDumpTypes checks every column type a dump declares against the target, passing
// the dump's text as a parameter (to_regtype), and decides how each column is staged. A
// type that does not resolve refuses the transfer, naming the table, the column and the
// text: a dump is data, and nothing in it becomes SQL.
func resolveDumpTypes(ctx context.Context, dst Querier, cat Catalog) error {
	resolved := map[string]string{}
	names := make([]string, 0, len(cat))
	for name := range cat {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := cat[name]
		for i := range t.Columns {
			c := &t.Columns[i]
			c.Staged = true
			typ, ok := resolved[c.Type]
			if !ok {
				var got *string
				err := dst.QueryRow(ctx, `SELECT format_type(to_regtype($1), NULL)`, c.Type).Scan(&got)
				if err == nil && got == nil {
					err = errors.New("no such type")
				}
				if err != nil {
					var pe *pgconn.PgError
					if errors.As(err, &pe) {
						err = errors.New(pe.Message)
					}
					return &planError{msg: fmt.Sprintf("dump table %s, column %s: its type %q does not name a type on the target (%v)",
						t.Name, c.Name, c.Type, err)}
				}
				typ = *got
				resolved[c.Type] = typ
			}
			base := strings.TrimRight(typ, "[]")
			if stagedTypes[base] {
				c.Cast = base + typ[len(base):] // our name, and the array brackets
			}
		}
	}
	return nil
}
