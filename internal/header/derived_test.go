package header

import (
	"math"
	"reflect"
	"testing"
)

// derivedColumns returns the set columns of Derived by name (times as text), for the cases
// of docs/fitsstorage-header-rules.md §4.2.
func derivedColumns(d Derived) map[string]any {
	m := map[string]any{"processing": d.Processing}
	ip := func(name string, v *int) {
		if v != nil {
			m[name] = *v
		}
	}
	fp := func(name string, v *float64) {
		if v != nil {
			m[name] = math.Round(*v*1e5) / 1e5
		}
	}
	sp := func(name string, v *string) {
		if v != nil {
			m[name] = *v
		}
	}
	if d.UTDateTimeSecs != nil {
		m["ut_datetime_secs"] = *d.UTDateTimeSecs
	}
	sp("local_time", d.LocalTime)
	ip("raw_iq", d.RawIQ)
	ip("raw_cc", d.RawCC)
	ip("raw_wv", d.RawWV)
	ip("raw_bg", d.RawBG)
	ip("requested_iq", d.RequestedIQ)
	ip("requested_cc", d.RequestedCC)
	ip("requested_wv", d.RequestedWV)
	ip("requested_bg", d.RequestedBG)
	fp("airmass", d.Airmass)
	fp("azimuth", d.Azimuth)
	fp("elevation", d.Elevation)
	fp("cass_rotator_pa", d.CassRotatorPA)
	if d.Coadds == nil || *d.Coadds != 1 {
		m["coadds"] = d.Coadds
	}
	for name, b := range map[string]bool{"adaptive_optics": d.AdaptiveOptics, "laser_guide_star": d.LaserGuideStar,
		"proprietary_coordinates": d.ProprietaryCoordinates, "pre_image": d.PreImage} {
		if b {
			m[name] = true
		}
	}
	sp("wavefront_sensor", d.WavefrontSensor)
	sp("gcal_lamp", d.GCALLamp)
	sp("processing_tag", d.ProcessingTag)
	return m
}

func TestDerivedColumns(t *testing.T) {
	raw := map[string]any{"processing": "Raw"}
	with := func(kv map[string]any) map[string]any {
		out := map[string]any{"processing": "Raw"}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name string
		kv   []any
		want map[string]any
	}{
		{"nothing", nil, raw},
		{"U19 ut_datetime_secs since 2000", []any{"DATE-OBS", "2020-01-27", "UT", "06:11:21.9"}, with(map[string]any{"ut_datetime_secs": int64(633420681)})},
		{"U24 local time", []any{"LT", "20:11:21.9"}, with(map[string]any{"local_time": "20:11:21.900000"})},
		{"local time unreadable", []any{"LT", "evening"}, raw},
		{"U35 sky conditions", []any{"RAWIQ", "70-percentile", "RAWCC", "Any", "RAWWV", "80", "REQIQ", "85-percentile",
			"REQCC", "50-percentile", "REQWV", "Any", "REQBG", "100-percentile"},
			with(map[string]any{"raw_iq": 70, "raw_cc": 100, "requested_iq": 85, "requested_cc": 50, "requested_wv": 100})},
		{"gcal empty lamp is off", []any{"GCALLAMP", "", "GCALSHUT", "OPEN"}, with(map[string]any{"gcal_lamp": "Off"})},
		{"coadds too large for the column", []any{"COADDS", int64(1) << 40}, with(map[string]any{"coadds": (*int)(nil)})},
		{"U36 airmass", []any{"AIRMASS", 1.201}, with(map[string]any{"airmass": 1.201})},
		{"U37 airmass below 1", []any{"AIRMASS", 0.95}, raw},
		{"U38 airmass from elevation", []any{"AIRMASS", 60.0, "ELEVATIO", 30.0}, with(map[string]any{"airmass": 2.0, "elevation": 30.0})},
		{"U38 airmass above 50, no elevation", []any{"AIRMASS", 60.0}, raw},
		{"U39 blank airmass", []any{"AIRMASS", ""}, raw},
		{"U40 rotator unknown", []any{"CRPA", 400.0}, raw},
		{"U40 rotator", []any{"CRPA", 179.86}, with(map[string]any{"cass_rotator_pa": 179.86})},
		{"U40 rotator below -360", []any{"CRPA", -361.0}, raw},
		{"U41 azimuth sexagesimal", []any{"AZIMUTH", "-074:48:49.97"}, with(map[string]any{"azimuth": -74.81388})},
		{"coadds", []any{"COADDS", int64(4)}, with(map[string]any{"coadds": ptr(4)})},
		{"coadds not a number", []any{"COADDS", "four"}, with(map[string]any{"coadds": (*int)(nil)})},
		{"AO and LGS", []any{"AOFOLD", "IN", "LGUSTAGE", "IN"}, with(map[string]any{"adaptive_optics": true, "laser_guide_star": true})},
		{"LGS loop", []any{"LGSLOOP", "CLOSED", "AOFOLD", "OUT"}, with(map[string]any{"laser_guide_star": true})},
		{"wavefront sensors sorted", []any{"PWFS2_ST", "guiding", "OIWFS_ST", "guiding", "PWFS1_ST", "parked", "GWFS1CFG", "x"},
			with(map[string]any{"wavefront_sensor": "GEMS&OIWFS&PWFS2"})},
		{"gcal lamp", []any{"GCALLAMP", "QH", "GCALSHUT", "OPEN"}, with(map[string]any{"gcal_lamp": "QH"})},
		{"gcal IR lamp behind a closed shutter is off", []any{"GCALLAMP", "IRhigh", "GCALSHUT", "CLOSED"}, with(map[string]any{"gcal_lamp": "Off"})},
		{"gcal no value", []any{"GCALLAMP", "No Value", "GCALSHUT", "OPEN"}, with(map[string]any{"gcal_lamp": "Off"})},
		{"gcal shutter missing", []any{"GCALLAMP", "QH"}, raw},
		{"pre-image T", []any{"PREIMAGE", true, "PROP_MD", true}, with(map[string]any{"pre_image": true, "proprietary_coordinates": true})},
		{"pre-image integer 1 is not", []any{"PREIMAGE", int64(1), "PROP_MD", "T"}, raw},
		{"pre-image string 1", []any{"PREIMAGE", "1"}, with(map[string]any{"pre_image": true})},
		{"U17 processing from PROCREVW", []any{"PROCREVW", "Quick-Look", "PROCITNT", "Science-Quality"}, map[string]any{"processing": "Quick-Look"}},
		{"U18 processing from PROCMODE", []any{"PROCREVW", "bogus", "PROCMODE", "sq", "PROCTAG", "v1"},
			map[string]any{"processing": "Science-Quality", "processing_tag": "v1"}},
		{"processing from PROCSCI", []any{"PROCSCI", "ql"}, map[string]any{"processing": "Quick-Look"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := derivedColumns(FromHDUs(hdus(kv(tt.kv...))).Derived)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("derived\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Columns of the basic row with FitsStorage's meaning (§4.2): telescope and instrument names,
// observation type and class kept only as FitsStorage spells them (Conform), QA of a mask,
// exposure times per coadd.
func TestFitsStorageSpellings(t *testing.T) {
	tests := []struct {
		name string
		kv   []any
		want map[string]any
	}{
		{"U14 telescope spelling", []any{"TELESCOP", "gemini_south"}, map[string]any{"telescope": "Gemini-South"}},
		{"foreign telescope", []any{"TELESCOP", "Keck II"}, map[string]any{}},
		{"U16 instrument", []any{"INSTRUME", "gmos-s"}, map[string]any{"instrument": "GMOS-S", "spectroscopy": true, "mode": "spectroscopy",
			"camera": "GMOS-S", "detector_readmode_setting": "Classic"}},
		{"U16 unknown instrument", []any{"INSTRUME", "FooCam"}, map[string]any{"instrument": "FooCam"}},
		{"U16 Hokupaa", []any{"INSTRUME", "hokupaa+quirc"}, map[string]any{"instrument": "Hokupaa+QUIRC"}},
		{"U34 mask passes QA", []any{"OBSTYPE", "MASK"}, map[string]any{"observation_type": "MASK", "qa_state": "Pass"}},
		{"U32 QA with PI unknown", []any{"RAWGEMQA", "BAD", "RAWPIREQ", "UNKNOWN"}, map[string]any{"qa_state": "Undefined"}},
		{"U33 QA odd value", []any{"RAWGEMQA", "GOOD", "RAWPIREQ", "YES"}, map[string]any{"qa_state": "Undefined"}},
		{"U30 QA bad", []any{"RAWGEMQA", "BAD", "RAWPIREQ", "NO"}, map[string]any{"qa_state": "Fail"}},
		{"exposure times coadds for NIRI", []any{"INSTRUME", "NIRI", "EXPTIME", 10.0, "COADDS", int64(3)},
			map[string]any{"instrument": "NIRI", "exposure_time": 30.0, "detector_binning": "1x1", "detector_readmode_setting": "Unknown",
				"filter_name": "open", "mode": "imaging"}},
		{"prepared NIRI is not multiplied", []any{"INSTRUME", "NIRI", "EXPTIME", 10.0, "COADDS", int64(3), "PREPARE", "2020-01-01"},
			map[string]any{"instrument": "NIRI", "exposure_time": 10.0, "detector_binning": "1x1", "detector_readmode_setting": "Unknown",
				"filter_name": "open", "mode": "imaging"}},
		{"NIRI binning", []any{"INSTRUME", "NIRI", "XBIN", int64(2)}, map[string]any{"instrument": "NIRI", "detector_binning": "2x1",
			"detector_readmode_setting": "Unknown", "filter_name": "open", "mode": "imaging"}},
		{"QA keyword that is no string", []any{"RAWGEMQA", "BAD", "RAWPIREQ", true}, map[string]any{"qa_state": "Undefined"}},
		{"mask without component id", []any{"FPMASK", "f6-cam_G5208"}, map[string]any{"focal_plane_mask": "f6-cam"}},
		{"GMOS exposure is not per coadd", []any{"INSTRUME", "GMOS-N", "EXPTIME", 10.0, "COADDS", int64(3)},
			map[string]any{"instrument": "GMOS-N", "exposure_time": 10.0, "spectroscopy": true, "mode": "spectroscopy",
				"camera": "GMOS-N", "detector_readmode_setting": "Classic"}},
		{"exposure of 10000 s or more", []any{"EXPTIME", 10000.0}, map[string]any{}},
		{"negative exposure", []any{"EXPTIME", -1.0}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := Conform(FromHDUs(hdus(kv(tt.kv...))))
			want := withDefaults(tt.want)
			if got := columns(r); !reflect.DeepEqual(got, want) {
				t.Errorf("FromHDUs\n got %v\nwant %v", got, want)
			}
		})
	}
	if got := TelescopeFromFilename("N20200101S0001.fits"); got == nil || *got != "Gemini-North" {
		t.Errorf("telescope of N2020… = %v", got)
	}
	if got := TelescopeFromFilename("img_20200101_001.jpg"); got != nil {
		t.Errorf("telescope of img_… = %v, want none", *got)
	}
}
