package header

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/fits"
)

// GNIRS is a GNIRS frame's row of FitsStorage's gnirs table (its cal/orm/gnirs.py through
// DRAGONS' GNIRS descriptors; docs/fitsstorage-header-rules.md §2.3).
type GNIRS struct {
	Disperser, FilterName, ReadMode, WellDepth, Camera, FocalPlaneMask, ArrayName *string
	PrismMotorSteps                                                               *int
}

var (
	gnirsGratingRE = regexp.MustCompile(`^([\d/m]+)[A-Z]*(_G)(\d+)`)
	gnirsPrismRE   = regexp.MustCompile(`^(?:[A-Z0-9]*\+)?([A-Z]*_G\d+)`)
)

// gnirsRules applies GNIRS's descriptors to r and returns its gnirs row.
func (k keywords) gnirsRules(r *Row, exts []fits.Header) *GNIRS {
	phu := k.phu()
	obstype := k.phuString("OBSTYPE")
	acqmir := k.phuString("ACQMIR")
	slit, decker := phu.str("SLIT"), phu.str("DECKER")
	slitText := ""
	if slit != nil {
		slitText = *slit
	}
	grating, prism := k.phuString("GRATING"), k.phuString("PRISM")
	spect := acqmir == "Out" && obstype != "DARK"
	mode := "imaging"
	if spect {
		mode = "spectroscopy"
		ls := strings.ToLower(slitText)
		switch {
		case strings.Contains(ls, "ifu"):
			mode = "IFS"
		case (strings.Contains(ls, "arcsec") || strings.Contains(ls, "pin")) && strings.Contains(grating, "mm") && strings.Contains(prism, "MIR"):
			mode = "LS"
		}
	}
	r.Spectroscopy = spect
	r.Mode = &mode
	if obstype == "FLAT" && strings.Contains(slitText, "Pinholes") {
		p := "PINHOLE"
		r.ObservationType = &p
	}

	// Disperser: the mirror, or the grating (and a prism other than the mirror).
	var rawDisperser *string
	if acqmir == "In" {
		m := "MIRROR"
		rawDisperser = &m
		r.Disperser = &m
	} else {
		g := phu.str("GRATING")
		var gr, pr *string
		if g != nil {
			v := *g
			if m := gnirsGratingRE.FindStringSubmatch(v); m != nil {
				v = m[1] + "_G" + m[3]
			}
			gr = &v
		}
		if m := gnirsPrismRE.FindStringSubmatch(prism); m != nil {
			pr = &m[1]
		}
		r.Disperser = nil
		if gr != nil && pr != nil {
			raw, pretty := *gr, removeComponentID(*gr)
			if !strings.HasPrefix(*pr, "MIR") {
				raw += "&" + *pr
				pretty += "&" + removeComponentID(*pr)
			}
			pretty = strings.ReplaceAll(pretty, "/", "_")
			rawDisperser, r.Disperser = &raw, &pretty
		}
	}
	camera := phu.str("CAMERA")
	r.Camera = withoutComponentID(camera)

	// Focal plane mask: from the slit and the decker.
	var rawMask *string
	r.FocalPlaneMask = nil
	if slit != nil && decker != nil {
		s := strings.ReplaceAll(*slit, " ", "")
		s = strings.ReplaceAll(s, "1.0arcsec", "1.00arcsec")
		s = strings.ReplaceAll(s, "Acquisition", "Acq")
		d := strings.ReplaceAll(*decker, "Acquisition", "Acq")
		raw := s + "&" + d
		rawMask = &raw
		ps, pd := removeComponentID(s), removeComponentID(d)
		var m string
		switch {
		case strings.Contains(pd, "Long"):
			m = ps
		case strings.Contains(pd, "XD"):
			m = ps + "XD"
		case strings.Contains(ps, "HR-IFU") && strings.Contains(pd, "HR-IFU"):
			m = "HR-IFU"
		case strings.Contains(ps, "LR-IFU") && strings.Contains(pd, "LR-IFU"):
			m = "LR-IFU"
		case strings.Contains(ps, "IFU") && strings.Contains(pd, "IFU"):
			m = "IFU"
		case strings.Contains(ps, "Acq") && strings.Contains(pd, "Acq"):
			m = "Acq"
		default:
			m = ps + "&" + pd
		}
		r.FocalPlaneMask = &m
	}
	r.CentralWavelength = nil
	if spect {
		if w := phu.float("GRATWAVE"); w != nil && *w > 0 {
			r.CentralWavelength = float32Micrometres(*w)
		}
	}
	fixed := "Fixed"
	r.DetectorROISetting = &fixed
	readMode := k.gnirsReadMode()
	rm := strings.ReplaceAll(readMode, " ", "_")
	r.DetectorReadModeSetting = &rm
	well := k.gnirsWellDepth()
	r.DetectorWellDepthSetting = well
	r.DetectorGainSetting = phu.str("GAINSET")
	r.DetectorReadSpeedSetting = phu.str("RDSPDSET")
	r.PupilMask = phu.str("PUPILMSK")

	g := &GNIRS{Disperser: rawDisperser, WellDepth: well, Camera: camera, FocalPlaneMask: rawMask}
	if f1, f2 := phu.str("FILTER1"), phu.str("FILTER2"); f1 != nil && f2 != nil {
		f := *f1 + "&" + *f2
		g.FilterName = &f
	}
	if slices.Contains(Enums["gnirs_read_mode"], readMode) {
		g.ReadMode = &readMode
	}
	if steps := phu.float("PRSM_ENG"); steps != nil && math.Abs(*steps) < math.MaxInt32 {
		g.PrismMotorSteps = ptrInt(int(*steps))
	}
	arrays := exts
	if len(arrays) == 0 {
		arrays = phu
	}
	if a, ok := arrays[0].String("ARRAYID"); ok {
		a = strings.TrimRight(a, " ")
		if c, ok := arrays[0].String("CONID"); ok {
			a += "+" + strings.TrimRight(c, " ")
		}
		g.ArrayName = &a
	}
	k.gnirsPointing(r)
	return g
}

// gnirsReadMode is READMODE, else the name LNRS and NDAVGS give.
func (k keywords) gnirsReadMode() string {
	if s := k.phu().str("READMODE"); s != nil {
		return *s
	}
	lnrs, ndavgs := k.phu().float("LNRS"), k.phu().float("NDAVGS")
	if lnrs == nil || ndavgs == nil {
		return "Unknown"
	}
	switch [2]float64{*lnrs, *ndavgs} {
	case [2]float64{32, 16}:
		return "Very Faint Objects"
	case [2]float64{16, 16}:
		return "Faint Objects"
	case [2]float64{1, 16}:
		return "Bright Objects"
	case [2]float64{1, 1}:
		return "Very Bright Objects"
	}
	return "Unknown"
}

// gnirsWellDepth is Shallow or Deep from the detector bias DETBIAS, nil otherwise.
func (k keywords) gnirsWellDepth() *string {
	b := k.phu().float("DETBIAS")
	if b == nil {
		return nil
	}
	var s string
	switch {
	case math.Abs(0.3-math.Abs(*b)) < 0.1:
		s = "Shallow"
	case math.Abs(0.6-math.Abs(*b)) < 0.1:
		s = "Deep"
	default:
		return nil
	}
	return &s
}

// gnirsPointing is DRAGONS' sanity check of GNIRS's WCS: the first extension's WCS gives RA
// and Dec unless it lies more than 1000″ from the target (the primary header's RA/DEC plus
// the telescope and target offsets RAOFFSET+RATRGOFF, DECOFFSE+DECTRGOF, in arcseconds, and
// the proper motion PMRA, PMDEC from EPOCH to the observation): the data system sometimes
// leaves the previous observation's WCS in a file. The target is then used. DRAGONS compares
// in ICRS; the targets of FK5 (J2000) and ICRS frames differ far less than the threshold, so
// they are compared as written, and a target in apparent coordinates (FRAME APPT, a
// non-sidereal target) is not compared: the WCS stands.
func (k keywords) gnirsPointing(r *Row) {
	if k.phuString("FRAME") == "AZEL_TOPO" || k.phuString("FRAME") == "APPT" {
		return
	}
	wra, wdec := k.wcsPosition("CTYPE1", "CRVAL1", "RA--"), k.wcsPosition("CTYPE2", "CRVAL2", "DEC-")
	tra, tdec := k.phuPosition("RA", 15), k.phuPosition("DEC", 1)
	if tra == nil || tdec == nil {
		return
	}
	num := func(key string) float64 {
		if v := k.float(key); v != nil {
			return *v
		}
		return 0
	}
	years := 0.0
	if r.UTDateTime != nil {
		t := *r.UTDateTime
		start := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		end := start.AddDate(1, 0, 0)
		epoch := 2000.0
		if v := k.float("EPOCH"); v != nil {
			epoch = *v
		}
		years = float64(t.Year()) + t.Sub(start).Seconds()/end.Sub(start).Seconds() - epoch
	}
	dec := *tdec + (num("DECOFFSE")+num("DECTRGOF"))/3600 + num("PMDEC")*years/3600
	ra := *tra + (num("RAOFFSET")+num("RATRGOFF"))/3600/math.Cos(dec*math.Pi/180) + num("PMRA")*years*15/3600
	apart := func(a, b float64) float64 {
		d := math.Abs(a - b)
		if d > 180 {
			d = math.Abs(d - 360)
		}
		return d * 3600
	}
	if wdec != nil && apart(*wdec, dec) > 1000 {
		r.Dec = inRange(&dec, -90, 90)
	}
	if wra != nil && r.Dec != nil && apart(*wra, ra)/math.Cos(*r.Dec*math.Pi/180) > 1000 {
		r.RA = inRange(&ra, 0, 360)
	}
}
