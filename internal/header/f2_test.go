package header

import (
	"reflect"
	"testing"
)

// f2File is a raw FLAMINGOS-2 long-slit frame after the worked examples E6 and E7 of
// docs/fitsstorage-header-rules.md; changes replace or add keywords.
func f2File(changes ...any) Row {
	phu := []any{"INSTRUME", "F2", "OBSTYPE", "OBJECT", "FILTER1", "Open", "FILTER2", "JH_G0809", "LYOT", "f/16_G5830",
		"GRISM", "JH_G5801", "DECKER", "Long_slit", "MOSPOS", "4pix-slit", "MASKNAME", "4pix-slit", "WAVELENG", 14000.0,
		"LNRS", int64(8), "EXPTIME", 210.0}
	phu = withChanges(phu, changes...)
	return FromHDUs(hdus(kv(phu...)))
}

func TestF2Rules(t *testing.T) {
	r := f2File()
	got := columns(r)
	for k, want := range map[string]any{"filter_name": "JH", "disperser": "JH", "camera": "f/16", "central_wavelength": 1.4,
		"mode": "LS", "spectroscopy": true, "detector_readmode_setting": "8", "detector_binning": "1x1",
		"detector_roi_setting": "Fixed", "focal_plane_mask": "4pix-slit", "exposure_time": 210.0} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	want := F2{Disperser: ptr("JH_G5801"), FilterName: ptr("Open&JH_G0809"), LyotStop: ptr("f/16_G5830"), ReadMode: ptr("8"),
		FocalPlaneMask: ptr("4pix-slit")}
	if r.F2 == nil || !reflect.DeepEqual(*r.F2, want) {
		t.Errorf("f2 row %+v", r.F2)
	}
	cases := []struct {
		name    string
		changes []any
		check   func(Row) bool
	}{
		{"U85 filter in the Lyot wheel, camera from FOCUS", []any{"FILTER2", "Open", "LYOT", "Y_G0811", "FOCUS", "f/16"},
			func(r Row) bool {
				return *r.FilterName == "Y" && *r.Camera == "f/16" && *r.F2.FilterName == "Open&Open&Y_G0811"
			}},
		{"U86 dark filter: imaging", []any{"FILTER1", "DK_G0807", "FILTER2", "Open"},
			func(r Row) bool { return *r.FilterName == "dark" && *r.Mode == "imaging" && !r.Spectroscopy }},
		{"U87 R3K long slit", []any{"GRISM", "R3K_G5803", "FILTER2", "Ks_G0804", "WAVELENG", 22000.0},
			func(r Row) bool { return *r.Mode == "LS" && *r.Disperser == "R3K" && *r.CentralWavelength == 2.2 }},
		{"U88 the filter fixes the wavelength", []any{"DECKER", "null", "MOSPOS", "2pix-slit", "FILTER2", "JH_G0816"},
			func(r Row) bool { return *r.CentralWavelength == 1.3385 && *r.Mode == "LS" }},
		{"U89 MOS wheel open", []any{"MOSPOS", "Open", "MASKNAME", "foo"}, func(r Row) bool { return *r.FocalPlaneMask == "Open" }},
		{"U90 no LNRS", []any{"LNRS", nil}, func(r Row) bool { return r.DetectorReadModeSetting == nil && r.F2.ReadMode == nil }},
		{"MOS", []any{"DECKER", "mos", "MOSPOS", "mos1"}, func(r Row) bool { return *r.Mode == "MOS" }},
		{"imaging", []any{"GRISM", "Open", "DECKER", "Open"}, func(r Row) bool {
			return *r.Mode == "imaging" && r.CentralWavelength == nil && *r.Disperser == "Open"
		}},
		{"camera from the pixel scale", []any{"LYOT", "Undefined", "PIXSCALE", 0.09}, func(r Row) bool {
			return *r.Camera == "f/32" && r.F2.LyotStop == nil
		}},
		{"FLAM is F2", []any{"INSTRUME", "FLAM"}, func(r Row) bool { return r.F2 != nil && *r.Mode == "LS" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := f2File(c.changes...); !c.check(r) {
				t.Errorf("row %+v\nf2 %+v", columns(r), r.F2)
			}
		})
	}
}

// Without a camera in LYOT or FOCUS, a raw frame's camera comes from the pixel scale of its
// WCS (CD matrix, or PC·CDELT), PIXSCALE only without one; a prepared frame keeps PIXSCALE.
func TestF2CameraFromTheWCSPixelScale(t *testing.T) {
	phu := []any{"INSTRUME", "F2", "OBSTYPE", "OBJECT", "FILTER1", "Open", "FILTER2", "J_G0802", "LYOT", "Undefined",
		"GRISM", "Open", "DECKER", "Open", "PIXSCALE", 0.09}
	const s18 = 0.18 / 3600 // 0.18″ per pixel: f/16
	for _, c := range []struct {
		name string
		phu  []any
		ext  []any
		want string
	}{
		{"CD matrix", phu, []any{"CD1_1", -s18, "CD1_2", 0.0, "CD2_1", 0.0, "CD2_2", s18}, "f/16"},
		{"rotated CD matrix", phu, []any{"CD1_1", 0.0, "CD1_2", s18, "CD2_1", s18, "CD2_2", 0.0}, "f/16"},
		{"PC and CDELT", phu, []any{"CDELT1", s18, "CDELT2", s18, "PC1_1", 1.0, "PC2_2", 1.0}, "f/16"},
		{"no WCS: PIXSCALE", phu, []any{"EXTNAME", "SCI"}, "f/32"},
		{"prepared: PIXSCALE", withChanges(phu, "PREPARE", "2020-01-01T00:00:00"), []any{"CD1_1", s18, "CD2_2", s18}, "f/32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := FromHDUs(hdus(kv(c.phu...), kv(c.ext...)))
			if r.Camera == nil || *r.Camera != c.want {
				t.Errorf("camera %v, want %s", r.Camera, c.want)
			}
		})
	}
}
