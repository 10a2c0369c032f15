package calcache

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.yaml.in/yaml/v3"
)

// builtin holds the rules this project ships: one file per instrument family and
// default.yml.
//
//go:embed rules/*.yml
var builtin embed.FS

// BuiltinRules are the shipped rules files, for agentctl calcache rules --export.
func BuiltinRules() fs.FS {
	sub, err := fs.Sub(builtin, "rules")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	return sub
}

// ErrRulesFile is returned by Load when a rules file cannot be read or parsed.
var ErrRulesFile = errors.New("cannot read the calibration rules")

// ErrRules is returned by Load when the rules do not fit the database: a descriptor, an
// enum value or a table it lacks, a rule it cannot plan.
var ErrRules = errors.New("the calibration rules do not fit this database")

// Querier is what Load needs of a connection: a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Rules are an archive's calibration rules, read from their files and fitted to a database:
// every descriptor found among its columns, every name checked against its enums, every
// constant quoted by the server, every rule planned in both its forms.
type Rules struct {
	sets   []Set             // the instrument sets, then the default set
	quoted map[string]string // each constant of the rules as the server quoted it (quote_literal)
	Source string            // where they were read: "built-in" or a directory
}

// Sets are the rule sets, the default set last.
func (rs *Rules) Sets() []Set { return rs.sets }

// Load reads the rules files (*.yml) of dir ("" = the built-in ones) and fits them to the
// database. Every problem is reported at once, each with its file and rule, wrapped in
// ErrRulesFile (unreadable) or ErrRules (does not fit): a rules file is checked whole
// before any observation is computed with it.
func Load(ctx context.Context, db Querier, dir string) (*Rules, error) {
	fsys, source := BuiltinRules(), "built-in"
	if dir != "" {
		fsys, source = os.DirFS(dir), dir
	}
	files, err := readRuleFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRulesFile, source, err)
	}
	cat, err := readCatalog(ctx, db, files)
	if err != nil {
		return nil, err
	}
	rs := &Rules{Source: source}
	var problems []string
	for _, f := range files {
		set, errs := f.resolve(cat)
		for _, e := range errs {
			problems = append(problems, f.name+": "+e)
		}
		rs.sets = append(rs.sets, set)
	}
	problems = append(problems, checkSets(rs.sets)...)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w (%s):\n  %s", ErrRules, source, strings.Join(problems, "\n  "))
	}
	// The default set last: it serves what the others do not.
	sort.SliceStable(rs.sets, func(i, j int) bool { return len(rs.sets[i].Instruments) > 0 && len(rs.sets[j].Instruments) == 0 })
	if err := rs.quote(ctx, db); err != nil {
		return nil, err
	}
	if err := rs.plan(ctx, db); err != nil {
		return nil, fmt.Errorf("%w (%s); migrate the database (agentctl db migrate) or fix the rules:\n  %w", ErrRules, source, err)
	}
	return rs, nil
}

// ruleFile is one rules file as written: the rules of one instrument family, in the shape of
// FitsStorage's calibration_<instrument>.yml (docs/calcache-rules-format.md).
type ruleFile struct {
	name        string
	Instruments []string   `yaml:"instruments"`
	Table       string     `yaml:"table"`
	Rules       []fileRule `yaml:"rules"`
}

// fileRule is how one type of calibration is found, for its raw and processed frames.
type fileRule struct {
	CalType     string      `yaml:"caltype"`
	When        fileWhen    `yaml:"when"`
	Match       []string    `yaml:"match"`       // descriptors equal in both
	Within      tolerances  `yaml:"within"`      // descriptor: plus (absolute) or "N%" (relative)
	Conditional []string    `yaml:"conditional"` // names of conditions (condition)
	Days        int         `yaml:"days"`
	Raw         *fileFrames `yaml:"raw"`
	Processed   *fileFrames `yaml:"processed"`
}

// fileFrames are the raw or the processed calibrations a rule keeps.
type fileFrames struct {
	Keep             int      `yaml:"keep"`
	ObservationType  string   `yaml:"observation_type"`
	ObservationClass string   `yaml:"observation_class"`
	Object           string   `yaml:"object"`
	Conditional      []string `yaml:"conditional"` // added to the rule's
}

// fileWhen says which observations a rule applies to.
type fileWhen struct {
	ObservationType     []string `yaml:"observation_type"`
	ObservationClass    []string `yaml:"observation_class"`
	NotObservationType  []string `yaml:"not_observation_type"`
	NotObservationClass []string `yaml:"not_observation_class"`
	Spectroscopy        *bool    `yaml:"spectroscopy"`
	Equal               pairs    `yaml:"equal"`
	NotEqual            pairs    `yaml:"not_equal"`
	NotIn               lists    `yaml:"not_in"`
	NotNull             []string `yaml:"not_null"`
	Before              string   `yaml:"before"`
}

// pairs is a mapping of descriptor to value, in the file's order.
type pairs [][2]string

// UnmarshalYAML reads a mapping of scalars, keeping its order.
func (p *pairs) UnmarshalYAML(n *yaml.Node) error {
	return eachPair(n, func(k, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: want one value", v.Line, k.Value)
		}
		*p = append(*p, [2]string{k.Value, v.Value})
		return nil
	})
}

// lists is a mapping of descriptor to a list of values, in the file's order.
type lists []struct {
	key    string
	values []string
}

// UnmarshalYAML reads a mapping of lists of scalars, keeping its order.
func (l *lists) UnmarshalYAML(n *yaml.Node) error {
	return eachPair(n, func(k, v *yaml.Node) error {
		var values []string
		if err := v.Decode(&values); err != nil {
			return fmt.Errorf("line %d: %s: want a list of values", v.Line, k.Value)
		}
		*l = append(*l, struct {
			key    string
			values []string
		}{k.Value, values})
		return nil
	})
}

// tolerances is a mapping of descriptor to tolerance, in the file's order.
type tolerances []struct {
	key   string
	value string
	line  int
}

// UnmarshalYAML reads a mapping of scalars, keeping its order.
func (t *tolerances) UnmarshalYAML(n *yaml.Node) error {
	return eachPair(n, func(k, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: want a number or a percentage", v.Line, k.Value)
		}
		*t = append(*t, struct {
			key   string
			value string
			line  int
		}{k.Value, v.Value, v.Line})
		return nil
	})
}

func eachPair(n *yaml.Node, f func(k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of descriptor: value", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := f(n.Content[i], n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// readRuleFiles parses every *.yml and *.yaml file of fsys, in name order.
func readRuleFiles(fsys fs.FS) ([]ruleFile, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read the rules directory: %w", err)
	}
	var files []ruleFile
	for _, e := range entries {
		if e.IsDir() || (path.Ext(e.Name()) != ".yml" && path.Ext(e.Name()) != ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		f, err := parseRuleFile(e.Name(), data)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("no rules files (*.yml) there; start from agentctl calcache rules --export DIR")
	}
	return files, nil
}

// typeName is how yaml's messages name a Go type.
var typeName = regexp.MustCompile(` (in|into) (type )?(calcache\.\w+|\[\]string|string|int|bool|\*bool)`)

// parseRuleFile reads one rules file; a field it does not know is an error (a misspelt
// key must not silently drop a condition).
func parseRuleFile(name string, data []byte) (ruleFile, error) {
	f := ruleFile{name: name}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		// yaml names its Go types ("field x not found in type calcache.fileRule"): the
		// reader of the message knows the file, not the types.
		msg := typeName.ReplaceAllString(err.Error(), "")
		return f, fmt.Errorf("%s: %s (the format: docs/calcache-rules-format.md)", name, msg)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return f, fmt.Errorf("%s: more than one YAML document; put one instrument family per file", name)
	}
	if len(f.Rules) == 0 {
		return f, fmt.Errorf("%s: no rules", name)
	}
	return f, nil
}

// catalog is what of the database the rules are checked against.
type catalog struct {
	columns map[string]map[string]bool // table → its columns
	enums   map[string]map[string]bool // enum type → its labels
}

// The enum types the rules' names must belong to (FitsStorage's).
const (
	enumCalType   = "caltype"
	enumObsType   = "obstype"
	enumObsClass  = "obsclass"
	enumReduction = "reduction_state"
)

// readCatalog reads the columns of header and of the files' tables, and the enums' labels.
func readCatalog(ctx context.Context, db Querier, files []ruleFile) (catalog, error) {
	cat := catalog{columns: map[string]map[string]bool{}, enums: map[string]map[string]bool{}}
	tables := []string{"header"}
	for _, f := range files {
		if f.Table != "" {
			tables = append(tables, f.Table)
		}
	}
	if err := readPairs(ctx, db, cat.columns, `SELECT table_name::text, column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ANY($1)`, tables); err != nil {
		return cat, fmt.Errorf("read the columns the calibration rules name: %w", err)
	}
	if err := readPairs(ctx, db, cat.enums, `SELECT t.typname::text, e.enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
		WHERE t.typname = ANY($1) AND pg_type_is_visible(t.oid)`, []string{enumCalType, enumObsType, enumObsClass, enumReduction}); err != nil {
		return cat, fmt.Errorf("read the enums the calibration rules name: %w", err)
	}
	if cat.columns["header"] == nil {
		return cat, fmt.Errorf("%w: the database has no header table; is it an archive database (agentctl db init)?", ErrRules)
	}
	return cat, nil
}

// readPairs reads the (group, name) rows of sql into sets of names by group.
func readPairs(ctx context.Context, db Querier, into map[string]map[string]bool, sql string, args ...any) error {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var group, name string
		if err := rows.Scan(&group, &name); err != nil {
			return err
		}
		if into[group] == nil {
			into[group] = map[string]bool{}
		}
		into[group][name] = true
	}
	return rows.Err()
}

// resolve turns a rules file into a Set: each descriptor a column of the set's table (the
// instrument's descriptors first, as FitsStorage's instrDescriptors) or else of header, or
// "header.NAME" or "TABLE.NAME" to say which. It returns every problem found.
func (f ruleFile) resolve(cat catalog) (Set, []string) {
	set := Set{Instruments: f.Instruments, Table: f.Table, File: f.name}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if f.Table != "" {
		cols := cat.columns[f.Table]
		switch {
		case cols == nil:
			bad("table %q: the database has no such table", f.Table)
		case !cols["header_id"]:
			bad("table %q: not an instrument table (no header_id column)", f.Table)
		}
	}
	for _, inst := range f.Instruments {
		if strings.TrimSpace(inst) == "" {
			bad("instruments: an empty name")
		}
	}
	for i, fr := range f.Rules {
		where := fmt.Sprintf("rule %d (%s)", i+1, fr.CalType)
		rbad := func(format string, args ...any) { bad(where+": "+format, args...) }
		column := func(name string) (Column, bool) {
			c, err := cat.column(f.Table, name)
			if err != nil {
				rbad("%v", err)
			}
			return c, err == nil
		}
		if fr.CalType == "" {
			rbad("no caltype")
		} else if !cat.enums[enumCalType][fr.CalType] {
			rbad("caltype %q is not one of the database's (enum caltype: %s)", fr.CalType, cat.labels(enumCalType))
		}
		if fr.Raw == nil && fr.Processed == nil {
			rbad("neither raw: nor processed: says how many to keep")
		}
		if fr.Days < 0 {
			rbad("days: %d is negative (0: no limit)", fr.Days)
		}
		w, errs := fr.When.resolve(cat, column)
		for _, e := range errs {
			rbad("when: %s", e)
		}
		r := Rule{CalType: fr.CalType, When: w, Days: fr.Days}
		for _, name := range fr.Match {
			if c, ok := column(name); ok {
				r.Exact = append(r.Exact, c)
			}
		}
		for _, t := range fr.Within {
			c, ok := column(t.key)
			if !ok {
				continue
			}
			tol, err := parseTolerance(t.value)
			if err != nil {
				rbad("within: %s: %v", t.key, err)
				continue
			}
			tol.Column = c
			r.Within = append(r.Within, tol)
		}
		for _, name := range fr.Conditional {
			if _, ok := condition(name); !ok {
				rbad("conditional: unknown condition %q (known: %s)", name, strings.Join(conditionNames(), ", "))
			}
		}
		r.Match = fr.Conditional
		for _, side := range []struct {
			frames    *fileFrames
			processed bool
		}{{fr.Raw, false}, {fr.Processed, true}} {
			if side.frames == nil {
				continue
			}
			frames := side.frames
			sr := r
			sr.Origin = fmt.Sprintf("%s rule %d, raw", f.name, i+1)
			if side.processed {
				sr.Origin = fmt.Sprintf("%s rule %d, processed", f.name, i+1)
			}
			sr.Match = append(slices.Clone(r.Match), frames.Conditional...)
			for _, name := range frames.Conditional {
				if _, ok := condition(name); !ok {
					rbad("conditional: unknown condition %q (known: %s)", name, strings.Join(conditionNames(), ", "))
				}
			}
			sr.Keep = frames.Keep
			if frames.Keep < 1 {
				rbad("keep: %d; keep at least 1", frames.Keep)
			}
			sr.Cand = Candidates{Reduction: "RAW", ObsType: frames.ObservationType, ObsClass: frames.ObservationClass, Object: frames.Object}
			if side.processed {
				sr.CalType = "processed_" + fr.CalType
				sr.Cand.Reduction = "PROCESSED_" + strings.ToUpper(fr.CalType)
				if fr.CalType != "" && !cat.enums[enumCalType][sr.CalType] {
					rbad("processed: caltype %q is not one of the database's: %s has no processed form", sr.CalType, fr.CalType)
				}
				if fr.CalType != "" && !cat.enums[enumReduction][sr.Cand.Reduction] {
					rbad("processed: reduction state %q is not one of the database's", sr.Cand.Reduction)
				}
			}
			if frames.ObservationType != "" && !cat.enums[enumObsType][frames.ObservationType] {
				rbad("observation_type %q is not one of the database's (%s)", frames.ObservationType, cat.labels(enumObsType))
			}
			if frames.ObservationClass != "" && !cat.enums[enumObsClass][frames.ObservationClass] {
				rbad("observation_class %q is not one of the database's (%s)", frames.ObservationClass, cat.labels(enumObsClass))
			}
			set.Rules = append(set.Rules, sr)
		}
	}
	return set, problems
}

// resolve checks and resolves the conditions on the observation.
func (fw fileWhen) resolve(cat catalog, column func(string) (Column, bool)) (When, []string) {
	var problems []string
	w := When{ObsTypes: fw.ObservationType, ObsClasses: fw.ObservationClass, NotObsTypes: fw.NotObservationType,
		NotObsClasses: fw.NotObservationClass, Spectroscopy: fw.Spectroscopy}
	for _, check := range []struct {
		key, enum string
		values    []string
	}{{"observation_type", enumObsType, fw.ObservationType}, {"observation_class", enumObsClass, fw.ObservationClass},
		{"not_observation_type", enumObsType, fw.NotObservationType}, {"not_observation_class", enumObsClass, fw.NotObservationClass}} {
		for _, v := range check.values {
			if !cat.enums[check.enum][v] {
				problems = append(problems, fmt.Sprintf("%s: %q is not one of the database's (%s)", check.key, v, cat.labels(check.enum)))
			}
		}
	}
	for _, p := range fw.Equal {
		if c, ok := column(p[0]); ok {
			w.Equal = append(w.Equal, Value{c, p[1]})
		}
	}
	for _, p := range fw.NotEqual {
		if c, ok := column(p[0]); ok {
			w.NotEqual = append(w.NotEqual, Value{c, p[1]})
		}
	}
	for _, l := range fw.NotIn {
		if c, ok := column(l.key); ok {
			for _, v := range l.values {
				w.NotIn = append(w.NotIn, Value{c, v})
			}
		}
	}
	for _, name := range fw.NotNull {
		if c, ok := column(name); ok {
			w.NotNull = append(w.NotNull, c)
		}
	}
	if fw.Before != "" {
		t, err := time.Parse(time.DateOnly, fw.Before)
		if err != nil {
			problems = append(problems, fmt.Sprintf("before: %q is no date (YYYY-MM-DD)", fw.Before))
		} else {
			w.Before = t.Format(time.DateOnly)
		}
	}
	return w, problems
}

// column finds descriptor name: in table (the instrument's) first, then in header;
// "header.NAME" or "TABLE.NAME" says which.
func (cat catalog) column(table, name string) (Column, error) {
	qual, bare, qualified := strings.Cut(name, ".")
	if !qualified {
		bare = qual
		switch {
		case table != "" && cat.columns[table][bare]:
			return Column{Instrument: true, Name: bare}, nil
		case cat.columns["header"][bare]:
			return Column{Name: bare}, nil
		}
		if table == "" {
			return Column{}, fmt.Errorf("unknown descriptor %q: not a column of header", name)
		}
		return Column{}, fmt.Errorf("unknown descriptor %q: not a column of %s nor of header", name, table)
	}
	switch {
	case qual == "header" && cat.columns["header"][bare]:
		return Column{Name: bare}, nil
	case qual == table && table != "" && cat.columns[table][bare]:
		return Column{Instrument: true, Name: bare}, nil
	case qual != "header" && qual != table:
		return Column{}, fmt.Errorf("descriptor %q: %s is neither header nor this file's table", name, qual)
	}
	return Column{}, fmt.Errorf("unknown descriptor %q: not a column of %s", name, qual)
}

// labels lists an enum's labels, for messages.
func (cat catalog) labels(enum string) string {
	var l []string
	for k := range cat.enums[enum] {
		l = append(l, k)
	}
	slices.Sort(l)
	return strings.Join(l, ", ")
}

// parseTolerance reads "0.001" (plus or minus that much) or "1%" (of the observation's
// value).
func parseTolerance(s string) (Tolerance, error) {
	s = strings.TrimSpace(s)
	pct, isPct := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return Tolerance{}, fmt.Errorf("%q: want a positive number (plus or minus that much) or a percentage (\"1%%\")", s)
	}
	if isPct {
		return Tolerance{Fraction: v / 100}, nil
	}
	return Tolerance{Plus: v}, nil
}

// checkSets checks what involves several sets: one default set, no instrument in two sets.
func checkSets(sets []Set) []string {
	var problems []string
	var defaults []string
	owner := map[string]string{}
	for _, s := range sets {
		if len(s.Instruments) == 0 {
			defaults = append(defaults, s.File)
		}
		for _, inst := range s.Instruments {
			if other, ok := owner[inst]; ok && other != s.File {
				problems = append(problems, fmt.Sprintf("%s: instrument %s is already served by %s", s.File, inst, other))
			}
			owner[inst] = s.File
		}
	}
	switch {
	case len(defaults) == 0:
		problems = append(problems, "no default rules: one file must have no instruments (instruments: []), for every other instrument")
	case len(defaults) > 1:
		problems = append(problems, fmt.Sprintf("more than one default rules file (%s): keep one", strings.Join(defaults, ", ")))
	}
	return problems
}

// quote has the server quote every constant of the rules (quote_literal), the only way
// text read from a rules file reaches SQL.
func (rs *Rules) quote(ctx context.Context, db Querier) error {
	seen := map[string]bool{}
	var texts []string
	add := func(ss ...string) {
		for _, s := range ss {
			if !seen[s] {
				seen[s] = true
				texts = append(texts, s)
			}
		}
	}
	for _, s := range rs.sets {
		add(s.Instruments...)
		for _, r := range s.Rules {
			add(r.CalType, r.Cand.Reduction, r.Cand.ObsType, r.Cand.ObsClass, r.Cand.Object, r.When.Before)
			add(r.When.ObsTypes...)
			add(r.When.ObsClasses...)
			add(r.When.NotObsTypes...)
			add(r.When.NotObsClasses...)
			for _, vs := range [][]Value{r.When.Equal, r.When.NotEqual, r.When.NotIn} {
				for _, v := range vs {
					add(v.Value)
				}
			}
		}
	}
	var quoted []string
	if err := db.QueryRow(ctx, `SELECT coalesce(array_agg(quote_literal(t) ORDER BY n), '{}') FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n)`,
		texts).Scan(&quoted); err != nil {
		return fmt.Errorf("quote the constants of the calibration rules: %w", err)
	}
	if len(quoted) != len(texts) {
		return fmt.Errorf("quote the constants of the calibration rules: %d answers for %d", len(quoted), len(texts))
	}
	rs.quoted = make(map[string]string, len(texts))
	for i, t := range texts {
		rs.quoted[t] = quoted[i]
	}
	return nil
}

// lit is constant s of the rules in SQL, as the server quoted it.
func (rs *Rules) lit(s string) string {
	q, ok := rs.quoted[s]
	if !ok {
		// A constant quote did not collect: a bug of this package, never of a rules file.
		panic(fmt.Sprintf("calcache: constant %q of the rules was not quoted", s))
	}
	return q
}

func (rs *Rules) lits(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = rs.lit(s)
	}
	return strings.Join(q, ", ")
}

// plan plans every rule, in both forms, against the database: a rule the database cannot
// run (a conditional match naming a column its set's table lacks, an archive whose schema
// is older than the rules) is found before any item is taken, with the rule and the
// server's reason named.
func (rs *Rules) plan(ctx context.Context, db Querier) error {
	var problems []string
	for _, set := range rs.sets {
		for _, r := range set.Rules {
			setArgs := []any{pgx.QueryExecModeExec, []int64{0}, int64(0), int64(0)}
			if usesInstruments(set, r) {
				setArgs = append(setArgs, []string{})
			}
			if _, err := db.Exec(ctx, "EXPLAIN "+rs.statement(set, r), pgx.QueryExecModeExec, []int64{0}); err != nil {
				problems = append(problems, fmt.Sprintf("%s (%s, per observation): %v", r.Origin, r.CalType, err))
			}
			if _, err := db.Exec(ctx, "EXPLAIN "+rs.setStatement(set, r), setArgs...); err != nil {
				problems = append(problems, fmt.Sprintf("%s (%s, set-based): %v", r.Origin, r.CalType, err))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n  "))
	}
	return nil
}
