package header

import (
	"reflect"
	"testing"

	"github.com/fitsarchive/agentd/internal/fits"
)

// gmosFile is a raw GMOS-N long-slit frame with three amplifiers, as the worked example E3
// of docs/fitsstorage-header-rules.md describes one (N20191002S0080.fits), plus what the
// other GMOS rules read; changes alter its primary header.
func gmosFile(changes ...any) []fits.HDU {
	phu := []any{"INSTRUME", "GMOS-N", "OBSTYPE", "OBJECT", "GRATING", "R400+_G5305", "FILTER1", "OG515_G0306",
		"FILTER2", "open2-8", "MASKTYP", int64(1), "MASKNAME", "5.0arcsec", "CENTWAVE", 520.0, "DETTYPE", "S10892-N",
		"AMPINTEG", 9000.0, "DETRO1X", int64(1), "DETRO1XS", int64(3072), "DETRO1Y", int64(1), "DETRO1YS", int64(2112)}
	phu = withChanges(phu, changes...)
	hs := []fits.Header{kv(phu...)}
	for i, amp := range []string{"BI13-20-4k-1, 1", "BI13-20-4k-1, 2", "BI13-20-4k-1, 3"} {
		sec := []string{"[1:512,1:4224]", "[513:1024,1:4224]", "[1025:1536,1:4224]"}[i]
		hs = append(hs, kv("CCDSUM", "2 2", "GAIN", 1.6, "AMPNAME", amp, "DETSEC", sec))
	}
	return hdus(hs...)
}

func TestGMOSRules(t *testing.T) {
	r := FromHDUs(gmosFile())
	got := columns(r)
	for k, want := range map[string]any{"filter_name": "OG515", "disperser": "R400", "focal_plane_mask": "5.0arcsec",
		"detector_binning": "2x2", "detector_gain_setting": "low", "detector_readspeed_setting": "slow",
		"detector_readmode_setting": "Classic", "mode": "LS", "spectroscopy": true, "central_wavelength": 0.52,
		"camera": "GMOS-N", "detector_roi_setting": "Full Frame"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	g := r.GMOS
	if g == nil {
		t.Fatal("no gmos row")
	}
	want := GMOS{Disperser: ptr("R400+_G5305"), FilterName: ptr("OG515_G0306&open2-8"), XBin: ptr(2), YBin: ptr(2),
		ArrayName:   ptr("BI13-20-4k-1, 1+BI13-20-4k-1, 2+BI13-20-4k-1, 3"),
		AmpReadArea: ptr("'BI13-20-4k-1, 1':[1:512,1:4224]+'BI13-20-4k-1, 2':[513:1024,1:4224]+'BI13-20-4k-1, 3':[1025:1536,1:4224]"),
		GainSetting: ptr("low"), ReadSpeed: ptr("slow"), FocalPlaneMask: ptr("5.0arcsec")}
	if !reflect.DeepEqual(*g, want) {
		t.Errorf("gmos row\n got %+v\nwant %+v", deref(*g), deref(want))
	}

	cases := []struct {
		name    string
		changes []any
		check   func(Row) bool
	}{
		{"imaging: the mirror, no wavelength", []any{"GRATING", "MIRROR", "MASKNAME", "None", "MASKTYP", int64(0)}, func(r Row) bool {
			return *r.Mode == "imaging" && !r.Spectroscopy && r.CentralWavelength == nil && *r.FocalPlaneMask == "Imaging"
		}},
		{"a bias is imaging whatever the grating", []any{"OBSTYPE", "BIAS"}, func(r Row) bool { return *r.Mode == "imaging" && !r.Spectroscopy }},
		{"MOS mask", []any{"MASKNAME", "GN2019BQ123-01"}, func(r Row) bool { return *r.Mode == "MOS" }},
		{"IFU", []any{"MASKTYP", int64(-1), "MASKNAME", "IFU-R"}, func(r Row) bool { return *r.Mode == "IFS" }},
		{"nod and shuffle", []any{"NODPIX", int64(1536), "ANODCNT", int64(6), "BNODCNT", int64(6)}, func(r Row) bool {
			return *r.DetectorReadModeSetting == "NodAndShuffle" && r.GMOS.NodAndShuffle && *r.GMOS.NodPixels == 1536 && *r.GMOS.NodCount == 6
		}},
		{"fast read on Hamamatsu below 8000", []any{"AMPINTEG", 5000.0}, func(r Row) bool { return *r.DetectorReadSpeedSetting == "fast" }},
		{"EEV threshold 2000", []any{"DETTYPE", "SDSU II CCD", "AMPINTEG", 5000.0}, func(r Row) bool { return *r.DetectorReadSpeedSetting == "slow" }},
		{"unknown detector: no read speed", []any{"DETTYPE", "other"}, func(r Row) bool { return r.DetectorReadSpeedSetting == nil && r.GMOS.ReadSpeed == nil }},
		{"central stamp", []any{"DETRO1X", int64(2923), "DETRO1XS", int64(150), "DETRO1Y", int64(2155), "DETRO1YS", int64(150)},
			func(r Row) bool { return *r.DetectorROISetting == "Central Stamp" }},
		{"custom region", []any{"DETRO1XS", int64(100)}, func(r Row) bool { return *r.DetectorROISetting == "Custom" }},
		{"no region keywords", []any{"DETRO1YS", int64(0)}, func(r Row) bool { return *r.DetectorROISetting == "Undefined" }},
		{"GRWLEN when no CENTWAVE", []any{"CENTWAVE", nil, "GRWLEN", 460.0}, func(r Row) bool { return *r.CentralWavelength == 0.46 }},
		{"prepared", []any{"PREPARE", "2020-01-01", "TRIMOVER", "x"}, func(r Row) bool {
			return r.GMOS.Prepared && r.GMOS.OverscanTrimmed && r.DetectorGainSetting == nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := FromHDUs(gmosFile(c.changes...)); !c.check(r) {
				t.Errorf("row %+v\ngmos %+v", columns(r), deref(*r.GMOS))
			}
		})
	}
}

// deref shows a GMOS row's values rather than its pointers.
func deref(g GMOS) map[string]any {
	m := map[string]any{}
	for name, v := range map[string]*string{"disperser": g.Disperser, "filter_name": g.FilterName, "array_name": g.ArrayName,
		"amp_read_area": g.AmpReadArea, "gain": g.GainSetting, "read_speed": g.ReadSpeed, "focal_plane_mask": g.FocalPlaneMask} {
		if v != nil {
			m[name] = *v
		}
	}
	for name, v := range map[string]*int{"x_bin": g.XBin, "y_bin": g.YBin, "nod_count": g.NodCount, "nod_pixels": g.NodPixels} {
		if v != nil {
			m[name] = *v
		}
	}
	m["nodandshuffle"], m["prepared"] = g.NodAndShuffle, g.Prepared
	return m
}
