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
	"obsclass":              {"dayCal", "partnerCal", "acqCal", "acq", "science", "progCal", "nightCal"},
	"qa_state":              {"Fail", "CHECK", "Undefined", "Usable", "Pass"},
	"mode":                  {"imaging", "spectroscopy", "LS", "MOS", "IFS", "IFP"},
	"detector_gain_setting": {"None", "high", "low", "standard"},
	"detector_readspeed_setting": {"None", "fast", "medium", "slow", "standard", "red:fast,blue:fast",
		"red:fast,blue:medium", "red:fast,blue:slow", "red:medium,blue:fast", "red:medium,blue:medium",
		"red:medium,blue:slow", "red:slow,blue:fast", "red:slow,blue:medium", "red:slow,blue:slow"},
	"detector_welldepth_setting": {"None", "Shallow", "Deep", "Invalid"},
	"gmos_gain_setting":          {"low", "high"},
	"gmos_read_speed_setting":    {"slow", "fast"},
	"niri_camera":                {"datum", "f13.9", "f14", "f32", "f6", "INVALID", "No Value", "UNKNOWN"},
	"niri_data_section": {"Section(x1=0, x2=1024, y1=0, y2=1024)", "Section(x1=0, x2=256, y1=0, y2=256)",
		"Section(x1=0, x2=512, y1=0, y2=512)", "Section(x1=0, x2=768, y1=0, y2=768)",
		"Section(x1=256, x2=769, y1=0, y2=1024)", "Section(x1=256, x2=769, y1=256, y2=768)",
		"Section(x1=64, x2=192, y1=64, y2=192)", "None"},
	"niri_disperser": {"Hgrismf32_G5228", "Hgrism_G5203", "Jgrismf32_G5226", "Jgrism_G5202", "Kgrismf32_G5227",
		"Kgrism_G5204", "Lgrism_G5205", "Mgrism_G5206", "MIRROR"},
	"niri_read_mode":           {"High Background", "Medium Background", "Low Background", "Invalid"},
	"niri_well_depth_setting":  {"Shallow", "Deep", "Invalid"},
	"gnirs_read_mode":          {"Very Faint Objects", "Faint Objects", "Bright Objects", "Very Bright Objects", "Invalid"},
	"gnirs_well_depth_setting": {"Shallow", "Deep", "Invalid"},
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
	check("mode", "mode", &r.Mode)
	check("detector_gain_setting", "detector_gain_setting", &r.DetectorGainSetting)
	check("detector_readspeed_setting", "detector_readspeed_setting", &r.DetectorReadSpeedSetting)
	check("detector_welldepth_setting", "detector_welldepth_setting", &r.DetectorWellDepthSetting)
	if r.GMOS != nil {
		g := *r.GMOS
		check("gmos.gain_setting", "gmos_gain_setting", &g.GainSetting)
		check("gmos.read_speed_setting", "gmos_read_speed_setting", &g.ReadSpeed)
		r.GMOS = &g
	}
	if r.NIRI != nil {
		n := *r.NIRI
		check("niri.read_mode", "niri_read_mode", &n.ReadMode)
		check("niri.well_depth_setting", "niri_well_depth_setting", &n.WellDepth)
		r.NIRI = &n
	}
	return r, warnings
}
