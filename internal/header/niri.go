package header

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fitsarchive/agentd/internal/fits"
)

// NIRI is a NIRI frame's row of FitsStorage's niri table (its cal/orm/niri.py through
// DRAGONS' NIRI descriptors; docs/fitsstorage-header-rules.md §2.2).
type NIRI struct {
	Disperser, FilterName, ReadMode, WellDepth, DataSection, Camera, FocalPlaneMask *string
}

// niriFilterNames are DRAGONS' pretty names of NIRI's filters and filter pairs (sorted, '+'
// joined here), without component ids.
var niriFilterNames = map[string]string{
	"PK50+Y": "Y", "J": "J", "H": "H", "Kprime": "K(prime)", "K": "K", "Lprime": "L(prime)", "Mprime": "M(prime)",
	"Jcon(121)+PK50": "Jcon(121)", "Hcon(157)+PK50": "H-con(157)", "CH4short+PK50": "CH4(short)",
	"CH4long+PK50": "CH4(long)", "FeII+PK50": "FeII", "HeI(2p2s)+Kprime": "HeI(2p2s)", "H2Oice204": "H2Oice(2045)",
	"kcon(209)": "Kcon(209)", "kcon(227)": "Kcon(227)", "H2v=1-0S1+K": "H2 1-0 S1", "Brgamma": "Br(gamma)",
	"CH4ice227": "CH4ice(2275)", "Jsort": "J order sort", "Hsort+PK50": "H order sort", "Ksort": "K order sort",
	"Lsort": "L order sort", "Msort": "M order sort", "Jcon1065+PK50": "Jcon(1065)", "Jcon(112)+PK50": "Jcon(112)",
	"Kshort": "K(short)", "H2v=2-1S1": "H2 2-1 S1", "PK50+Pabeta": "Pa(beta)", "PaGamma": "Pa(gamma)", "HeI": "HeI",
	"Bra": "Br(alpha)", "H2Oice": "H2O ice", "hydrocarb": "hydrocarb", "Bracont": "Br(alpha)Con", "COv=2-0bh": "CO 2-0 (bh)",
}

// niriCentralWavelengths are the grisms' central wavelengths in nm by camera, focal plane
// mask and grism (its first six characters).
var niriCentralWavelengths = func() map[string]float64 {
	m := map[string]float64{}
	for _, mask := range []string{"f6-2pix", "f6-4pix", "f6-6pix"} {
		for g, w := range map[string]float64{"Jgrism": 1233, "Hgrism": 1695, "Kgrism": 2263, "Lgrism": 3574, "Mgrism": 5140} {
			m["f6|"+mask+"|"+g] = w
		}
		for g, w := range map[string]float64{"Jgrism": 1184, "Hgrism": 1625, "Kgrism": 2167, "Lgrism": 3435, "Mgrism": 4940} {
			m["f6|"+mask+"Bl|"+g] = w
		}
	}
	for _, mask := range []string{"f32-6pix", "f32-9pix", "f6-2pix"} {
		for g, w := range map[string]float64{"Jgrism": 1203, "Hgrism": 1641.2, "Kgrism": 2184} {
			m["f32|"+mask+"|"+g] = w
		}
	}
	return m
}()

// niriFilters lists FILTER1-3 for the filter name: open positions, grisms and pupil masks
// left out, sorted; strip removes the component ids.
func (k keywords) niriFilters(strip bool) []string {
	var out []string
	for _, key := range []string{"FILTER1", "FILTER2", "FILTER3"} {
		f := k.phuStr(key)
		if f == nil {
			continue
		}
		v := *f
		if strip {
			v = removeComponentID(v)
		}
		l := strings.ToLower(v)
		if strings.Contains(l, "open") || strings.Contains(l, "grism") || strings.Contains(l, "pupil") {
			continue
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// niriRules applies NIRI's descriptors to r and returns its niri row.
func (k keywords) niriRules(r *Row, exts []fits.Header) *NIRI {
	phu := k.phu()
	obstype := k.phuString("OBSTYPE")
	filter3 := phu.str("FILTER3")
	grism := filter3 != nil && strings.Contains(*filter3, "grism")
	spect := grism && obstype != "DARK"
	r.Spectroscopy = spect
	mode := "imaging"
	if spect {
		mode = "LS"
	}
	r.Mode = &mode

	// Filter name: the pretty names of the filters in the beam.
	names := k.niriFilters(true)
	var pretty string
	switch {
	case slices.Contains(names, "blank"):
		pretty = "blank"
	case len(names) == 0:
		pretty = "open"
	default:
		pretty = strings.Join(names, "&")
		if v, ok := niriFilterNames[strings.Join(names, "+")]; ok {
			pretty = v
		}
	}
	pretty = strings.ReplaceAll(strings.ReplaceAll(pretty, "%", ""), " ", "_")
	r.FilterName = &pretty

	var rawDisperser *string
	if filter3 != nil {
		d := "MIRROR"
		raw := "MIRROR"
		if grism {
			d, raw = removeComponentID(*filter3), *filter3
		}
		r.Disperser, rawDisperser = &d, &raw
		p := "MIRROR"
		if strings.HasPrefix(*filter3, "pup") {
			p = removeComponentID(*filter3)
		}
		r.PupilMask = &p
	} else {
		r.Disperser = nil
	}
	camera := phu.str("CAMERA")
	r.Camera = withoutComponentID(camera)
	fpmask := phu.str("FPMASK")
	r.FocalPlaneMask = withoutComponentID(fpmask)
	r.CentralWavelength = nil
	if spect && camera != nil && fpmask != nil {
		g := removeComponentID(*filter3)
		if len(g) > 6 {
			g = g[:6]
		}
		if w, ok := niriCentralWavelengths[*camera+"|"+removeComponentID(*fpmask)+"|"+g]; ok {
			r.CentralWavelength = float32Micrometres(w / 1000)
		}
	}

	// The data section: the first extension's shape (or the primary's, for a simple file).
	var section *string
	shape := exts
	if len(shape) == 0 {
		shape = phu
	}
	if nx, ok := shape[0].Int("NAXIS1"); ok {
		if ny, ok := shape[0].Int("NAXIS2"); ok {
			roi := "Custom"
			if nx == ny && nx%256 == 0 {
				roi = fmt.Sprintf("Central%d", nx)
				if nx == 1024 {
					roi = "Full Frame"
				}
			}
			r.DetectorROISetting = &roi
			s := fmt.Sprintf("Section(x1=0, x2=%d, y1=0, y2=%d)", nx, ny)
			section = &s
		}
	}
	readMode := k.niriReadMode()
	rm := strings.ReplaceAll(readMode, " ", "_")
	r.DetectorReadModeSetting = &rm
	well := k.niriWellDepth()
	r.DetectorWellDepthSetting = well
	r.DetectorGainSetting = phu.str("GAINSET")
	r.DetectorReadSpeedSetting = phu.str("RDSPDSET")

	n := &NIRI{FocalPlaneMask: fpmask, WellDepth: well}
	if rawDisperser != nil && slices.Contains(Enums["niri_disperser"], *rawDisperser) {
		n.Disperser = rawDisperser
	}
	raw := k.niriFilters(false)
	var f string
	switch {
	case slices.ContainsFunc(raw, func(s string) bool { return removeComponentID(s) == "blank" }):
		f = "blank"
	case len(raw) == 0:
		f = "open"
	default:
		f = strings.Join(raw, "&")
	}
	n.FilterName = &f
	if readMode != "Unknown" {
		n.ReadMode = &readMode
	}
	none := "None"
	n.DataSection = &none
	if section != nil && slices.Contains(Enums["niri_data_section"], *section) {
		n.DataSection = section
	}
	if camera != nil && slices.Contains(Enums["niri_camera"], *camera) {
		n.Camera = camera
	}
	return n
}

// niriReadMode names the read mode from LNRS and NDAVGS.
func (k keywords) niriReadMode() string {
	lnrs, ndavgs := k.phu().float("LNRS"), k.phu().float("NDAVGS")
	if lnrs == nil || ndavgs == nil {
		return "Unknown"
	}
	switch [2]float64{*lnrs, *ndavgs} {
	case [2]float64{16, 16}:
		return "Low Background"
	case [2]float64{1, 16}:
		return "Medium Background"
	case [2]float64{1, 1}:
		return "High Background"
	}
	return "Unknown"
}

// niriWellDepth is Shallow or Deep from the detector bias (A_VDDUC − A_VDET), nil otherwise.
func (k keywords) niriWellDepth() *string {
	vdduc, vdet := k.phu().float("A_VDDUC"), k.phu().float("A_VDET")
	if vdduc == nil || vdet == nil {
		return nil
	}
	bias := *vdduc - *vdet
	var s string
	switch {
	case math.Abs(bias+0.6) < 0.05:
		s = "Shallow"
	case math.Abs(bias+0.87) < 0.05:
		s = "Deep"
	default:
		return nil
	}
	return &s
}
