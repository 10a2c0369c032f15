// Package calcache computes FitsStorage's calibration cache: for each observation, which
// calibration frames serve it, by type and rank (the calcache table), from rules written as
// data (this file) and turned into SQL: per rule, a search per observation (sql.go; the
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

// Column is a descriptor: a column of the header table, or of the instrument's own table
// (gmos, niri, …). The observation's value is compared with the candidate's.
type Column struct {
	Instrument bool   // in the instrument's table, else in header
	Name       string // the column's name (a constant of this package, never input)
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
	// Match are further conditions between the observation (o, its instrument row oi) and
	// the candidate (c, ci) that FitsStorage makes conditional, written here as SQL (those
	// four names only: the set-based form binds no others).
	Match []string
	Days  int // |Δ ut_datetime| under this many days (0: no limit)
	Keep  int // how many to keep, ranked 0, 1, …
}

// Set is the rules of one instrument family.
type Set struct {
	Instruments []string // header.instrument values it serves
	Table       string   // the instrument's own table ("" when none)
	Rules       []Rule
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// Conditional matches of GMOS (docs/calcache-rules.md §3.1).
const (
	// gmosAmps: the same amplifiers read (full frame or central spectrum), or the candidate
	// read at least those the observation did.
	gmosAmps = `CASE WHEN o.detector_roi_setting IN ('Full Frame', 'Central Spectrum')
			THEN ci.amp_read_area IS NOT DISTINCT FROM oi.amp_read_area
		WHEN oi.amp_read_area IS NOT NULL THEN ci.amp_read_area LIKE '%' || oi.amp_read_area || '%'
		ELSE true END`
	// gmosArcMask: a 5.0arcsec slit takes any long slit's arc.
	gmosArcMask = `CASE WHEN oi.focal_plane_mask = '5.0arcsec' THEN ci.focal_plane_mask LIKE '%arcsec'
		ELSE ci.focal_plane_mask IS NOT DISTINCT FROM oi.focal_plane_mask END`
	// gmosArcROI: a processed arc of the full frame, or of the central spectrum for it.
	gmosArcROI = `CASE WHEN o.detector_roi_setting = 'Central Spectrum' THEN c.detector_roi_setting IN ('Full Frame', 'Central Spectrum')
		ELSE c.detector_roi_setting = 'Full Frame' END`
	// gmosPreparedBias: a prepared observation takes a processed bias trimmed and
	// overscan-subtracted as it is.
	gmosPreparedBias = `(oi.prepared IS NOT TRUE OR (ci.overscan_trimmed IS NOT DISTINCT FROM oi.overscan_trimmed
		AND ci.overscan_subtracted IS NOT DISTINCT FROM oi.overscan_subtracted))`
)

// GMOS is FitsStorage's GMOS rules for bias, flat, arc and dark (raw and processed; darks
// for nod-and-shuffle before 2020). Not yet: standards, slit illumination, fringe, mask, BPM,
// and the flexure limits of spectroscopic flats (elevation, rotator).
var GMOS = Set{
	Instruments: []string{"GMOS-N", "GMOS-S", "GMOS"},
	Table:       "gmos",
	Rules: func() []Rule {
		notScience := Value{H("reduction"), "PROCESSED_SCIENCE"}
		notTwilight := Value{H("object"), "Twilight"}
		biasWhen := When{NotObsTypes: []string{"BIAS", "ARC", "MASK", "BPM"}, NotObsClasses: []string{"acq", "acqCal"},
			NotEqual: []Value{notScience, {H("detector_roi_setting"), "Central Stamp"}}}
		biasExact := []Column{H("instrument"), I("detector_x_bin"), I("detector_y_bin"), I("read_speed_setting"), I("gain_setting")}
		spectWhen := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: yes(), NotEqual: []Value{notScience, notTwilight}}
		arcWhen := When{ObsTypes: []string{"OBJECT", "FLAT"}, Spectroscopy: yes(), NotEqual: []Value{notScience, notTwilight}}
		imagingWhen := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: no(), NotObsClasses: []string{"acq", "acqCal"},
			Equal: []Value{{I("focal_plane_mask"), "Imaging"}}, NotEqual: []Value{notScience, notTwilight}}
		flatExact := []Column{H("instrument"), I("detector_x_bin"), I("detector_y_bin"), I("filter_name"), I("read_speed_setting"),
			I("gain_setting"), H("spectroscopy"), I("focal_plane_mask"), I("disperser")}
		arcExact := []Column{H("instrument"), I("disperser"), I("filter_name"), I("detector_x_bin"), I("detector_y_bin")}
		cw := []Tolerance{{Column: H("central_wavelength"), Plus: 0.001}}
		// Darks: nod-and-shuffle science before 2020 (the old detectors' dark current).
		darkWhen := When{ObsTypes: []string{"OBJECT"}, Equal: []Value{{I("nodandshuffle"), "true"}}, Before: "2020-01-01"}
		darkExact := append(biasExact[:len(biasExact):len(biasExact)], I("nod_count"), I("nod_pixels"))
		darkExposure := []Tolerance{{Column: H("exposure_time"), Plus: 50}}
		return []Rule{
			{CalType: "bias", When: biasWhen, Cand: Candidates{Reduction: "RAW", ObsType: "BIAS"}, Exact: biasExact,
				Match: []string{gmosAmps}, Days: 90, Keep: 50},
			{CalType: "processed_bias", When: biasWhen, Cand: Candidates{Reduction: "PROCESSED_BIAS"}, Exact: biasExact,
				Match: []string{gmosAmps, gmosPreparedBias}, Days: 90, Keep: 1},
			{CalType: "flat", When: spectWhen, Cand: Candidates{Reduction: "RAW", ObsType: "FLAT"}, Exact: flatExact, Within: cw,
				Match: []string{gmosAmps}, Days: 180, Keep: 2},
			{CalType: "processed_flat", When: spectWhen, Cand: Candidates{Reduction: "PROCESSED_FLAT"}, Exact: flatExact, Within: cw,
				Match: []string{gmosAmps}, Days: 180, Keep: 1},
			{CalType: "flat", When: imagingWhen, Cand: Candidates{Reduction: "RAW", ObsType: "OBJECT", ObsClass: "dayCal", Object: "Twilight"},
				Exact: flatExact, Match: []string{gmosAmps}, Days: 180, Keep: 20},
			{CalType: "processed_flat", When: imagingWhen, Cand: Candidates{Reduction: "PROCESSED_FLAT"}, Exact: flatExact,
				Match: []string{gmosAmps}, Days: 180, Keep: 1},
			{CalType: "arc", When: arcWhen, Cand: Candidates{Reduction: "RAW", ObsType: "ARC"}, Exact: arcExact, Within: cw,
				Match: []string{gmosArcMask, gmosAmps}, Days: 365, Keep: 1},
			{CalType: "processed_arc", When: arcWhen, Cand: Candidates{Reduction: "PROCESSED_ARC"}, Exact: arcExact, Within: cw,
				Match: []string{gmosArcMask, gmosArcROI}, Days: 365, Keep: 1},
			{CalType: "dark", When: darkWhen, Cand: Candidates{Reduction: "RAW", ObsType: "DARK"}, Exact: darkExact, Within: darkExposure,
				Match: []string{gmosAmps}, Days: 365, Keep: 15},
			{CalType: "processed_dark", When: darkWhen, Cand: Candidates{Reduction: "PROCESSED_DARK"}, Exact: darkExact, Within: darkExposure,
				Match: []string{gmosAmps}, Days: 365, Keep: 1},
		}
	}(),
}

// F2 is FitsStorage's FLAMINGOS-2 rules for darks, flats and arcs (raw and processed), each
// caltype's observations split into rules that never overlap. Not yet: tellurics, standards,
// photometric standards, BPMs.
var F2 = Set{
	Instruments: []string{"F2"},
	Table:       "f2",
	Rules: func() []Rule {
		common := []Column{I("disperser"), I("lyot_stop"), I("filter_name"), I("focal_plane_mask")}
		darkExact := []Column{H("exposure_time"), I("read_mode")}
		cw := []Tolerance{{Column: H("central_wavelength"), Plus: 0.001}}
		// The observations of each type, in three disjoint groups.
		image := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: no(), NotObsClasses: []string{"acq", "acqCal"}}
		spect := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: yes()}
		var rules []Rule
		for _, w := range []When{image, spect, {ObsTypes: []string{"FLAT", "ARC"}}} {
			rules = append(rules,
				Rule{CalType: "dark", When: w, Cand: Candidates{Reduction: "RAW", ObsType: "DARK"}, Exact: darkExact, Days: 90, Keep: 10},
				Rule{CalType: "processed_dark", When: w, Cand: Candidates{Reduction: "PROCESSED_DARK"}, Exact: darkExact, Days: 90, Keep: 1})
		}
		for _, w := range []When{image, spect, {ObsTypes: []string{"ARC"}}} {
			rules = append(rules,
				Rule{CalType: "flat", When: w, Cand: Candidates{Reduction: "RAW", ObsType: "FLAT"}, Exact: common, Within: cw, Days: 90, Keep: 10},
				Rule{CalType: "processed_flat", When: w, Cand: Candidates{Reduction: "PROCESSED_FLAT"}, Exact: common, Within: cw, Days: 90, Keep: 1})
		}
		return append(rules, Rule{CalType: "arc", When: spect, Cand: Candidates{Reduction: "RAW", ObsType: "ARC"}, Exact: common,
			Within: cw, Days: 90, Keep: 1})
	}(),
}

// NIRI's thermal filters: no flat for an image taken through one.
var niriThermal = []string{"Lprime_G0207", "Mprime_G0208", "Bra_G0238", "Bracont_G0237", "hydrocarb_G0231"}

// niriLamp: a flat lit by the IR lamps or the quartz halogen lamp.
const niriLamp = `(c.gcal_lamp = 'IRhigh' OR c.gcal_lamp = 'IRlow' OR c.gcal_lamp LIKE 'QH%')`

// NIRI is FitsStorage's NIRI rules for darks, flats (raw and processed), lamp-off flats and
// arcs. Not yet: photometric standards, tellurics, BPMs.
var NIRI = Set{
	Instruments: []string{"NIRI"},
	Table:       "niri",
	Rules: func() []Rule {
		var notThermal []Value
		for _, f := range niriThermal {
			notThermal = append(notThermal, Value{I("filter_name"), f})
		}
		image := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: no()}
		imageFlat := image
		imageFlat.ObsClasses, imageFlat.NotIn = []string{"partnerCal", "science"}, notThermal
		scienceImage := image
		scienceImage.ObsClasses = []string{"science"}
		spect := When{ObsTypes: []string{"OBJECT"}, Spectroscopy: yes()}
		scienceSpect := spect
		scienceSpect.ObsClasses = []string{"science"}
		flatExact := []Column{I("well_depth_setting"), I("filter_name"), I("camera"), I("focal_plane_mask"), I("disperser"), I("data_section")}
		cw := []Tolerance{{Column: H("central_wavelength"), Plus: 0.001}}
		flat := func(w When, reduction, obstype string, keep int) Rule {
			return Rule{CalType: "flat", When: w, Cand: Candidates{Reduction: reduction, ObsType: obstype}, Exact: flatExact, Within: cw,
				Match: []string{niriLamp}, Days: 180, Keep: keep}
		}
		processed := func(r Rule) Rule { r.CalType = "processed_flat"; return r }
		return []Rule{
			{CalType: "dark", When: scienceImage, Cand: Candidates{Reduction: "RAW", ObsType: "DARK"},
				Exact:  []Column{I("read_mode"), I("well_depth_setting"), H("coadds"), I("data_section")},
				Within: []Tolerance{{Column: H("exposure_time"), Plus: 0.01}}, Days: 180, Keep: 10},
			flat(imageFlat, "RAW", "FLAT", 10),
			flat(spect, "RAW", "FLAT", 10),
			processed(flat(image, "PROCESSED_FLAT", "", 1)),
			processed(flat(scienceSpect, "PROCESSED_FLAT", "", 1)),
			{CalType: "lampoff_flat", When: When{ObsTypes: []string{"FLAT"}, Spectroscopy: no(), NotEqual: []Value{{H("gcal_lamp"), "Off"}}},
				Cand:  Candidates{Reduction: "RAW", ObsType: "FLAT"},
				Exact: []Column{I("well_depth_setting"), I("filter_name"), I("camera"), I("disperser"), I("data_section")},
				Match: []string{"c.gcal_lamp = 'Off'"}, Days: 1, Keep: 10},
			{CalType: "arc", When: spect, Cand: Candidates{Reduction: "RAW", ObsType: "ARC"},
				Exact:  []Column{I("filter_name"), I("camera"), I("focal_plane_mask"), I("disperser"), I("data_section")},
				Within: cw, Days: 180, Keep: 1},
		}
	}(),
}

// Default serves the instruments without rules of their own yet: the domain's generic rules
// (bias by instrument and binning; flat by filter too; arc by disperser, mask and central
// wavelength; dark by exposure time within 1 %), one of each.
var Default = Set{
	Rules: func() []Rule {
		object := When{ObsTypes: []string{"OBJECT"}, NotEqual: []Value{{H("reduction"), "PROCESSED_SCIENCE"}}}
		spect := object
		spect.Spectroscopy = yes()
		base := []Column{H("instrument"), H("detector_binning")}
		return []Rule{
			{CalType: "bias", When: object, Cand: Candidates{Reduction: "RAW", ObsType: "BIAS"}, Exact: base, Days: 90, Keep: 1},
			{CalType: "dark", When: object, Cand: Candidates{Reduction: "RAW", ObsType: "DARK"}, Exact: base,
				Within: []Tolerance{{Column: H("exposure_time"), Fraction: 0.01}}, Days: 180, Keep: 1},
			{CalType: "flat", When: object, Cand: Candidates{Reduction: "RAW", ObsType: "FLAT"},
				Exact: append(base[:len(base):len(base)], H("filter_name")), Days: 180, Keep: 1},
			{CalType: "arc", When: spect, Cand: Candidates{Reduction: "RAW", ObsType: "ARC"},
				Exact:  append(base[:len(base):len(base)], H("disperser"), H("focal_plane_mask")),
				Within: []Tolerance{{Column: H("central_wavelength"), Plus: 0.001}}, Days: 365, Keep: 1},
		}
	}(),
}

// Sets are the rule sets with instruments of their own; Default serves the rest.
var Sets = []Set{GMOS, F2, NIRI}
