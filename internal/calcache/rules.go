// Package calcache computes FitsStorage's calibration cache: for each observation, which
// calibration frames serve it, by type and rank (the calcache table), from rules written as
// data (the YAML files of rules/, or an archive's own directory of them; load.go) and
// turned into SQL: per rule, a search per observation (sql.go; the
// calcache queue's worker) and a set-based form for batches (setbased.go; a bulk rebuild),
// which hands back to the first any observation it cannot settle, so that the two agree (its
// doc comment says why; a randomized test compares them row for row).
//
// The rules follow FitsStorage's own (its cal/calibration/calibration_<instrument>.py,
// summarised in docs/calcache-rules.md): candidates are canonical headers that are not
// qa_state Fail (engineering data only for engineering observations), of the calibration's
// reduction state and observation type, matching the observation's descriptors exactly (a
// descriptor NULL in both matches) or within a tolerance (skipped when the observation has
// no value), within a number of days; ordered by |Δ ut_datetime|, then processing mode,
// then the newest entry, then header id (a total order, so results are reproducible).
package calcache

import "strings"

// Column is a descriptor: a column of the header table, or of the instrument's own table
// (gmos, niri, …). The observation's value is compared with the candidate's.
type Column struct {
	Instrument bool   // in the instrument's table, else in header
	Name       string // the column's name, found in the database's catalog (quoted in SQL)
}

// H is a header column, I a column of the instrument's table.
func H(name string) Column { return Column{Name: name} }

// I is a column of the instrument's own table.
func I(name string) Column { return Column{Instrument: true, Name: name} }

// Tolerance admits a candidate whose value lies strictly within Plus of the observation's,
// or within Fraction of it (relative); it is not applied when the observation has no value.
type Tolerance struct {
	Column   Column
	Plus     float64
	Fraction float64
}

// When says which observations a rule applies to; every condition set must hold.
type When struct {
	ObsTypes      []string // observation_type is one of these
	ObsClasses    []string // observation_class is one of these
	NotObsTypes   []string // observation_type is none of these (NULL passes)
	NotObsClasses []string // observation_class is none of these (NULL passes)
	Spectroscopy  *bool    // spectroscopy is this
	Equal         []Value  // a column holds a value
	NotEqual      []Value  // a column does not hold a value (NULL passes)
	NotIn         []Value  // a column holds none of these values (NULL passes)
	NotNull       []Column // these have a value
	Before        string   // ut_datetime before this date (YYYY-MM-DD; "" = any)
}

// Value is a column and a constant.
type Value struct {
	Column Column
	Value  string
}

// Candidates says which headers can serve: their reduction state and, optionally, their
// observation type, class and object.
type Candidates struct {
	Reduction string // RAW, PROCESSED_BIAS, …
	ObsType   string
	ObsClass  string
	Object    string
}

// Rule is how one type of calibration is found for an observation.
type Rule struct {
	CalType string // FitsStorage's caltype
	When    When
	Cand    Candidates
	Exact   []Column    // equal in observation and candidate (NULL matches NULL)
	Within  []Tolerance // close enough
	// Match names further conditions between the observation and the candidate that
	// FitsStorage makes conditional: names condition knows.
	Match  []string
	Days   int    // |Δ ut_datetime| under this many days (0: no limit)
	Keep   int    // how many to keep, ranked 0, 1, …
	Origin string // where it was written, for messages: "gmos.yml rule 2, processed"
}

// Set is the rules of one instrument family.
type Set struct {
	Instruments []string // header.instrument values it serves (none: the default set)
	Table       string   // the instrument's own table ("" when none; found in the catalog)
	Rules       []Rule
	File        string // the file it was read from
}

// name is how messages name the set.
func (s Set) name() string {
	if len(s.Instruments) == 0 {
		return "default"
	}
	return strings.Join(s.Instruments, "/")
}

// condition is the SQL of the conditional match a rule names (its conditional: list),
// between the observation (o, its instrument row oi) and the candidate (c, ci): those four
// names only, since the set-based form binds no others. They are code, not data: a rules
// file names them and never carries SQL (docs/calcache-rules-format.md says what each does).
func condition(name string) (string, bool) {
	switch name {
	case "gmos_amps": // the same amplifiers read (full frame or central spectrum), or the candidate
		// read at least those the observation did.
		return `CASE WHEN o.detector_roi_setting IN ('Full Frame', 'Central Spectrum')
			THEN ci.amp_read_area IS NOT DISTINCT FROM oi.amp_read_area
		WHEN oi.amp_read_area IS NOT NULL THEN ci.amp_read_area LIKE '%' || oi.amp_read_area || '%'
		ELSE true END`, true
	case "gmos_arc_mask": // a 5.0arcsec slit takes any long slit's arc.
		return `CASE WHEN oi.focal_plane_mask = '5.0arcsec' THEN ci.focal_plane_mask LIKE '%arcsec'
		ELSE ci.focal_plane_mask IS NOT DISTINCT FROM oi.focal_plane_mask END`, true
	case "gmos_arc_roi": // a processed arc of the full frame, or of the central spectrum for it.
		return `CASE WHEN o.detector_roi_setting = 'Central Spectrum' THEN c.detector_roi_setting IN ('Full Frame', 'Central Spectrum')
		ELSE c.detector_roi_setting = 'Full Frame' END`, true
	case "gmos_prepared_bias": // a prepared observation takes a processed bias trimmed and
		// overscan-subtracted as it is.
		return `(oi.prepared IS NOT TRUE OR (ci.overscan_trimmed IS NOT DISTINCT FROM oi.overscan_trimmed
		AND ci.overscan_subtracted IS NOT DISTINCT FROM oi.overscan_subtracted))`, true
	case "niri_lamp": // a flat lit by the IR lamps or the quartz halogen lamp.
		return `(c.gcal_lamp = 'IRhigh' OR c.gcal_lamp = 'IRlow' OR c.gcal_lamp LIKE 'QH%')`, true
	case "lamp_off": // a flat taken with the lamp off.
		return `c.gcal_lamp = 'Off'`, true
	}
	return "", false
}

// conditionNames are the names condition knows, for messages.
func conditionNames() []string {
	return []string{"gmos_amps", "gmos_arc_mask", "gmos_arc_roi", "gmos_prepared_bias", "niri_lamp", "lamp_off"}
}
