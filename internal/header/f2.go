package header

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/fitsarchive/agentd/internal/fits"
)

// F2 is a FLAMINGOS-2 frame's row of FitsStorage's f2 table (its cal/orm/f2.py through
// DRAGONS' F2 descriptors; docs/fitsstorage-header-rules.md §2.4).
type F2 struct {
	Disperser, FilterName, LyotStop, ReadMode, FocalPlaneMask *string
}

var (
	f2SpectGrismRE = regexp.MustCompile(`^(JH|HK|R3K)`)
	f2SlitRE       = regexp.MustCompile(`^.?pix-slit`)
	f2MOSRE        = regexp.MustCompile(`^mos`)
	f2DarkRE       = regexp.MustCompile(`^DK`)
	f2FocusRE      = regexp.MustCompile(`^f/\d+$`)
)

// f2Wavelengths are the central wavelengths (nm) of the filters whose passband, not the
// grism setting, gives it.
var f2Wavelengths = map[string]float64{"K-long_G0812": 2200, "JH_G0816": 1338.5, "HK_G0817": 1900}

// f2Rules applies F2's descriptors to r and returns its f2 row.
func (k keywords) f2Rules(r *Row, exts []fits.Header) *F2 {
	phu := k.phu()
	first := func(keys ...string) *string {
		for _, key := range keys {
			if s := phu.str(key); s != nil {
				return s
			}
		}
		return nil
	}
	grism := first("GRISM", "GRISMPOS")
	decker := first("DECKER", "DCKERPOS")
	mospos := phu.str("MOSPOS")
	f1, f2 := first("FILTER1", "FILT1POS"), first("FILTER2", "FILT2POS")
	lyot := first("LYOT", "LYOTPOS")
	if lyot != nil && *lyot == "Undefined" {
		lyot = nil
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	dark := k.phuString("OBSTYPE") == "DARK" || f2DarkRE.MatchString(str(f1)) || f2DarkRE.MatchString(str(f2))
	spect := !dark && f2SpectGrismRE.MatchString(str(grism))
	ifu := strings.HasPrefix(k.phuString("DISPERSR"), "DISP_PRISM")
	if ifu && !dark {
		spect = true
	}
	mode := "imaging"
	if spect {
		mode = "spectroscopy"
		switch {
		case str(decker) == "Long_slit" || f2SlitRE.MatchString(str(mospos)):
			mode = "LS"
		case str(decker) == "mos" || f2MOSRE.MatchString(str(mospos)):
			mode = "MOS"
		case ifu:
			mode = "IFS"
		}
	}
	r.Spectroscopy = spect
	r.Mode = &mode

	// Filter name: FILTER1, FILTER2 and a filter in the Lyot wheel, open positions left out.
	var filterRaw *string
	r.FilterName = nil
	if f1 != nil && f2 != nil {
		names := []string{*f1, *f2}
		if lyot != nil && !strings.HasPrefix(*lyot, "f") && !strings.HasPrefix(*lyot, "GEMS") && !strings.HasPrefix(*lyot, "Hart") {
			names = append(names, *lyot)
		}
		raw := strings.Join(names, "&")
		filterRaw = &raw
		pretty := make([]string, len(names))
		for i, n := range names {
			pretty[i] = removeComponentID(n)
		}
		isOpen := func(s string) bool { return strings.Contains(s, "open") || strings.Contains(s, "Open") }
		p1, p2 := pretty[0], pretty[1]
		if isOpen(p2) {
			pretty = append(pretty[:1], pretty[2:]...)
		}
		if isOpen(p1) {
			pretty = pretty[1:]
		}
		switch {
		case strings.Contains(p1, "DK") || strings.Contains(p2, "DK"):
			pretty = []string{"dark"}
		case strings.Contains(p1, "Block") || strings.Contains(p2, "Block") || strings.Contains(p1, "Dark") || strings.Contains(p2, "Dark"):
			pretty = []string{"blank"}
		}
		if len(pretty) == 0 {
			pretty = []string{"open"}
		}
		v := strings.ReplaceAll(strings.ReplaceAll(strings.Join(pretty, "&"), "%", ""), " ", "_")
		r.FilterName = &v
	}
	r.Disperser = nil
	if grism != nil {
		d := strings.ReplaceAll(removeComponentID(*grism), "/", "_")
		r.Disperser = &d
	}
	// Camera: the Lyot stop when it is one (f/16, f/32), else FOCUS, else the pixel scale.
	r.Camera = nil
	switch {
	case lyot != nil && strings.HasPrefix(*lyot, "f/"):
		r.Camera = withoutComponentID(lyot)
	case f2FocusRE.MatchString(k.phuString("FOCUS")):
		r.Camera = phu.str("FOCUS")
	default:
		// Prepared data keep the original scale in PIXSCALE; raw data have it in their WCS.
		scale := phu.float("PIXSCALE")
		if !k.prepared() {
			scale = wcsPixelScale(exts, scale)
		}
		if scale != nil {
			c := "f/32"
			if *scale > 0.1 {
				c = "f/16"
			}
			r.Camera = &c
		}
	}
	var fpm *string
	if mospos != nil && *mospos == "Open" {
		fpm = mospos
	} else {
		fpm = phu.str("MASKNAME")
	}
	r.FocalPlaneMask = fpm

	// Central wavelength: WAVELENG in Å, unless the filter fixes it; R3K by band.
	r.CentralWavelength = nil
	if spect {
		if w := phu.float("WAVELENG"); w != nil {
			nm := *w * 0.1
			keepID := ""
			if filterRaw != nil {
				for _, n := range strings.Split(*filterRaw, "&") {
					if !strings.Contains(n, "open") && !strings.Contains(n, "Open") {
						keepID = n
						break
					}
				}
			}
			if v, ok := f2Wavelengths[keepID]; ok {
				nm = v
			}
			if nm < 0 && r.Disperser != nil && *r.Disperser == "R3K" && r.FilterName != nil && *r.FilterName != "" {
				band := map[byte]float64{'J': 1250, 'H': 1650, 'K': 2200}
				if v, ok := band[(*r.FilterName)[0]]; ok {
					nm = v
				}
			}
			if nm > 0 {
				r.CentralWavelength = float32Micrometres(nm / 1000)
			}
		}
	}
	fixed := "Fixed"
	r.DetectorROISetting = &fixed
	var readMode *string // LNRS as written: "1", "8"
	for _, h := range phu {
		if n, ok := h.Int("LNRS"); ok {
			s := strconv.FormatInt(n, 10)
			readMode = &s
		}
	}
	r.DetectorReadModeSetting = readMode
	r.DetectorGainSetting = phu.str("GAINSET")
	r.DetectorReadSpeedSetting = phu.str("RDSPDSET")
	r.DetectorWellDepthSetting = phu.str("WELDEPTH")
	r.PupilMask = phu.str("PUPILMSK")
	return &F2{Disperser: grism, FilterName: filterRaw, LyotStop: lyot, ReadMode: readMode, FocalPlaneMask: fpm}
}

// wcsPixelScale is DRAGONS' pixel_scale (arcsec per pixel): the mean over the extensions of
// 3600·√|det CD|, the CD matrix being the CDi_j keywords or, without them, PCi_j·CDELTi; or
// fallback (PIXSCALE) when no extension has a usable one.
func wcsPixelScale(exts []fits.Header, fallback *float64) *float64 {
	var sum float64
	n := 0
	for _, h := range exts {
		det := math.Abs(cdDeterminant(h))
		if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
			continue
		}
		sum += 3600 * math.Sqrt(det)
		n++
	}
	if n == 0 {
		return fallback
	}
	scale := sum / float64(n)
	return &scale
}

// cdDeterminant is the determinant of an image header's CD matrix (0 when it has none).
func cdDeterminant(h fits.Header) float64 {
	get := func(key string, def float64) (float64, bool) {
		if v, ok := h.Float(key); ok {
			return v, true
		}
		return def, false
	}
	cd11, a := get("CD1_1", 0)
	cd12, b := get("CD1_2", 0)
	cd21, c := get("CD2_1", 0)
	cd22, d := get("CD2_2", 0)
	if a || b || c || d {
		return cd11*cd22 - cd12*cd21
	}
	cdelt1, ok1 := get("CDELT1", 0)
	cdelt2, ok2 := get("CDELT2", 0)
	if !ok1 || !ok2 {
		return 0
	}
	pc11, _ := get("PC1_1", 1)
	pc12, _ := get("PC1_2", 0)
	pc21, _ := get("PC2_1", 0)
	pc22, _ := get("PC2_2", 1)
	return cdelt1 * cdelt2 * (pc11*pc22 - pc12*pc21)
}
