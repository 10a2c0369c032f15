package header

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/fits"
)

// columns returns the non-NULL columns of r by their names in the header table, times in
// RFC 3339; spectroscopy and num_extensions appear only when not false or zero.
func columns(r Row) map[string]any {
	m := map[string]any{}
	str := func(name string, v *string) {
		if v != nil {
			m[name] = *v
		}
	}
	num := func(name string, v *float64) {
		if v != nil {
			m[name] = *v
		}
	}
	tm := func(name string, v *time.Time) {
		if v != nil {
			m[name] = v.Format(time.RFC3339Nano)
		}
	}
	str("program_id", r.ProgramID)
	str("observation_id", r.ObservationID)
	str("data_label", r.DataLabel)
	str("telescope", r.Telescope)
	str("instrument", r.Instrument)
	tm("ut_datetime", r.UTDateTime)
	str("observation_type", r.ObservationType)
	str("observation_class", r.ObservationClass)
	str("object", r.Object)
	num("ra", r.RA)
	num("dec", r.Dec)
	num("exposure_time", r.ExposureTime)
	str("filter_name", r.FilterName)
	str("disperser", r.Disperser)
	num("central_wavelength", r.CentralWavelength)
	str("focal_plane_mask", r.FocalPlaneMask)
	str("detector_binning", r.DetectorBinning)
	str("qa_state", r.QAState)
	tm("release", r.Release)
	flag := func(name string, v *bool) {
		if v != nil {
			m[name] = *v
		}
	}
	str("mode", r.Mode)
	str("camera", r.Camera)
	str("detector_roi_setting", r.DetectorROISetting)
	str("detector_gain_setting", r.DetectorGainSetting)
	str("detector_readspeed_setting", r.DetectorReadSpeedSetting)
	str("detector_readmode_setting", r.DetectorReadModeSetting)
	str("detector_welldepth_setting", r.DetectorWellDepthSetting)
	flag("engineering", r.Engineering)
	flag("science_verification", r.ScienceVerification)
	flag("calibration_program", r.CalibrationProgram)
	if r.SiteMonitoring {
		m["site_monitoring"] = true
	}
	if r.Spectroscopy {
		m["spectroscopy"] = true
	}
	if r.NumExtensions != 0 {
		m["num_extensions"] = r.NumExtensions
	}
	return m
}

// withDefaults adds to want the values every row has unless the case says otherwise:
// FitsStorage's qa_state fallback, an empty data label, and, without a program id,
// engineering data that is not science verification.
func withDefaults(want map[string]any) map[string]any {
	w := maps.Clone(want)
	for k, v := range map[string]any{"qa_state": "Undefined", "data_label": "", "engineering": true, "science_verification": false} {
		if _, ok := w[k]; !ok {
			w[k] = v
		}
	}
	return w
}

// withChanges returns the keyword, value pairs of base with changes applied: a change of a
// keyword base has replaces its value, any other is added.
func withChanges(base []any, changes ...any) []any {
	out := slices.Clone(base)
	for i := 0; i+1 < len(changes); i += 2 {
		found := false
		for j := 0; j+1 < len(out); j += 2 {
			if out[j] == changes[i] {
				out[j+1], found = changes[i+1], true
			}
		}
		if !found {
			out = append(out, changes[i], changes[i+1])
		}
	}
	return out
}

// kv builds a header from keyword, value pairs.
func kv(pairs ...any) fits.Header {
	var h fits.Header
	for i := 0; i < len(pairs); i += 2 {
		h.Cards = append(h.Cards, fits.Card{Keyword: pairs[i].(string), Value: pairs[i+1]})
	}
	return h
}

func hdus(headers ...fits.Header) []fits.HDU {
	out := make([]fits.HDU, len(headers))
	for i, h := range headers {
		out[i] = fits.HDU{Header: h}
	}
	return out
}

func TestFromHDUs(t *testing.T) {
	t.Parallel()
	ext := kv("XTENSION", "IMAGE")
	tests := []struct {
		name string
		hdus []fits.HDU
		want map[string]any
	}{
		{"no HDUs", nil, map[string]any{}},
		{"empty primary", hdus(kv("SIMPLE", true)), map[string]any{}},
		{"identifiers", hdus(kv("GEMPRGID", "GN-2020A-Q-101", "OBSID", "GN-2020A-Q-101-5", "DATALAB", "GN-2020A-Q-101-5-001",
			"TELESCOP", "Gemini-North", "INSTRUME", "GMOS-N")), map[string]any{
			"program_id": "GN-2020A-Q-101", "observation_id": "GN-2020A-Q-101-5", "data_label": "GN-2020A-Q-101-5-001",
			"telescope": "Gemini-North", "instrument": "GMOS-N", "engineering": false, "calibration_program": false,
			"spectroscopy": true, "mode": "spectroscopy", "camera": "GMOS-N", "detector_readmode_setting": "Classic"}},
		{"trailing blanks trimmed, leading kept", hdus(kv("OBJECT", " M31  ")), map[string]any{"object": " M31"}},
		{"empty string is missing", hdus(kv("OBJECT", "", "OBSTYPE", "   ")), map[string]any{}},
		{"non-string is missing", hdus(kv("OBJECT", int64(3), "INSTRUME", true)), map[string]any{}},
		{"observation type, class, object", hdus(kv("OBSTYPE", "OBJECT", "OBSCLASS", "science", "OBJECT", "NGC 1068")),
			map[string]any{"observation_type": "OBJECT", "observation_class": "science", "object": "NGC 1068"}},

		{"date and time", hdus(kv("DATE-OBS", "2020-01-01T03:04:05.6")), map[string]any{"ut_datetime": "2020-01-01T03:04:05.6Z"}},
		{"date and time with Z", hdus(kv("DATE-OBS", "2020-01-01T03:04:05Z")), map[string]any{"ut_datetime": "2020-01-01T03:04:05Z"}},
		{"UT before TIME-OBS (DRAGONS' order)", hdus(kv("DATE-OBS", "2020-01-01", "TIME-OBS", "03:04:05.6", "UT", "09:00:00")),
			map[string]any{"ut_datetime": "2020-01-01T09:00:00Z"}},
		{"unreadable UT, TIME-OBS next", hdus(kv("DATE-OBS", "2020-01-01", "UT", "nine", "TIME-OBS", "03:04:05.6")),
			map[string]any{"ut_datetime": "2020-01-01T03:04:05.6Z"}},
		{"date plus UT", hdus(kv("DATE-OBS", "2020-01-01", "UT", "23:59:59.123")), map[string]any{"ut_datetime": "2020-01-01T23:59:59.123Z"}},
		{"date time ignores TIME-OBS", hdus(kv("DATE-OBS", "2020-01-01T01:00:00", "TIME-OBS", "03:04:05")),
			map[string]any{"ut_datetime": "2020-01-01T01:00:00Z"}},
		{"date alone is midnight", hdus(kv("DATE-OBS", "2020-01-01")), map[string]any{"ut_datetime": "2020-01-01T00:00:00Z"}},
		{"time in the extension is not read", hdus(kv("DATE-OBS", "2020-01-01"), kv("UT", "03:04:05")), map[string]any{"ut_datetime": "2020-01-01T00:00:00Z", "num_extensions": 1}},
		{"U22 old DD/MM/YY date", hdus(kv("DATE-OBS", "27/01/99", "UT", "10:00:00")), map[string]any{"ut_datetime": "1999-01-27T10:00:00Z"}},
		{"U21 MJD-OBS wins over midnight", hdus(kv("DATE-OBS", "2016-06-05", "MJD-OBS", 57544.5)), map[string]any{"ut_datetime": "2016-06-05T12:00:00Z"}},
		{"DATE when DATE-OBS is absent", hdus(kv("DATE", "2016-06-05T01:02:03.5")), map[string]any{"ut_datetime": "2016-06-05T01:02:03.5Z"}},
		{"date that is not a string", hdus(kv("DATE-OBS", int64(20200101))), map[string]any{}},
		{"bad month", hdus(kv("DATE-OBS", "2020-13-01")), map[string]any{}},
		{"bad date time", hdus(kv("DATE-OBS", "2020-01-01T25:00:00")), map[string]any{}},
		{"unreadable time is midnight", hdus(kv("DATE-OBS", "2020-01-01", "TIME-OBS", "3h04m")), map[string]any{"ut_datetime": "2020-01-01T00:00:00Z"}},
		{"time without date", hdus(kv("TIME-OBS", "03:04:05")), map[string]any{}},

		{"coordinates and exposure", hdus(kv("RA", 10.5, "DEC", int64(-30), "EXPTIME", "120.0")),
			map[string]any{"ra": 10.5, "dec": -30.0, "exposure_time": 120.0}},
		{"sexagesimal RA in hours", hdus(kv("RA", "00:42:44.3", "DEC", "+41.27")), map[string]any{"ra": 10.684583333333332, "dec": 41.27}},
		{"U44 sexagesimal Dec", hdus(kv("RA", "03:48:30.113", "DEC", "+24:20:43.00")), map[string]any{"ra": 57.12547083333333, "dec": 24.345277777777778}},
		{"U43 WCS of the first extension", hdus(kv("RA", 1.0, "DEC", 2.0), kv("CTYPE1", "RA---TAN", "CRVAL1", 290.3707, "CTYPE2", "DEC--TAN", "CRVAL2", 12.43975)),
			map[string]any{"ra": 290.3707, "dec": 12.43975, "num_extensions": 1}},
		{"U42 azimuth-elevation target", hdus(kv("FRAME", "AZEL_TOPO", "RA", 10.0, "DEC", 20.0)), map[string]any{}},
		{"RA out of range", hdus(kv("RA", 400.0, "DEC", -91.0)), map[string]any{}},
		{"undefined RA", hdus(kv("RA", nil)), map[string]any{}},

		{"filter1 and filter2", hdus(kv("FILTER1", "g_G0301", "FILTER2", "open2-8", "FILTER", "ignored")),
			map[string]any{"filter_name": "g"}},
		{"filter2 only is no filter name", hdus(kv("FILTER2", "open2-8", "FILTER", "ignored")), map[string]any{}},
		{"both open", hdus(kv("FILTER1", "open1-6", "FILTER2", "Clear_G0001")), map[string]any{"filter_name": "open"}},
		{"blocking filter", hdus(kv("FILTER1", "DK_G0001", "FILTER2", "open")), map[string]any{"filter_name": "DK&dark"}},
		{"ND filter dropped, blanks and percent", hdus(kv("FILTER1", "ND2.0_G0001", "FILTER2", "Ha 5%_G0310")), map[string]any{"filter_name": "Ha_5"}},
		{"filter", hdus(kv("FILTER", "H_G0203")), map[string]any{"filter_name": "H"}},
		{"empty filter1 falls back", hdus(kv("FILTER1", "", "FILTER", "J")), map[string]any{"filter_name": "J"}},

		{"grating", hdus(kv("GRATING", "B600+_G5307", "DISPERSR", "other")),
			map[string]any{"disperser": "B600+", "spectroscopy": true}},
		{"dispersr", hdus(kv("DISPERSR", "111/mm_G5534")), map[string]any{"disperser": "111_mm", "spectroscopy": true}},
		{"mirror", hdus(kv("GRATING", "MIRROR")), map[string]any{"disperser": "MIRROR"}},
		{"lower mirror", hdus(kv("GRATING", "mirror")), map[string]any{"disperser": "mirror"}},
		{"open", hdus(kv("DISPERSR", "open")), map[string]any{"disperser": "open"}},
		{"OPEN1", hdus(kv("DISPERSR", "OPEN1")), map[string]any{"disperser": "OPEN1"}},
		{"none", hdus(kv("GRATING", "None")), map[string]any{"disperser": "None"}},
		{"blank disperser", hdus(kv("GRATING", "  ")), map[string]any{}},
		{"wavelength in µm", hdus(kv("GRATING", "R400+_G5325", "CENTWAVE", 0.52, "GRWLEN", 700.0)),
			map[string]any{"central_wavelength": 0.52, "disperser": "R400+", "spectroscopy": true}},
		{"grwlen in nm", hdus(kv("GRATING", "R400+_G5325", "GRWLEN", int64(700))),
			map[string]any{"central_wavelength": 0.7, "disperser": "R400+", "spectroscopy": true}},
		{"no wavelength for imaging", hdus(kv("GRATING", "MIRROR", "CENTWAVE", 520.0)), map[string]any{"disperser": "MIRROR"}},
		{"wavelength the column cannot hold", hdus(kv("GRATING", "R400+_G5325", "CENTWAVE", -3.0)),
			map[string]any{"disperser": "R400+", "spectroscopy": true}},
		{"maskname", hdus(kv("MASKNAME", "1.0arcsec", "FPMASK", "other")), map[string]any{"focal_plane_mask": "1.0arcsec"}},
		{"fpmask", hdus(kv("FPMASK", "0.75arcsec")), map[string]any{"focal_plane_mask": "0.75arcsec"}},

		{"binning", hdus(kv("CCDSUM", "2 2")), map[string]any{"detector_binning": "2x2"}},
		{"binning whitespace", hdus(kv("CCDSUM", " 1   4 ")), map[string]any{"detector_binning": "1x4"}},
		{"binning from extension", hdus(kv("SIMPLE", true), kv("CCDSUM", "2 1"), kv("CCDSUM", "4 4")),
			map[string]any{"detector_binning": "2x1", "num_extensions": 2}},

		{"qa pass", hdus(kv("RAWGEMQA", "USABLE", "RAWPIREQ", "YES")), map[string]any{"qa_state": "Pass"}},
		{"qa usable", hdus(kv("RAWGEMQA", " usable ", "RAWPIREQ", "NO")), map[string]any{"qa_state": "Usable"}},
		{"qa bad whatever the PI", hdus(kv("RAWGEMQA", "BAD", "RAWPIREQ", "YES")), map[string]any{"qa_state": "Fail"}},
		{"qa check", hdus(kv("RAWGEMQA", "USABLE", "RAWPIREQ", "CHECK")), map[string]any{"qa_state": "CHECK"}},
		{"qa unknown", hdus(kv("RAWGEMQA", "UNKNOWN", "RAWPIREQ", "UNKNOWN")), map[string]any{"qa_state": "Undefined"}},
		{"qa odd value", hdus(kv("RAWGEMQA", "Pass")), map[string]any{"qa_state": "Undefined"}},
		{"release", hdus(kv("RELEASE", "2021-07-01")), map[string]any{"release": "2021-07-01T00:00:00Z"}},
		{"bad release", hdus(kv("RELEASE", "2021-07-01T00:00:00")), map[string]any{}},

		{"primary wins over extension", hdus(kv("OBJECT", "primary", "RA", 1.0), kv("OBJECT", "ext", "RA", 2.0, "DEC", 3.0)),
			map[string]any{"object": "primary", "ra": 1.0, "num_extensions": 1}}, // the pointing is the primary header's
		{"empty primary value falls back", hdus(kv("OBJECT", ""), kv("OBJECT", "ext")), map[string]any{"object": "ext", "num_extensions": 1}},
		{"second extension is not searched", hdus(kv("SIMPLE", true), ext, kv("OBJECT", "third")), map[string]any{"num_extensions": 2}},
		{"first keyword in either header wins", hdus(kv("DISPERSR", "primary"), kv("GRATING", "ext")),
			map[string]any{"disperser": "ext", "spectroscopy": true, "num_extensions": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := withDefaults(tt.want)
			got := columns(FromHDUs(tt.hdus))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("FromHDUs\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestFromFile runs the package on a file written and read by package fits.
func TestFromFile(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, []fits.Card{
		{Keyword: "SIMPLE", Value: true},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(0)},
		{Keyword: "INSTRUME", Value: "GMOS-S"},
		{Keyword: "DATE-OBS", Value: "2019-12-31"},
		{Keyword: "TIME-OBS", Value: "23:59:59.5"},
		{Keyword: "RA", Value: 83.8221},
		{Keyword: "GRATING", Value: "R400+_G5325"},
		{Keyword: "CENTWAVE", Value: 700.0}, // nm, as GMOS writes it
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fits.WriteHDU(&buf, []fits.Card{
		{Keyword: "XTENSION", Value: "IMAGE"},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)},
		{Keyword: "NAXIS1", Value: int64(2)},
		{Keyword: "NAXIS2", Value: int64(2)},
		{Keyword: "CCDSUM", Value: "2 4"},
	}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	h, err := fits.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"instrument": "GMOS-S", "ut_datetime": "2019-12-31T23:59:59.5Z", "ra": 83.8221,
		"disperser": "R400", "spectroscopy": true, "central_wavelength": 0.7, "detector_binning": "2x4",
		"mode": "spectroscopy", "camera": "GMOS-S", "detector_readmode_setting": "Classic", "detector_roi_setting": "Undefined",
		"num_extensions": 1}
	want = withDefaults(want)
	if got := columns(FromHDUs(h)); !reflect.DeepEqual(got, want) {
		t.Errorf("FromHDUs\n got %v\nwant %v", got, want)
	}
}

// The program-id forms FitsStorage knows, and what each says (docs/fitsstorage-header-rules.md §3,
// from FitsStorage's own tests).
func TestParseProgram(t *testing.T) {
	valid := map[string]Program{
		"GN-CAL20120123":        {Valid: true, Cal: true, DateCode: "20120123"},
		"GS-CAL20000131":        {Valid: true, Cal: true, DateCode: "20000131"},
		"GN-ENG20441231":        {Valid: true, Eng: true, DateCode: "20441231"},
		"CAL20031122":           {Valid: true, Cal: true, DateCode: "20031122"},
		"ENG20221101":           {Valid: true, Eng: true, DateCode: "20221101"},
		"GN-2020A-CAL-191":      {Valid: true, Cal: true, Semester: "2020A"},
		"GN-2011A-ENG-191":      {Valid: true, Eng: true, Semester: "2011A"},
		"G-2001A-CAL-GMOS_N-20": {Valid: true, Cal: true, Semester: "2001A"},
		"G-2001A-MON-F_2-20":    {Valid: true, Mon: true, Semester: "2001A"},
		"G-2099B-COM-SCORPIO-1": {Valid: true, Com: true, Semester: "2099B"},
		"GN-2011A-Q-12":         {Valid: true, Semester: "2011A", Type: "Q"},
		"GS-2000B-C-1":          {Valid: true, Semester: "2000B", Type: "C"},
		"GN-2000A-DD-3":         {Valid: true, Semester: "2000A", Type: "DD"},
		"GS-2033B-QS-1234":      {Valid: true, Semester: "2033B", Type: "QS"},
		"GN-2020A-SV-12":        {Valid: true, SV: true, Semester: "2020A", Type: "SV"},
		"G-2020A-1234-Q":        {Valid: true, Semester: "2020A", Type: "Q"},
		"G-2020A-14-F":          {Valid: true, Semester: "2020A", Type: "F"},
		"G-2025A-0123-V":        {Valid: true, SV: true, Semester: "2025A", Type: "V"},
		"G-2012B-1234-P":        {Valid: true, Semester: "2012B", Type: "P"},
		"  GN-2011A-Q-12  ":     {Valid: true, Semester: "2011A", Type: "Q"},
	}
	for id, want := range valid {
		if got := ParseProgram(id); got != want {
			t.Errorf("ParseProgram(%q) = %+v, want %+v", id, got, want)
		}
	}
	for _, id := range []string{"GX-CAL20000131", "G-CAL20120123", "GN-ENG19441231", "Eng20221101", "CAL1901122",
		"CAL200312", "GN-2020A-foo-191", "G-2020B-ENG-191", "GN-2001A-CAL-GMOS_N-20", "G-2001B-FOO-GMOS_N-20",
		"G-2001A-COM-IGRINS-2-20", "G-2011A-Q-12", "GS-2000C-C-1", "GN-2000A-ZZ-3", "GS-2024A-Q-410-36",
		"GN-2020A-1234-Q", "G-2020C-1234-C", "G-2020A-14-Z", "GN-2022A-ENG-51-152", "gn-2019b-q-12", ""} {
		if got := ParseProgram(id); got.Valid {
			t.Errorf("ParseProgram(%q) = %+v, want not valid", id, got)
		}
	}
}

// The header's program flags, ENG_DATA and site monitoring (worked examples U1–U11).
func TestProgramFlags(t *testing.T) {
	tests := []struct {
		name string
		kv   []any
		want map[string]any
	}{
		{"U1 lower case id is upper-cased, then valid", []any{"GEMPRGID", "gn-2019b-q-12"},
			map[string]any{"program_id": "GN-2019B-Q-12", "engineering": false, "calibration_program": false}},
		{"U2 science verification", []any{"GEMPRGID", "GN-2020A-SV-12"},
			map[string]any{"program_id": "GN-2020A-SV-12", "engineering": false, "science_verification": true, "calibration_program": false}},
		{"U3 new-style SV", []any{"GEMPRGID", "G-2025A-0123-V"},
			map[string]any{"program_id": "G-2025A-0123-V", "engineering": false, "science_verification": true, "calibration_program": false}},
		{"U4 engineering", []any{"GEMPRGID", "GN-ENG20200123"},
			map[string]any{"program_id": "GN-ENG20200123", "calibration_program": false}},
		{"U5 monitoring is not engineering", []any{"GEMPRGID", "G-2025B-MON-GMOS_S-3"},
			map[string]any{"program_id": "G-2025B-MON-GMOS_S-3", "engineering": false, "calibration_program": false}},
		{"calibration", []any{"GEMPRGID", "GS-CAL20240202"},
			map[string]any{"program_id": "GS-CAL20240202", "engineering": false, "calibration_program": true}},
		{"U7 unknown form is engineering", []any{"GEMPRGID", "MyTestProg"},
			map[string]any{"program_id": "MYTESTPROG", "calibration_program": false}},
		{"U8 no id", []any{"INSTRUME", "GMOS-N"}, map[string]any{"instrument": "GMOS-N", "spectroscopy": true, "mode": "spectroscopy",
			"camera": "GMOS-N", "detector_readmode_setting": "Classic"}},
		{"U9 site monitoring without id", []any{"INSTRUME", "GS_ALLSKYCAMERA"},
			map[string]any{"instrument": "GS_ALLSKYCAMERA", "site_monitoring": true, "engineering": false}},
		{"U10 ENG_DATA T", []any{"GEMPRGID", "GN-2019B-Q-1", "ENG_DATA", true},
			map[string]any{"program_id": "GN-2019B-Q-1", "calibration_program": false}},
		{"U11 ENG_DATA F", []any{"GEMPRGID", "GN-ENG20200101", "ENG_DATA", false},
			map[string]any{"program_id": "GN-ENG20200101", "engineering": false, "calibration_program": false}},
		{"ENG_DATA string F is true (Python's truth)", []any{"GEMPRGID", "GN-2019B-Q-1", "ENG_DATA", "F"},
			map[string]any{"program_id": "GN-2019B-Q-1", "calibration_program": false}},
		{"identifiers upper-cased", []any{"OBSID", "gn-2019b-q-12-3", "DATALAB", "gn-2019b-q-12-3-001"},
			map[string]any{"observation_id": "GN-2019B-Q-12-3", "data_label": "GN-2019B-Q-12-3-001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := withDefaults(tt.want)
			if got := columns(FromHDUs(hdus(kv(tt.kv...)))); !reflect.DeepEqual(got, want) {
				t.Errorf("FromHDUs\n got %v\nwant %v", got, want)
			}
		})
	}
}
