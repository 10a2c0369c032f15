package pgdump

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// The pg_dump statements that describe the tables (pg_dump writes them on lines of their own).
var (
	createTableRE = regexp.MustCompile(`^CREATE (?:UNLOGGED )?TABLE (\S+) \($`)
	ownedByRE     = regexp.MustCompile(`^ALTER SEQUENCE (\S+) OWNED BY (\S+);$`)
	identityRE    = regexp.MustCompile(`^ALTER TABLE (?:ONLY )?(\S+) ALTER COLUMN (\S+) ADD GENERATED (?:ALWAYS|BY DEFAULT) AS IDENTITY \($`)
	seqNameRE     = regexp.MustCompile(`^\s+SEQUENCE NAME (\S+)$`)
	setvalRE      = regexp.MustCompile(`^SELECT pg_catalog\.setval\('((?:[^']|'')+)', (-?\d+), (true|false)\);$`)
	copyRE        = regexp.MustCompile(`^COPY (\S+) \((.*)\) FROM stdin;$`)
	copyNoColsRE  = regexp.MustCompile(`^COPY (\S+)\s+FROM stdin;$`)
	insertRE      = regexp.MustCompile(`^INSERT INTO (\S+) `)
	setDefaultRE  = regexp.MustCompile(`^ALTER TABLE (?:ONLY )?(\S+) ALTER COLUMN (\S+) SET DEFAULT (.*);$`)
)

// splitQualified splits a pg_dump name such as public."Foo" into schema and name.
func splitQualified(s string) (schema, name string) {
	parts := splitIdents(s, '.')
	if len(parts) == 1 {
		return "", parts[0]
	}
	return parts[0], parts[len(parts)-1]
}

// splitIdents splits a list of possibly quoted identifiers at sep, unquoting them.
func splitIdents(s string, sep byte) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && inQuote && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// Column is one column of a table as the dump declares it. Type is the dump's own text
// (e.g. "character varying(20)", "public.mood"): data, never SQL.
type Column struct {
	Name      string
	Type      string
	Qualified bool // the type is schema-qualified: not one of PostgreSQL's own
	NotNull   bool
	Default   string // the SQL text of its default, "" when none
	Generated bool
	Identity  bool
}

// Table is one table of schema public as the dump declares it.
type Table struct {
	Name     string
	Columns  []Column
	Sequence string // the id column's sequence (serial or identity), qualified; "" when none
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

// dumpSchema collects what the schema statements of a dump say.
type dumpSchema struct {
	cat      map[string]*Table
	seqOwner map[string]string // sequence → "table.column"
	seqLast  map[string]int64  // sequence (as written) → last value handed out
	current  *Table            // CREATE TABLE being read
	identity *Table            // ALTER TABLE … ADD GENERATED … AS IDENTITY being read
}

func newDumpSchema() *dumpSchema {
	return &dumpSchema{cat: map[string]*Table{}, seqOwner: map[string]string{}, seqLast: map[string]int64{}}
}

// line reads one line of the dump's SQL outside COPY data. Only tables of the public schema
// are kept (what a catalog read sees of a live database).
func (d *dumpSchema) line(s string) error {
	if d.current != nil {
		if strings.HasPrefix(s, ")") {
			d.current = nil
			return nil
		}
		col, ok, err := parseColumnLine(s)
		if err != nil {
			return fmt.Errorf("table %s: %w", d.current.Name, err)
		}
		if ok {
			d.current.Columns = append(d.current.Columns, col)
		}
		return nil
	}
	if d.identity != nil {
		if m := seqNameRE.FindStringSubmatch(s); m != nil {
			d.identity.Sequence = QualifiedSequence(m[1])
		}
		if strings.HasPrefix(strings.TrimSpace(s), ");") {
			d.identity = nil
		}
		return nil
	}
	if m := createTableRE.FindStringSubmatch(s); m != nil {
		schema, name := splitQualified(m[1])
		if schema == "public" || schema == "" {
			d.current = &Table{Name: name}
			d.cat[name] = d.current
		} else {
			d.current = &Table{Name: name} // read and dropped
		}
		return nil
	}
	if m := ownedByRE.FindStringSubmatch(s); m != nil {
		parts := splitIdents(m[2], '.')
		if len(parts) == 3 && parts[0] == "public" {
			d.seqOwner[m[1]] = parts[1] + "." + parts[2]
		}
		return nil
	}
	if m := identityRE.FindStringSubmatch(s); m != nil {
		schema, table := splitQualified(m[1])
		col := splitIdents(m[2], '.')[0]
		if t := d.cat[table]; t != nil && (schema == "public" || schema == "") {
			if c := t.Column(col); c != nil {
				c.Identity = true
				if col == "id" {
					d.identity = t
					return nil
				}
			}
		}
		d.identity = &Table{} // read and dropped
		return nil
	}
	if m := setDefaultRE.FindStringSubmatch(s); m != nil {
		schema, table := splitQualified(m[1])
		if t := d.cat[table]; t != nil && (schema == "public" || schema == "") {
			if c := t.Column(splitIdents(m[2], '.')[0]); c != nil {
				c.Default = m[3]
			}
		}
		return nil
	}
	if m := setvalRE.FindStringSubmatch(s); m != nil {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return fmt.Errorf("setval %s: %w", m[1], err)
		}
		if m[3] == "false" {
			v--
		}
		d.seqLast[strings.ReplaceAll(m[1], "''", "'")] = v
	}
	return nil
}

// finish ties the owned sequences to their tables' id columns.
func (d *dumpSchema) finish() map[string]*Table {
	for seq, owner := range d.seqOwner {
		tc := strings.SplitN(owner, ".", 2)
		if t := d.cat[tc[0]]; t != nil && tc[1] == "id" && t.Sequence == "" {
			t.Sequence = QualifiedSequence(seq)
		}
	}
	for _, t := range d.cat { // a default without ownership
		if id := t.Column("id"); id != nil && t.Sequence == "" {
			if name := SequenceOfDefault(id.Default); name != "" {
				t.Sequence = name
			}
		}
	}
	return d.cat
}

var nextvalRE = regexp.MustCompile(`^nextval\('((?:[^']|'')+)'(?:::regclass)?\)$`)

// SequenceOfDefault returns the sequence a column default (nextval('…')) draws from,
// qualified as QualifiedSequence writes it; "" when it draws from none.
func SequenceOfDefault(def string) string {
	m := nextvalRE.FindStringSubmatch(strings.TrimSpace(def))
	if m == nil {
		return ""
	}
	return QualifiedSequence(strings.ReplaceAll(m[1], "''", "'"))
}

// QualifiedSequence writes a sequence name (public.seq, seq, "Odd"."Seq") the way
// PostgreSQL's pg_get_serial_sequence does: schema-qualified, quoted only where needed.
func QualifiedSequence(s string) string {
	schema, name := splitQualified(s)
	if schema == "" {
		schema = "public"
	}
	return quoteIfNeeded(schema) + "." + quoteIfNeeded(name)
}

var plainIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

func quoteIfNeeded(s string) string {
	if plainIdentRE.MatchString(s) {
		return s
	}
	return quoteIdent(s)
}

// parseColumnLine reads one line of a CREATE TABLE body: `    name type [COLLATE …]
// [DEFAULT …] [NOT NULL] [GENERATED ALWAYS AS (…) STORED],`. Table constraints give ok false.
func parseColumnLine(s string) (Column, bool, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ","))
	if s == "" || strings.HasPrefix(s, "CONSTRAINT ") {
		return Column{}, false, nil
	}
	var name, rest string
	if strings.HasPrefix(s, `"`) {
		end := 1
		for end < len(s) {
			if s[end] == '"' {
				if end+1 < len(s) && s[end+1] == '"' {
					end += 2
					continue
				}
				break
			}
			end++
		}
		if end >= len(s) {
			return Column{}, false, fmt.Errorf("unterminated column name in %q", s)
		}
		name = strings.ReplaceAll(s[1:end], `""`, `"`)
		rest = strings.TrimSpace(s[end+1:])
	} else {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return Column{}, false, fmt.Errorf("column without a type: %q", s)
		}
		name, rest = s[:i], strings.TrimSpace(s[i+1:])
	}
	c := Column{Name: name}
	typ := rest
	for _, kw := range []string{" COLLATE ", " DEFAULT ", " NOT NULL", " GENERATED "} {
		if i := strings.Index(typ, kw); i >= 0 {
			typ = typ[:i]
		}
	}
	c.Type = strings.TrimSpace(typ)
	if c.Type == "" {
		return Column{}, false, fmt.Errorf("column %s without a type", name)
	}
	after := rest[len(typ):]
	c.NotNull = strings.Contains(after, " NOT NULL") || strings.HasPrefix(after, "NOT NULL")
	c.Generated = strings.Contains(after, "GENERATED ALWAYS AS (")
	if i := strings.Index(after, "DEFAULT "); i >= 0 {
		c.Default = strings.TrimSpace(strings.TrimSuffix(after[i+len("DEFAULT "):], " NOT NULL"))
	}
	// pg_dump writes PostgreSQL's own types unqualified and every other schema-qualified.
	c.Qualified = strings.Contains(c.Type, ".")
	return c, true, nil
}

// ReadSchema reads the SQL of a dump (or its schema-only part) up to its first COPY block
// (or the end) and returns its tables of schema public and the sequence values it sets
// (by the sequence's name as the dump writes it).
func ReadSchema(r io.Reader) (map[string]*Table, map[string]int64, error) {
	d := newDumpSchema()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			s := strings.TrimRight(line, "\r\n")
			if copyRE.MatchString(s) || copyNoColsRE.MatchString(s) {
				break // data begins: the tables are all declared
			}
			if err := d.line(s); err != nil {
				return nil, nil, err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return d.finish(), d.seqLast, nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
