package header

import (
	"reflect"
	"testing"
)

// niriFile is a raw NIRI imaging frame shaped after the worked examples E1 and E4 of
// docs/fitsstorage-header-rules.md (N20200127S0023.fits, N20180329S0134.fits); changes
// replace or add primary keywords.
func niriFile(changes ...any) Row {
	phu := []any{"INSTRUME", "NIRI", "OBSTYPE", "OBJECT", "FILTER1", "J_G0202", "FILTER2", "open", "FILTER3", "open",
		"CAMERA", "f6", "FPMASK", "f6-cam_G5208", "EXPTIME", 1.0, "COADDS", int64(10), "LNRS", int64(1), "NDAVGS", int64(16),
		"A_VDDUC", -1.3, "A_VDET", -0.7}
	phu = withChanges(phu, changes...)
	return FromHDUs(hdus(kv(phu...), kv("NAXIS1", int64(1024), "NAXIS2", int64(1024))))
}

func TestNIRIRules(t *testing.T) {
	r := niriFile()
	got := columns(r)
	for k, want := range map[string]any{"filter_name": "J", "exposure_time": 10.0, "disperser": "MIRROR", "camera": "f6",
		"focal_plane_mask": "f6-cam", "detector_binning": "1x1", "detector_roi_setting": "Full Frame",
		"detector_welldepth_setting": "Shallow", "detector_readmode_setting": "Medium_Background", "mode": "imaging"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if r.Spectroscopy || r.CentralWavelength != nil || r.PupilMask == nil || *r.PupilMask != "MIRROR" {
		t.Errorf("spectroscopy %v, central wavelength %v, pupil mask %v", r.Spectroscopy, r.CentralWavelength, r.PupilMask)
	}
	want := NIRI{Disperser: ptr("MIRROR"), FilterName: ptr("J_G0202"), ReadMode: ptr("Medium Background"),
		WellDepth: ptr("Shallow"), DataSection: ptr("Section(x1=0, x2=1024, y1=0, y2=1024)"), Camera: ptr("f6"),
		FocalPlaneMask: ptr("f6-cam_G5208")}
	if r.NIRI == nil || !reflect.DeepEqual(*r.NIRI, want) {
		t.Errorf("niri row %+v", r.NIRI)
	}

	cases := []struct {
		name    string
		changes []any
		check   func(Row) bool
	}{
		{"grism: long slit with its wavelength", []any{"FILTER3", "Kgrism_G5204", "FPMASK", "f6-2pix_G5211", "FILTER1", "K_G0204"},
			func(r Row) bool {
				return r.Spectroscopy && *r.Mode == "LS" && *r.Disperser == "Kgrism" && *r.CentralWavelength == 2.263 &&
					*r.NIRI.Disperser == "Kgrism_G5204" && *r.FilterName == "K"
			}},
		{"a pair of filters named as one", []any{"FILTER1", "PK50_G0212", "FILTER2", "Y_G0241"},
			func(r Row) bool { return *r.FilterName == "Y" && *r.NIRI.FilterName == "PK50_G0212&Y_G0241" }},
		{"an unmapped pair is joined", []any{"FILTER1", "Foo_G0001", "FILTER2", "Bar_G0002"},
			func(r Row) bool { return *r.FilterName == "Bar&Foo" }},
		{"mapped names with blanks use _", []any{"FILTER1", "H2v=1-0S1_G0216", "FILTER2", "K_G0204"},
			func(r Row) bool { return *r.FilterName == "H2_1-0_S1" }},
		{"blank", []any{"FILTER1", "blank_G0235"}, func(r Row) bool { return *r.FilterName == "blank" && *r.NIRI.FilterName == "blank" }},
		{"pupil mask", []any{"FILTER3", "pupil38_G5240"}, func(r Row) bool { return *r.PupilMask == "pupil38" && *r.Disperser == "MIRROR" }},
		{"high background", []any{"LNRS", int64(1), "NDAVGS", int64(1)}, func(r Row) bool {
			return *r.DetectorReadModeSetting == "High_Background" && *r.NIRI.ReadMode == "High Background"
		}},
		{"deep well", []any{"A_VDDUC", -1.57}, func(r Row) bool { return *r.DetectorWellDepthSetting == "Deep" }},
		{"unknown well", []any{"A_VDDUC", -1.0}, func(r Row) bool { return r.DetectorWellDepthSetting == nil && r.NIRI.WellDepth == nil }},
		{"unknown camera is not stored in the table", []any{"CAMERA", "f99"}, func(r Row) bool { return *r.Camera == "f99" && r.NIRI.Camera == nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := niriFile(c.changes...); !c.check(r) {
				t.Errorf("row %+v\nniri %+v", columns(r), *r.NIRI)
			}
		})
	}
}
