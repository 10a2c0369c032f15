package calcache

import (
	"fmt"
	"slices"
	"strings"
)

// setStatement is rule r of set s for a batch of observations ($1, header ids; $2 and $3
// the earliest and latest ut_datetime_secs among them; $4 their instruments, when
// usesInstruments(s, r)), set-based:
// instead of a search per observation it sorts the batch's observations and the rule's
// candidates together and pairs each observation with the candidates nearest to it in time
// among those of the same exact-match key. It inserts the ranked matches of every
// observation whose answer that settles, and returns (rows inserted, ids of the others),
// which the caller recomputes with statement, the per-observation search.
//
// Why the pairs suffice. Candidates are first filtered by what does not depend on the
// observation (type, reduction state, canonical, not QA Fail, the batch's time span) and
// grouped by the exact-match key (dense_rank over the key columns: rows equal under the
// columns' ordering, NULL with NULL, which is IS NOT DISTINCT FROM). In each group the
// distinct times are numbered (levels); an observation sits after level pos, the last
// level at or before its time. It is paired with the candidates of the K levels before it
// (pos-K+1 … pos) and the K after (pos+1 … pos+K), K the rule's Keep; the conditions that
// depend on the observation (tolerances, conditional matches, the day limit, engineering,
// not itself) are then tested on the pairs, and the K best of those that pass are its
// answer. That answer is the per-observation search's whenever, on each side, every one of
// the K levels has a candidate that passes (then the best K of that side lie in them: a
// passing candidate further away has at least K passing ones nearer), or the side has no
// further level, or the farthest level paired is already beyond the day limit (then every
// level within it was paired). An observation for which one side holds none of these is
// returned for the per-observation search.
func (rs *Rules) setStatement(s Set, r Rule) string {
	keep, k := fmt.Sprint(r.Keep), fmt.Sprint(pairedLevels(r.Keep))
	days := fmt.Sprint(r.Days * 86400)

	// The exact-match key, in the observation (o, oi) and the candidate (c, ci).
	keys := append([]Column(nil), r.Exact...)
	if s.Table == "" && !slices.Contains(keys, H("instrument")) {
		keys = append(keys, H("instrument")) // the default rules match the instrument always
	}
	keyCols := func(who string) string {
		if len(keys) == 0 {
			return "0 AS k0"
		}
		cols := make([]string, len(keys))
		for i, col := range keys {
			cols[i] = fmt.Sprintf("%s AS k%d", col.of(who), i)
		}
		return strings.Join(cols, ", ")
	}
	keyNames := make([]string, max(len(keys), 1))
	for i := range keyNames {
		keyNames[i] = fmt.Sprintf("k%d", i)
	}

	// What depends on the observation: tested on the pairs.
	dep := []string{"c.id <> o.id", "(o.engineering IS NOT FALSE OR c.engineering = false)"}
	for _, t := range r.Within {
		dep = append(dep, tolerance(t))
	}
	if r.Days > 0 {
		dep = append(dep, "c.ut_datetime_secs > o.ut_datetime_secs - "+days, "c.ut_datetime_secs < o.ut_datetime_secs + "+days)
	}
	for _, m := range r.Match {
		sql, _ := condition(m) // known: Load checked
		dep = append(dep, "("+sql+")")
	}

	// The candidates: what does not depend on the observation, within the batch's span.
	static := append(rs.candHeaderConditions(r.Cand), "c.ut_datetime_secs IS NOT NULL")
	if slices.Contains(keys, H("instrument")) {
		// $4: the batch's instruments. A candidate of another cannot share a key with any
		// observation of the batch (a batch of GMOS-N reads no GMOS-S calibrations).
		static = append(static, "c.instrument = ANY($4::text[])")
	} else if len(s.Instruments) > 0 {
		static = append(static, "c.instrument IN ("+rs.lits(s.Instruments)+")")
	}
	if r.Days > 0 {
		// $2 and $3: the earliest and latest time of the batch, known when the statement is
		// planned, so that the planner sees how many candidates there are.
		static = append(static, "c.ut_datetime_secs > $2::bigint - "+days, "c.ut_datetime_secs < $3::bigint + "+days)
	}

	var b strings.Builder
	b.WriteString("WITH o AS MATERIALIZED (SELECT * FROM header WHERE id = ANY($1)),\n")
	obsFrom, candFrom, pairFrom := "o", "c", "pairs p JOIN o ON o.id = p.obs JOIN c ON c.id = p.cand"
	if s.Table != "" {
		fmt.Fprintf(&b, "oi AS MATERIALIZED (SELECT oi.* FROM %s oi WHERE oi.header_id IN (SELECT id FROM o)),\n", s.table())
		obsFrom = "o LEFT JOIN oi ON oi.header_id = o.id"
		candFrom = "c JOIN ci ON ci.header_id = c.id"
		pairFrom = "pairs p JOIN o ON o.id = p.obs LEFT JOIN oi ON oi.header_id = o.id JOIN c ON c.id = p.cand JOIN ci ON ci.header_id = c.id"
	}
	fmt.Fprintf(&b, "obs AS MATERIALIZED (SELECT o.id, o.ut_datetime_secs AS secs, %s FROM %s\n\tWHERE o.ut_datetime_secs IS NOT NULL AND %s),\n",
		keyCols("o"), obsFrom, and(rs.applies(s, r)))
	// The candidates' headers, then their diskfiles looked up by id (canonical ones only):
	// a join would let the planner read all of diskfile to hash it.
	fmt.Fprintf(&b, "c0 AS MATERIALIZED (SELECT c.* FROM header c WHERE %s),\n", and(static))
	b.WriteString("d AS MATERIALIZED (SELECT d.id, d.entrytime FROM diskfile d WHERE d.id IN (SELECT diskfile_id FROM c0) AND d.canonical),\n")
	b.WriteString("c AS MATERIALIZED (SELECT c0.*, d.entrytime AS agentd_entrytime FROM c0 JOIN d ON d.id = c0.diskfile_id),\n")
	if s.Table != "" {
		fmt.Fprintf(&b, "ci AS MATERIALIZED (SELECT ci.* FROM %s ci WHERE ci.header_id IN (SELECT id FROM c)),\n", s.table())
	}
	fmt.Fprintf(&b, "cand AS (SELECT c.id, c.ut_datetime_secs AS secs, %s FROM %s),\n", keyCols("c"), candFrom)
	ks := strings.Join(keyNames, ", ")
	fmt.Fprintf(&b, `grouped AS (SELECT u.*, dense_rank() OVER (ORDER BY %s) AS grp FROM (
	SELECT id, secs, 0 AS kind, %s FROM cand UNION ALL SELECT id, secs, 1, %s FROM obs) u),
leveled AS (SELECT id, secs, kind, grp, CASE WHEN kind = 0 THEN dense_rank() OVER (PARTITION BY grp, kind ORDER BY secs) END AS lvl FROM grouped),
placed AS (SELECT id, secs, kind, grp, lvl,
	coalesce(max(lvl) OVER (PARTITION BY grp ORDER BY secs, kind ROWS UNBOUNDED PRECEDING), 0) AS pos,
	coalesce(max(lvl) OVER (PARTITION BY grp), 0) AS top FROM leveled),
cl AS MATERIALIZED (SELECT id, secs, grp, lvl FROM placed WHERE kind = 0),
wanted AS MATERIALIZED (SELECT ob.id, ob.secs, ob.pos, ob.top, ob.grp, l.lvl
	FROM placed ob CROSS JOIN LATERAL generate_series(greatest(ob.pos - %[4]s + 1, 1), least(ob.pos + %[4]s, ob.top)) AS l(lvl)
	WHERE ob.kind = 1),
pairs AS MATERIALIZED (SELECT w.id AS obs, w.secs AS osecs, w.pos, w.top, cl.id AS cand, cl.secs AS csecs, cl.lvl
	FROM wanted w JOIN cl ON cl.grp = w.grp AND cl.lvl = w.lvl),
`, ks, ks, ks, k)
	fmt.Fprintf(&b, `flagged AS MATERIALIZED (SELECT p.*, c.processing, c.agentd_entrytime AS entrytime,
	coalesce(%s, false) AS pass
	FROM %s),
`, and(dep), pairFrom)
	farBefore, farAfter := "false", "false"
	if r.Days > 0 {
		farBefore = "min(csecs) FILTER (WHERE lvl <= pos) <= osecs - " + days
		farAfter = "max(csecs) FILTER (WHERE lvl > pos) >= osecs + " + days
	}
	fmt.Fprintf(&b, `verdict AS MATERIALIZED (SELECT obs,
	(pos <= %[5]s OR count(DISTINCT lvl) FILTER (WHERE pass AND lvl <= pos) >= %[1]s OR coalesce(%[2]s, false))
	AND (pos + %[5]s >= top OR count(DISTINCT lvl) FILTER (WHERE pass AND lvl > pos) >= %[1]s OR coalesce(%[3]s, false)) AS ok
	FROM flagged GROUP BY obs, osecs, pos, top),
ranked AS (SELECT f.obs, f.cand, row_number() OVER (PARTITION BY f.obs
		ORDER BY abs(f.csecs - f.osecs), f.processing DESC, f.entrytime DESC, f.cand DESC) AS rn
	FROM flagged f JOIN verdict v ON v.obs = f.obs AND v.ok WHERE f.pass),
ins AS (INSERT INTO calcache (obs_hid, cal_hid, rank, caltype)
	SELECT obs, cand, rn - 1, %[4]s::caltype FROM ranked WHERE rn <= %[1]s RETURNING 1)
SELECT (SELECT count(*) FROM ins), coalesce((SELECT array_agg(obs ORDER BY obs) FROM verdict WHERE NOT ok), '{}')`,
		keep, farBefore, farAfter, rs.lit(r.CalType), k)
	return b.String()
}

// pairedLevels is how many levels on each side of an observation setStatement pairs it
// with, for a rule that keeps keep: a margin over keep, so that a few candidates failing
// a condition of the observation's (an engineering frame, another central wavelength)
// seldom leave the answer open.
func pairedLevels(keep int) int { return keep + max(8, keep/8) }

// usesInstruments says whether setStatement(s, r) takes the batch's instruments ($4): when
// the instrument is part of the rule's exact-match key.
func usesInstruments(s Set, r Rule) bool {
	return s.Table == "" || slices.Contains(r.Exact, H("instrument"))
}

// tolerance is the SQL test of a Tolerance between the observation o and the candidate c.
func tolerance(t Tolerance) string {
	ov, cv := t.Column.of("o"), t.Column.of("c")
	tol := fmt.Sprintf("%g", t.Plus)
	if t.Fraction > 0 {
		tol = fmt.Sprintf("abs(%s) * %g", ov, t.Fraction)
	}
	return fmt.Sprintf("(%s IS NULL OR (%s > %s - %s AND %s < %s + %s))", ov, cv, ov, tol, cv, ov, tol)
}
