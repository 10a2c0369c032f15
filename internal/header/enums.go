package header

import (
	"fmt"
	"slices"
)

// Enums are the values of FitsStorage's enum types that header columns hold (schema
// migration 0004; a test compares them with the database's). A value outside its type
// cannot be stored.
var Enums = map[string][]string{
	"telescope": {"Gemini-North", "Gemini-South"},
	"obstype": {"DARK", "ARC", "FLAT", "BIAS", "OBJECT", "PINHOLE", "RONCHI", "CAL", "FRINGE",
		"MASK", "STANDARD", "SLITILLUM", "BPM"},
	"obsclass": {"dayCal", "partnerCal", "acqCal", "acq", "science", "progCal", "nightCal"},
	"qa_state": {"Fail", "CHECK", "Undefined", "Usable", "Pass"},
}

// Conform returns r with each enum column whose value FitsStorage's type does not have set
// to nil — what FitsStorage itself stores then — and a warning naming the column and the
// value, so that the item records it instead of failing its insert.
func Conform(r Row) (Row, []string) {
	var warnings []string
	check := func(column, typ string, v **string) {
		if *v != nil && !slices.Contains(Enums[typ], **v) {
			warnings = append(warnings, fmt.Sprintf("%s %q is not a value of FitsStorage's %s type; stored as NULL", column, **v, typ))
			*v = nil
		}
	}
	check("telescope", "telescope", &r.Telescope)
	check("observation_type", "obstype", &r.ObservationType)
	check("observation_class", "obsclass", &r.ObservationClass)
	check("qa_state", "qa_state", &r.QAState)
	return r, warnings
}
