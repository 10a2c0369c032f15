package header

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/fitsarchive/agentd/internal/fits"
)

// GMOS is a GMOS-N or GMOS-S frame's row of FitsStorage's gmos table (its cal/orm/gmos.py,
// through DRAGONS' GMOS descriptors): the raw component names, binning, amplifiers, gain and
// read speed, mask, nod-and-shuffle and processing state (docs/fitsstorage-header-rules.md §2.1).
type GMOS struct {
	Disperser, FilterName               *string // raw, with component ids
	XBin, YBin                          *int
	ArrayName, AmpReadArea              *string
	GainSetting, ReadSpeed              *string // low/high, slow/fast
	FocalPlaneMask                      *string
	NodAndShuffle                       bool
	NodCount, NodPixels                 *int
	Prepared                            bool
	OverscanSubtracted, OverscanTrimmed bool
}

// isGMOS reports whether the instrument is GMOS-N or GMOS-S.
func isGMOS(inst *string) bool {
	return inst != nil && (*inst == "GMOS-N" || *inst == "GMOS-S")
}

// gmosRules applies GMOS's own descriptors to r (a GMOS frame) and returns its gmos row.
// exts are the image extensions' headers, in file order.
func (k keywords) gmosRules(r *Row, exts []fits.Header) *GMOS {
	phu := k.phu()
	obstype := k.phuString("OBSTYPE")
	grating := phu.str("GRATING")
	maskname := phu.str("MASKNAME")
	masktyp, hasMasktyp := int64(0), false
	for _, h := range phu {
		masktyp, hasMasktyp = h.Int("MASKTYP")
	}
	blocked := obstype == "DARK" || obstype == "BIAS" || obstype == "MASK"
	spect := !blocked && (grating == nil || *grating != "MIRROR")
	nodAndShuffle := false
	var nodPixels *int
	for _, h := range phu {
		if _, ok := h.Get("NODPIX"); ok {
			nodAndShuffle = true
			if n, ok := h.Int("NODPIX"); ok {
				nodPixels = ptrInt(int(n))
			}
		}
	}

	// Spectroscopy, mode: a grating other than the mirror is spectroscopy; the mask says
	// which kind (long slit wins over MOS, MOS over IFU, as FitsStorage orders them).
	r.Spectroscopy = spect
	mode := "imaging"
	if spect {
		mode = "spectroscopy"
		name := ""
		if maskname != nil {
			name = *maskname
		}
		switch {
		case hasMasktyp && masktyp == 1 && strings.HasSuffix(name, "arcsec") && obstype != "BPM":
			mode = "LS"
		case hasMasktyp && masktyp == 1 && !strings.HasPrefix(name, "IFU") && !strings.HasPrefix(name, "focus"):
			mode = "MOS"
		case hasMasktyp && masktyp == -1 && isGMOSIFU(name):
			mode = "IFS"
		}
	}
	r.Mode = &mode

	// Disperser: without its component id and its '+' ends; the mask: "None" is imaging.
	if grating != nil {
		d := strings.Trim(removeComponentID(*grating), "+")
		d = strings.ReplaceAll(d, "/", "_")
		r.Disperser = &d
	} else {
		r.Disperser = nil
	}
	var fpm *string
	if maskname != nil {
		m := *maskname
		if m == "None" {
			m = "Imaging"
		}
		fpm = &m
	}
	r.FocalPlaneMask = fpm
	r.Camera = r.Instrument

	// Central wavelength: CENTWAVE, else GRWLEN, in nm, for spectroscopy.
	r.CentralWavelength = nil
	if spect {
		if w := phu.float("CENTWAVE", "GRWLEN"); w != nil && *w > 0 {
			r.CentralWavelength = float32Micrometres(*w / 1000)
		}
	}

	// Binning from every extension's CCDSUM, which must agree.
	xbin, ybin := gmosBinning(exts)
	r.DetectorBinning = nil
	if xbin != nil && ybin != nil {
		b := fmt.Sprintf("%dx%d", *xbin, *ybin)
		r.DetectorBinning = &b
	}
	r.DetectorROISetting = k.gmosROI(xbin, ybin)
	gain := gmosGain(exts, k.prepared())
	r.DetectorGainSetting = gain
	speed := k.gmosReadSpeed()
	r.DetectorReadSpeedSetting = speed
	readMode := "Classic"
	if nodAndShuffle {
		readMode = "NodAndShuffle"
	}
	r.DetectorReadModeSetting = &readMode
	r.DetectorWellDepthSetting = phu.str("WELDEPTH")
	r.Coadds = ptrInt(1)

	g := &GMOS{
		Disperser:      grating,
		XBin:           xbin,
		YBin:           ybin,
		FocalPlaneMask: fpm,
		NodAndShuffle:  nodAndShuffle,
		Prepared:       k.prepared(),
	}
	if f1, f2 := phu.str("FILTER1"), phu.str("FILTER2"); f1 != nil && f2 != nil {
		f := *f1 + "&" + *f2
		g.FilterName = &f
	}
	// FitsStorage computes these in one go: the first that fails leaves the rest NULL.
	if xbin != nil && ybin != nil {
		if g.ArrayName, g.AmpReadArea = gmosAmps(exts); g.AmpReadArea != nil {
			if gain != nil && (*gain == "low" || *gain == "high") {
				g.GainSetting = gain
			}
		}
	}
	if speed != nil && (*speed == "slow" || *speed == "fast") {
		g.ReadSpeed = speed
	}
	if nodAndShuffle {
		g.NodPixels = nodPixels
		if n := phu.float("ANODCNT"); n != nil && phu.float("BNODCNT") != nil {
			g.NodCount = ptrInt(int(*n))
		}
	}
	for _, h := range phu {
		for _, c := range h.Cards {
			if strings.Contains(c.Keyword, "TRIMOVER") {
				g.OverscanTrimmed = true
			}
			if strings.Contains(c.Keyword, "SUBOVER") {
				g.OverscanSubtracted = true
			}
		}
	}
	return g
}

var gmosIFUSlitRE = regexp.MustCompile(`^g[ns]ifu_slit[rbs]_mdf$`)

func isGMOSIFU(name string) bool {
	switch name {
	case "IFU-B", "IFU-B-NS", "IFU-R", "IFU-R-NS", "IFU-2", "IFU-NS-2":
		return true
	}
	return gmosIFUSlitRE.MatchString(name)
}

func ptrInt(n int) *int { return &n }

// float32Micrometres rounds as FitsStorage does: to a float32, then its shortest decimal.
func float32Micrometres(um float64) *float64 {
	s := strconv.FormatFloat(float64(float32(um)), 'g', -1, 32)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v >= 100 {
		return nil
	}
	return &v
}

// gmosBinning reads each extension's CCDSUM "X Y"; the extensions must agree (DRAGONS takes
// the value when the list reads the same backwards).
func gmosBinning(exts []fits.Header) (x, y *int) {
	var xs, ys []int
	for _, h := range exts {
		s, ok := h.String("CCDSUM")
		f := strings.Fields(s)
		if !ok || len(f) != 2 {
			return nil, nil
		}
		a, err1 := strconv.Atoi(f[0])
		b, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, nil
		}
		xs, ys = append(xs, a), append(ys, b)
	}
	if len(xs) == 0 {
		return nil, nil
	}
	for i := range xs {
		j := len(xs) - 1 - i
		if xs[i] != xs[j] || ys[i] != ys[j] {
			return nil, nil
		}
	}
	return &xs[0], &ys[0]
}

// gmosROIs are the named regions of interest, unbinned (y1, y2, x1, x2); the last match wins.
var gmosROIs = []struct {
	name string
	box  [4]int
}{
	{"Full Frame", [4]int{0, 4608, 0, 6144}}, {"Full Frame", [4]int{0, 4224, 0, 6144}},
	{"CCD2", [4]int{0, 4608, 2048, 4096}}, {"CCD2", [4]int{0, 4224, 2048, 4096}},
	{"Central Spectrum", [4]int{1792, 2816, 0, 6144}}, {"Central Spectrum", [4]int{1791, 2815, 0, 6144}},
	{"Central Spectrum", [4]int{1624, 2648, 0, 6144}},
	{"Central Stamp", [4]int{2154, 2454, 2922, 3222}}, {"Central Stamp", [4]int{1986, 2286, 2922, 3222}},
	{"Central Stamp", [4]int{1986, 2294, 2922, 3222}},
}

// gmosROI names the first region of interest (DETRO1X, DETRO1XS, DETRO1Y, DETRO1YS, sizes
// in binned pixels): Undefined when a keyword is missing or zero, Custom when it is none of
// the named ones, nil without a binning.
func (k keywords) gmosROI(xbin, ybin *int) *string {
	if xbin == nil || ybin == nil {
		return nil
	}
	var v [4]int
	for i, key := range []string{"DETRO1X", "DETRO1XS", "DETRO1Y", "DETRO1YS"} {
		n := int64(0)
		for _, h := range k.phu() {
			n, _ = h.Int(key)
		}
		if n == 0 {
			s := "Undefined"
			return &s
		}
		v[i] = int(n)
	}
	x, xs, y, ys := v[0], v[1]**xbin, v[2], v[3]**ybin
	box := [4]int{y - 1, y + ys - 1, x - 1, x + xs - 1}
	name := "Custom"
	for _, r := range gmosROIs {
		if r.box == box {
			name = r.name
		}
	}
	return &name
}

// gmosGain is low (GAIN below 3) or high for raw data: the value of all extensions but at
// most one; nil when they disagree more, when GAIN is missing, or for prepared data (whose
// GAINSET rule is not written yet).
func gmosGain(exts []fits.Header, prepared bool) *string {
	if prepared || len(exts) == 0 {
		return nil
	}
	count := map[string]int{}
	var order []string
	for _, h := range exts {
		g, ok := h.Float("GAIN")
		if !ok {
			continue
		}
		s := "high"
		if g < 3 {
			s = "low"
		}
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	for _, s := range order {
		if count[s] >= len(exts)-1 {
			return &s
		}
	}
	return nil
}

// gmosReadSpeed is slow or fast from AMPINTEG, the threshold by detector (DETTYPE).
func (k keywords) gmosReadSpeed() *string {
	integ := k.phu().float("AMPINTEG")
	if integ == nil {
		return nil
	}
	var limit float64
	switch k.phuString("DETTYPE") {
	case "S10892", "S10892-N": // Hamamatsu
		limit = 8000
	case "SDSU II CCD", "SDSU II e2v DD CCD42-90": // EEV, e2vDD
		limit = 2000
	default:
		return nil
	}
	s := "fast"
	if *integ > limit {
		s = "slow"
	}
	return &s
}

var detsecRE = regexp.MustCompile(`^\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]$`)

// gmosAmps are the amplifiers' names joined with '+', and each with its detector section
// ('NAME':[x1:x2,y1:y2]); nil when an extension lacks AMPNAME or DETSEC.
func gmosAmps(exts []fits.Header) (names, areas *string) {
	var ns, as []string
	for _, h := range exts {
		name, ok1 := h.String("AMPNAME")
		sec, ok2 := h.String("DETSEC")
		if !ok1 {
			return nil, nil
		}
		ns = append(ns, name)
		m := detsecRE.FindStringSubmatch(strings.TrimSpace(sec))
		if !ok2 || m == nil {
			n := strings.Join(ns, "+")
			return &n, nil
		}
		as = append(as, fmt.Sprintf("'%s':[%s:%s,%s:%s]", name, m[1], m[2], m[3], m[4]))
	}
	if len(ns) == 0 {
		return nil, nil
	}
	n, a := strings.Join(ns, "+"), strings.Join(as, "+")
	return &n, &a
}
