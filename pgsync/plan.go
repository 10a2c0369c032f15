package pgsync

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	// ErrPlan is returned when the plan has problems: nothing is written.
	ErrPlan = errors.New("the transfer plan has problems")
	// ErrBadMap is returned for a map file naming tables or columns the target lacks.
	ErrBadMap = errors.New("map file does not fit the target")
	// ErrNotEmpty is returned when a target table holds rows and neither --truncate nor
	// --append was given.
	ErrNotEmpty = errors.New("target table is not empty")
	// ErrNoTable is returned when a table named with --tables is missing.
	ErrNoTable = errors.New("table not found")
	// ErrValue is returned when a value of the source does not fit the target's column.
	ErrValue = errors.New("a source value does not fit the target")
)

// Presets are the named lists of tables an upgrade carries (domain.md §1, §7).
var Presets = map[string][]string{
	"archive": {"users", "userprogram", "notification", "glacier", "usagelog", "querylog",
		"downloadlog", "filedownloadlog", "fileuploadlog"},
	"summit": {"qareport", "qametriciq", "qametricpe", "qametricsb", "qametriczp"},
}

// Mode says what to do with rows already in a target table.
type Mode string

// Modes.
const (
	ModeEmpty    Mode = "empty"    // refuse a target table that holds rows
	ModeTruncate Mode = "truncate" // empty the target tables first (in the same transaction)
	ModeAppend   Mode = "append"   // only source rows whose id is above the target's max(id)
)

// Column kinds of a plan.
const (
	KindSame     = "same"     // same name and type
	KindCast     = "cast"     // same name, the type changes
	KindRenamed  = "renamed"  // from a source column of another name
	KindComputed = "computed" // a SQL expression over the old row
	KindDefault  = "default"  // new column, filled by its default
	KindNull     = "null"     // new nullable column, left NULL
)

// Type changes.
const (
	TypeWidening  = "widening"  // every value fits
	TypeNarrowing = "narrowing" // checked against the values before anything is written
	TypeCast      = "cast"      // an explicit cast; a value that fails stops the transfer
)

// ColumnPlan says where one target column comes from.
type ColumnPlan struct {
	Target     string `json:"target"`
	Kind       string `json:"kind"`
	Source     string `json:"source,omitempty"` // source column (same, cast, renamed)
	Expr       string `json:"expr,omitempty"`   // computed
	FromType   string `json:"from_type,omitempty"`
	ToType     string `json:"to_type"`
	TypeChange string `json:"type_change,omitempty"`
	check      string // SQL predicate over the staged row that finds a value that does not fit
	toBuiltin  bool   // the target type is one of PostgreSQL's own (same binary format everywhere)
	asText     bool   // the source column is staged as text: always cast to the target type
}

// sourceExpr is the column's value in SQL over the staged row, cast when needed.
func (c ColumnPlan) sourceExpr() string {
	switch c.Kind {
	case KindSame:
		if c.asText {
			return "(" + quoteIdent(c.Source) + ")::" + c.ToType
		}
		return quoteIdent(c.Source)
	case KindCast, KindRenamed:
		if c.FromType == c.ToType && !c.asText {
			return quoteIdent(c.Source)
		}
		return "(" + quoteIdent(c.Source) + ")::" + c.ToType
	case KindComputed:
		return "(" + c.Expr + ")::" + c.ToType
	}
	return ""
}

// valueExpr is the uncast value, for the narrowing check and its error message.
func (c ColumnPlan) valueExpr() string {
	if c.Kind == KindComputed {
		return "(" + c.Expr + ")"
	}
	return quoteIdent(c.Source)
}

// SequencePlan says how the target's id sequence moves.
type SequencePlan struct {
	Target     string `json:"target"`                // target sequence
	Source     string `json:"source,omitempty"`      // source sequence, "" when none
	SourceLast int64  `json:"source_last,omitempty"` // its last value handed out
}

// TablePlan is one table's transfer.
type TablePlan struct {
	Target     string        `json:"target"`
	Source     string        `json:"source"`
	SourceRows int64         `json:"source_rows"` // -1 when not known before reading (dumps)
	TargetRows int64         `json:"target_rows"` // rows already in the target table
	Columns    []ColumnPlan  `json:"columns"`
	Dropped    []string      `json:"dropped,omitempty"` // source columns left behind
	Sequence   *SequencePlan `json:"sequence,omitempty"`
	Refs       []string      `json:"-"`
	identity   bool          // the target fills an identity column: OVERRIDING SYSTEM VALUE
	srcCols    []Column      // the source's columns, as staged
}

// Plan is the whole transfer, tables in foreign-key order.
type Plan struct {
	Mode     Mode        `json:"mode"`
	Tables   []TablePlan `json:"tables"`
	Skipped  []string    `json:"skipped,omitempty"`  // preset tables the source lacks
	Warnings []string    `json:"warnings,omitempty"` // e.g. workers connected to the target
	Problems []string    `json:"problems,omitempty"` // the transfer cannot run while there are any
	notEmpty bool        // a problem is a target table holding rows
}

// Request is what the operator asked for.
type Request struct {
	Presets   []string
	Tables    []string // table names (target names, or an old name the map knows)
	Map       Map
	Mode      Mode
	AllowDrop bool
}

// BuildPlan maps the requested tables from the source catalog onto the target's. Counts of
// rows are filled in by the caller. Problems are collected, not returned one by one.
func BuildPlan(req Request, src, dst Catalog) (*Plan, error) {
	if req.Mode == "" {
		req.Mode = ModeEmpty
	}
	p := &Plan{Mode: req.Mode}
	type want struct {
		name     string
		explicit bool
	}
	var wants []want
	seen := map[string]bool{}
	add := func(name string, explicit bool) {
		name = targetName(req.Map, name)
		if !seen[name] {
			seen[name] = true
			wants = append(wants, want{name, explicit})
		} else if explicit {
			for i := range wants {
				if wants[i].name == name {
					wants[i].explicit = true
				}
			}
		}
	}
	for _, pr := range req.Presets {
		tables, ok := Presets[pr]
		if !ok {
			return nil, fmt.Errorf("unknown preset %q (known: archive, summit)", pr)
		}
		for _, t := range tables {
			add(t, false)
		}
	}
	for _, t := range req.Tables {
		add(t, true)
	}
	if len(wants) == 0 {
		return nil, errors.New("no tables to transfer: give --preset archive|summit or --tables")
	}

	var missing []string
	for _, w := range wants {
		dt := dst[w.name]
		if dt == nil {
			missing = append(missing, fmt.Sprintf("%s is not in the target", w.name))
			continue
		}
		st := sourceTable(req.Map, src, w.name)
		if st == nil {
			if w.explicit {
				missing = append(missing, fmt.Sprintf("%s is not in the source", w.name))
			} else {
				p.Skipped = append(p.Skipped, w.name)
			}
			continue
		}
		p.Tables = append(p.Tables, planTable(req, p, st, dt))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoTable, strings.Join(missing, "; "))
	}
	if len(p.Tables) == 0 {
		return nil, fmt.Errorf("%w: the source holds none of the requested tables (%s); is it the archive's database or its backup?", ErrNoTable, strings.Join(p.Skipped, ", "))
	}
	order, err := fkOrder(p.Tables)
	if err != nil {
		return nil, err
	}
	p.Tables = order
	return p, nil
}

// targetName turns an old table name the map knows into its target name.
func targetName(m Map, name string) string {
	for target, tm := range m.Tables {
		for _, old := range tm.OldNames {
			if old == name {
				return target
			}
		}
	}
	return name
}

// sourceTable finds the target table's source: the same name, else its old names in order.
func sourceTable(m Map, src Catalog, target string) *Table {
	if t := src[target]; t != nil {
		return t
	}
	for _, old := range m.Tables[target].OldNames {
		if t := src[old]; t != nil {
			return t
		}
	}
	return nil
}

func planTable(req Request, p *Plan, st, dt *Table) TablePlan {
	tm := req.Map.Tables[dt.Name]
	tp := TablePlan{Target: dt.Name, Source: st.Name, SourceRows: -1, Refs: dt.Refs}
	for _, c := range st.Columns {
		if !c.Generated {
			tp.srcCols = append(tp.srcCols, c)
		}
	}
	used := map[string]bool{}
	for _, tc := range dt.Columns {
		if tc.Generated {
			continue
		}
		cp := ColumnPlan{Target: tc.Name, ToType: tc.Type, toBuiltin: builtin(tc)}
		if sc := st.Column(tc.Name); sc != nil && !sc.Generated {
			cp.Source, cp.FromType, cp.asText = sc.Name, stageType(*sc), sc.Staged && sc.Cast == ""
			cp.Kind = KindSame
			if cp.FromType != tc.Type {
				cp.Kind = KindCast
			}
		} else if old := firstPresent(st, tm.Rename[tc.Name]); old != nil {
			cp.Kind, cp.Source, cp.FromType, cp.asText = KindRenamed, old.Name, stageType(*old), old.Staged && old.Cast == ""
		} else if expr, ok := tm.Compute[tc.Name]; ok {
			cp.Kind, cp.Expr = KindComputed, expr
		} else if tc.Default != "" || tc.Identity {
			cp.Kind = KindDefault
		} else if !tc.NotNull {
			cp.Kind = KindNull
		} else {
			p.Problems = append(p.Problems, fmt.Sprintf("%s.%s is NOT NULL with no default and nothing in source table %s fills it; name its source in a map file (rename or compute)", dt.Name, tc.Name, st.Name))
			continue
		}
		if cp.Source != "" {
			used[cp.Source] = true
			cp.TypeChange, cp.check = typeChange(cp.FromType, cp.ToType, quoteIdent(cp.Source))
		}
		if cp.Kind == KindComputed {
			// The expression's type is not known before it runs: check it like a narrowing.
			_, cp.check = typeChange("text", cp.ToType, cp.valueExpr())
		}
		if tc.Identity && (cp.Kind != KindDefault && cp.Kind != KindNull) {
			tp.identity = true
		}
		tp.Columns = append(tp.Columns, cp)
	}
	allowed := map[string]bool{}
	for _, d := range tm.Drop {
		allowed[d] = true
	}
	for _, sc := range tp.srcCols {
		if used[sc.Name] {
			continue
		}
		tp.Dropped = append(tp.Dropped, sc.Name)
		if !allowed[sc.Name] && !req.AllowDrop {
			p.Problems = append(p.Problems, fmt.Sprintf("source column %s.%s has no place in target table %s; allow it with --allow-drop or list it under drop in a map file", st.Name, sc.Name, dt.Name))
		}
	}
	if dt.Sequence != "" {
		tp.Sequence = &SequencePlan{Target: dt.Sequence, Source: st.Sequence}
	}
	return tp
}

func firstPresent(t *Table, names []string) *Column {
	for _, n := range names {
		if c := t.Column(n); c != nil && !c.Generated {
			return c
		}
	}
	return nil
}

var (
	intRank  = map[string]int{"smallint": 1, "integer": 2, "bigint": 3}
	intRange = map[string][2]string{
		"smallint": {"-32768", "32767"},
		"integer":  {"-2147483648", "2147483647"},
	}
	numericRE = regexp.MustCompile(`^numeric\((\d+),(\d+)\)$`)
	varcharRE = regexp.MustCompile(`^character varying\((\d+)\)$`)
)

// typeChange classifies from → to and, for a narrowing, returns a predicate over value
// that is true for a value that does not fit.
func typeChange(from, to, value string) (string, string) {
	if from == to {
		return "", ""
	}
	if fr, ok := intRank[from]; ok {
		if tr, ok := intRank[to]; ok {
			if tr >= fr {
				return TypeWidening, ""
			}
			r := intRange[to]
			return TypeNarrowing, fmt.Sprintf("%s NOT BETWEEN %s AND %s", value, r[0], r[1])
		}
		if to == "numeric" || (to == "double precision" && fr <= 2) {
			return TypeWidening, ""
		}
	}
	if m := numericRE.FindStringSubmatch(to); m != nil {
		p, _ := strconv.Atoi(m[1])
		s, _ := strconv.Atoi(m[2])
		if f := numericRE.FindStringSubmatch(from); f != nil {
			fp, _ := strconv.Atoi(f[1])
			fs, _ := strconv.Atoi(f[2])
			if p-s >= fp-fs && s >= fs {
				return TypeWidening, ""
			}
		}
		if !isNumber(from) {
			return TypeCast, ""
		}
		return TypeNarrowing, fmt.Sprintf("abs(round((%s)::numeric, %d)) >= 1e%d", value, s, p-s)
	}
	if to == "numeric" && (numericRE.MatchString(from) || from == "numeric") {
		return TypeWidening, ""
	}
	if to == "text" || to == "character varying" {
		if varcharRE.MatchString(from) || from == "text" || from == "character varying" {
			return TypeWidening, ""
		}
		return TypeCast, ""
	}
	if m := varcharRE.FindStringSubmatch(to); m != nil {
		n, _ := strconv.Atoi(m[1])
		if f := varcharRE.FindStringSubmatch(from); f != nil {
			if fn, _ := strconv.Atoi(f[1]); fn <= n {
				return TypeWidening, ""
			}
		}
		return TypeNarrowing, fmt.Sprintf("length((%s)::text) > %d", value, n)
	}
	if from == "timestamp without time zone" && to == "timestamp with time zone" {
		return TypeCast, ""
	}
	return TypeCast, ""
}

// fkOrder sorts the tables so that a table comes after every table of the set its foreign
// keys point to (the target's catalog decides).
func fkOrder(tables []TablePlan) ([]TablePlan, error) {
	byName := map[string]int{}
	for i, t := range tables {
		byName[t.Target] = i
	}
	state := make([]int, len(tables)) // 0 new, 1 visiting, 2 done
	var out []TablePlan
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return fmt.Errorf("foreign keys form a cycle through %s; transfer those tables one at a time", tables[i].Target)
		case 2:
			return nil
		}
		state[i] = 1
		refs := append([]string(nil), tables[i].Refs...)
		sort.Strings(refs)
		for _, r := range refs {
			if j, ok := byName[r]; ok {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		state[i] = 2
		out = append(out, tables[i])
		return nil
	}
	for i := range tables {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func isNumber(typ string) bool {
	_, isInt := intRank[typ]
	return isInt || typ == "numeric" || typ == "real" || typ == "double precision" || numericRE.MatchString(typ)
}
