package header

import (
	"math"
	"reflect"
	"testing"

	"github.com/fitsarchive/agentd/internal/fits"
)

// gnirsFile is a raw GNIRS acquisition frame after the worked example E5 of
// docs/fitsstorage-header-rules.md (N20180524S0117.fits); changes replace or add keywords.
func gnirsFile(changes ...any) Row {
	phu := []any{"INSTRUME", "GNIRS", "OBSTYPE", "OBJECT", "ACQMIR", "In", "FILTER1", "Open", "FILTER2", "H2_G0522",
		"SLIT", "Acquisition_G5530", "DECKER", "Acquisition_G5531", "CAMERA", "LongBlue_G5542", "LNRS", int64(1),
		"NDAVGS", int64(1), "DETBIAS", -0.3, "GRATING", "32/mmSB_G5533", "PRISM", "MIR_G5511", "EXPTIME", 30.0,
		"COADDS", int64(2), "PRSM_ENG", 4513.6}
	phu = withChanges(phu, changes...)
	return FromHDUs(hdus(kv(phu...), kv("ARRAYID", "SN7638-228", "CONID", "MO-1")))
}

func TestGNIRSRules(t *testing.T) {
	r := gnirsFile()
	got := columns(r)
	for k, want := range map[string]any{"filter_name": "H2", "focal_plane_mask": "Acq", "camera": "LongBlue",
		"detector_readmode_setting": "Very_Bright_Objects", "mode": "imaging", "disperser": "MIRROR",
		"detector_welldepth_setting": "Shallow", "exposure_time": 60.0, "detector_binning": "1x1",
		"detector_roi_setting": "Fixed"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	want := GNIRS{Disperser: ptr("MIRROR"), FilterName: ptr("Open&H2_G0522"), ReadMode: ptr("Very Bright Objects"),
		WellDepth: ptr("Shallow"), Camera: ptr("LongBlue_G5542"), FocalPlaneMask: ptr("Acq_G5530&Acq_G5531"),
		ArrayName: ptr("SN7638-228+MO-1"), PrismMotorSteps: ptr(4513)}
	if r.GNIRS == nil || !reflect.DeepEqual(*r.GNIRS, want) {
		t.Errorf("gnirs row %+v", r.GNIRS)
	}
	cases := []struct {
		name    string
		changes []any
		check   func(Row) bool
	}{
		{"long slit", []any{"ACQMIR", "Out", "SLIT", "0.30arcsec_G5531", "DECKER", "SCLong_G5532", "GRATWAVE", 2.2},
			func(r Row) bool {
				return *r.Mode == "LS" && r.Spectroscopy && *r.Disperser == "32_mm" && *r.GNIRS.Disperser == "32/mm_G5533" &&
					*r.CentralWavelength == 2.2 && *r.FocalPlaneMask == "0.30arcsec"
			}},
		{"cross-dispersed", []any{"ACQMIR", "Out", "SLIT", "0.30arcsec_G5531", "DECKER", "SCXD_G5531", "PRISM", "SXD_G5536",
			"GRATING", "111/mmSB_G5534"}, func(r Row) bool {
			return *r.Mode == "spectroscopy" && *r.Disperser == "111_mm&SXD" && *r.GNIRS.Disperser == "111/mm_G5534&SXD_G5536" &&
				*r.FocalPlaneMask == "0.30arcsecXD"
		}},
		{"IFU", []any{"ACQMIR", "Out", "SLIT", "LR-IFU_G6148", "DECKER", "LR-IFU_G6149"}, func(r Row) bool {
			return *r.Mode == "IFS" && *r.FocalPlaneMask == "LR-IFU"
		}},
		{"pinhole flat", []any{"OBSTYPE", "FLAT", "SLIT", "SmPinholes_G5530"}, func(r Row) bool { return *r.ObservationType == "PINHOLE" }},
		{"read mode keyword wins", []any{"READMODE", "Faint Objects"}, func(r Row) bool { return *r.GNIRS.ReadMode == "Faint Objects" }},
		{"deep well", []any{"DETBIAS", -0.6}, func(r Row) bool { return *r.DetectorWellDepthSetting == "Deep" }},
		{"no decker, no mask", []any{"DECKER", nil}, func(r Row) bool { return r.FocalPlaneMask == nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := gnirsFile(c.changes...); !c.check(r) {
				t.Errorf("row %+v\ngnirs %+v", columns(r), *r.GNIRS)
			}
		})
	}
}

// GNIRS's WCS gives RA and Dec unless it is more than 1000″ from the target with its offsets
// (a WCS left over from the previous observation): then the target does.
func TestGNIRSPointingSanityCheck(t *testing.T) {
	phu := []any{"INSTRUME", "GNIRS", "OBSTYPE", "OBJECT", "RA", 150.0, "DEC", 30.0, "RAOFFSET", 36.0, "DECOFFSE", -18.0,
		"DATE-OBS", "2020-07-01", "TIME-OBS", "12:00:00"}
	wcs := func(ra, dec float64) fits.Header {
		return kv("CTYPE1", "RA---TAN", "CRVAL1", ra, "CTYPE2", "DEC--TAN", "CRVAL2", dec)
	}
	targetDec := 30.0 - 18.0/3600
	targetRA := 150.0 + 36.0/3600/math.Cos(targetDec*math.Pi/180)
	for _, c := range []struct {
		name            string
		phu             []any
		ext             fits.Header
		wantRA, wantDec float64
	}{
		{"WCS near the target", phu, wcs(150.01, 29.99), 150.01, 29.99},
		{"WCS 1000″ off in Dec", phu, wcs(150.01, 30.5), 150.01, targetDec},
		{"WCS off in RA only", phu, wcs(160.0, 29.99), targetRA, 29.99},
		{"RA wraps at 0h", withChanges(phu, "RA", 359.999, "RAOFFSET", 0.0), wcs(0.001, 29.99), 0.001, 29.99},
		{"no WCS: the primary header, without offsets", phu, kv("EXTNAME", "SCI"), 150.0, 30.0},
		{"apparent coordinates: the WCS stands", withChanges(phu, "FRAME", "APPT"), wcs(160.0, 35.0), 160.0, 35.0},
		{"proper motion moves the target", withChanges(phu, "RAOFFSET", 0.0, "DECOFFSE", 0.0, "PMDEC", 100.0, "EPOCH", 2000.0),
			wcs(150.0, 30.57), 150.0, 30.57}, // 100″/yr × 20.5 yr: 2050″ from DEC, near the moved target
	} {
		t.Run(c.name, func(t *testing.T) {
			r := FromHDUs(hdus(kv(c.phu...), c.ext))
			if r.RA == nil || r.Dec == nil || math.Abs(*r.RA-c.wantRA) > 1e-9 || math.Abs(*r.Dec-c.wantDec) > 1e-9 {
				t.Errorf("ra %v dec %v; want %v %v", deref64(r.RA), deref64(r.Dec), c.wantRA, c.wantDec)
			}
		})
	}
}

func deref64(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
