package calcache

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// statement is the SQL of one rule of one set: with $1 an array of observation ids
// (header.id), it inserts the ranked matches of every observation of the set that the rule
// applies to. The observation is o (its instrument row oi), a candidate c (ci), its diskfile
// d. Every name in it was found in the database's catalog and is quoted; every constant was
// quoted by the server (Load).
func (rs *Rules) statement(s Set, r Rule) string {
	where := append([]string{"o.id = ANY($1)"}, rs.applies(s, r)...)

	cand := append(rs.candConditions(r.Cand), "c.id <> o.id", "(o.engineering IS NOT FALSE OR c.engineering = false)")
	if s.Table == "" {
		cand = append(cand, "c.instrument = o.instrument")
	}
	for _, col := range r.Exact {
		if col == H("instrument") { // never NULL in an observation a rule applies to: = can use the index
			cand = append(cand, "c.instrument = o.instrument")
			continue
		}
		cand = append(cand, col.of("c")+" IS NOT DISTINCT FROM "+col.of("o"))
	}
	for _, t := range r.Within {
		cand = append(cand, tolerance(t))
	}
	if r.Days > 0 {
		// In seconds since 2000 (ut_datetime_secs), as the index the nearest-in-time search reads.
		cand = append(cand, fmt.Sprintf("c.ut_datetime_secs > o.ut_datetime_secs - %d AND c.ut_datetime_secs < o.ut_datetime_secs + %d", r.Days*86400, r.Days*86400))
	}
	for _, m := range r.Match {
		sql, _ := condition(m) // known: Load checked
		cand = append(cand, "("+sql+")")
	}

	from, candFrom := observation(s), "header c JOIN diskfile d ON d.id = c.diskfile_id"
	if s.Table != "" {
		candFrom += " JOIN " + s.table() + " ci ON ci.header_id = c.id"
	}
	// The nearest in time: the Keep nearest before the observation (the index on
	// (instrument, observation_type, ut_datetime_secs) read backwards, stopping after Keep
	// rows and the rows tied with the last) and the Keep nearest after it (read forwards),
	// then the Keep best of those by the whole order. Within one side the order by time is
	// the order by |Δ|, and every row tied on it is there, so the two sides hold the Keep
	// best overall.
	side := func(cmp, dir string) string {
		return `(SELECT c.id, c.ut_datetime_secs AS secs, c.processing, d.entrytime FROM ` + candFrom + `
		WHERE ` + strings.Join(cand, "\n\t\t  AND ") + `
		  AND c.ut_datetime_secs ` + cmp + ` o.ut_datetime_secs
		ORDER BY c.ut_datetime_secs ` + dir + `
		FETCH FIRST ` + fmt.Sprint(r.Keep) + ` ROWS WITH TIES)`
	}
	return `INSERT INTO calcache (obs_hid, cal_hid, rank, caltype)
SELECT o.id, m.id, m.ord - 1, ` + rs.lit(r.CalType) + `::caltype
FROM ` + from + `
CROSS JOIN LATERAL unnest(ARRAY(
	SELECT n.id FROM (` + side("<=", "DESC") + `
	UNION ALL ` + side(">", "ASC") + `) n
	ORDER BY abs(n.secs - o.ut_datetime_secs), n.processing DESC, n.entrytime DESC, n.id DESC
	LIMIT ` + fmt.Sprint(r.Keep) + `)) WITH ORDINALITY AS m(id, ord)
WHERE ` + strings.Join(where, "\n  AND ")
}

// applies is the SQL test of whether rule r of set s applies to the observation o (its
// instrument row oi).
func (rs *Rules) applies(s Set, r Rule) []string {
	where := []string{"o.instrument IS NOT NULL", "o.ut_datetime IS NOT NULL", "o.qa_state IS DISTINCT FROM 'Fail'"}
	if len(s.Instruments) > 0 {
		where = append(where, "o.instrument IN ("+rs.lits(s.Instruments)+")")
	} else if others := rs.othersThanDefault(); len(others) > 0 {
		where = append(where, "o.instrument NOT IN ("+rs.lits(others)+")")
	}
	return append(where, rs.whenConditions(r.When)...)
}

// othersThanDefault are the instruments the sets other than the default serve.
func (rs *Rules) othersThanDefault() []string {
	var others []string
	for _, set := range rs.sets {
		others = append(others, set.Instruments...)
	}
	return others
}

// observation is the FROM clause of the observation o and its instrument row oi.
func observation(s Set) string {
	if s.Table == "" {
		return "header o"
	}
	return "header o LEFT JOIN " + s.table() + " oi ON oi.header_id = o.id"
}

// table is the set's instrument table in SQL.
func (s Set) table() string { return pgx.Identifier{s.Table}.Sanitize() }

// conditions are the tests of a candidate c (its diskfile d) that do not depend on the
// observation: canonical, not QA Fail, of the reduction state, type, class and object asked.
func (rs *Rules) candConditions(cand Candidates) []string {
	return append([]string{"d.canonical"}, rs.candHeaderConditions(cand)...)
}

// headerConditions are conditions without the diskfile's: those on the header c alone.
func (rs *Rules) candHeaderConditions(cand Candidates) []string {
	out := []string{"c.qa_state <> 'Fail'", "c.reduction = " + rs.lit(cand.Reduction)}
	if cand.ObsType != "" {
		out = append(out, "c.observation_type = "+rs.lit(cand.ObsType))
	}
	if cand.ObsClass != "" {
		out = append(out, "c.observation_class = "+rs.lit(cand.ObsClass))
	}
	if cand.Object != "" {
		out = append(out, "c.object = "+rs.lit(cand.Object))
	}
	return out
}

// conditions are When's tests of the observation o, as SQL.
func (rs *Rules) whenConditions(w When) []string {
	var out []string
	if len(w.ObsTypes) > 0 {
		out = append(out, "o.observation_type::text IN ("+rs.lits(w.ObsTypes)+")")
	}
	if len(w.ObsClasses) > 0 {
		out = append(out, "o.observation_class::text IN ("+rs.lits(w.ObsClasses)+")")
	}
	if len(w.NotObsTypes) > 0 {
		out = append(out, "(o.observation_type IS NULL OR o.observation_type::text NOT IN ("+rs.lits(w.NotObsTypes)+"))")
	}
	if len(w.NotObsClasses) > 0 {
		out = append(out, "(o.observation_class IS NULL OR o.observation_class::text NOT IN ("+rs.lits(w.NotObsClasses)+"))")
	}
	if w.Spectroscopy != nil {
		out = append(out, fmt.Sprintf("o.spectroscopy = %t", *w.Spectroscopy))
	}
	for _, v := range w.Equal {
		out = append(out, v.Column.of("o")+"::text = "+rs.lit(v.Value))
	}
	for _, v := range w.NotEqual {
		out = append(out, v.Column.of("o")+"::text IS DISTINCT FROM "+rs.lit(v.Value))
	}
	if len(w.NotIn) > 0 {
		byCol := map[Column][]string{}
		var order []Column
		for _, v := range w.NotIn {
			if _, seen := byCol[v.Column]; !seen {
				order = append(order, v.Column)
			}
			byCol[v.Column] = append(byCol[v.Column], v.Value)
		}
		for _, c := range order {
			out = append(out, "("+c.of("o")+" IS NULL OR "+c.of("o")+"::text NOT IN ("+rs.lits(byCol[c])+"))")
		}
	}
	for _, c := range w.NotNull {
		out = append(out, c.of("o")+" IS NOT NULL")
	}
	if w.Before != "" {
		out = append(out, "o.ut_datetime < "+rs.lit(w.Before)+"::timestamp")
	}
	return out
}

// of names the column for the observation ("o") or the candidate ("c").
func (c Column) of(who string) string {
	if c.Instrument {
		who += "i"
	}
	return who + "." + pgx.Identifier{c.Name}.Sanitize()
}

// Why says in words what a rule asks of a calibration.
func (r Rule) Why() string {
	var parts []string
	cand := r.Cand.Reduction
	for _, v := range []string{r.Cand.ObsType, r.Cand.ObsClass, r.Cand.Object} {
		if v != "" {
			cand += " " + v
		}
	}
	parts = append(parts, cand)
	if len(r.Exact) > 0 {
		names := make([]string, len(r.Exact))
		for i, c := range r.Exact {
			names[i] = c.Name
		}
		parts = append(parts, "same "+strings.Join(names, ", "))
	}
	for _, t := range r.Within {
		if t.Fraction > 0 {
			parts = append(parts, fmt.Sprintf("%s within %g%%", t.Column.Name, 100*t.Fraction))
		} else {
			parts = append(parts, fmt.Sprintf("%s within %g", t.Column.Name, t.Plus))
		}
	}
	if len(r.Match) > 0 {
		parts = append(parts, "conditional "+strings.Join(r.Match, ", "))
	}
	if r.Days > 0 {
		parts = append(parts, fmt.Sprintf("within %d days", r.Days))
	}
	parts = append(parts, fmt.Sprintf("nearest in time, best %d", r.Keep))
	return strings.Join(parts, "; ")
}

// applicableSQL is one query that says, for the observations $1 (header ids), which rules
// apply to at least one of them: one boolean array per set of rs (in order), a rule's
// entry true when it does.
func (rs *Rules) applicableSQL() string {
	cols := make([]string, len(rs.sets))
	for i, s := range rs.sets {
		tests := make([]string, len(s.Rules))
		for j, r := range s.Rules {
			tests[j] = "coalesce(bool_or(" + and(rs.applies(s, r)) + "), false)"
		}
		cols[i] = "(SELECT ARRAY[" + strings.Join(tests, ", ") + "]::bool[] FROM " + observation(s) + " WHERE o.id = ANY($1))"
	}
	return "SELECT " + strings.Join(cols, ",\n\t")
}
