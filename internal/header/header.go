// Package header computes the archive's header row (the columns of the header table) from
// the parsed HDUs of a FITS file, following Gemini's keyword conventions. FromHDUs is a pure
// function: it never fails, a value it cannot find or understand is nil.
//
// # Caveats
//
// Every keyword is looked up in the primary header first, then in the first extension
// header; a keyword whose value is missing, empty (after trimming trailing blanks) or of an
// unusable type counts as absent, so the extension's value is used instead. Columns with
// alternative keywords (GRATING or DISPERSR, for instance) try each keyword in that order,
// each in both headers, before the next keyword.
//
// UTDateTime comes from DATE-OBS; when DATE-OBS holds only a date, the time of day comes from
// TIME-OBS, else UT, else it is midnight. A time keyword that is present but unparseable
// makes UTDateTime nil rather than midnight. String columns accept only string values: a
// numeric OBJECT, say, is nil.
package header

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fitsarchive/agentd/internal/fits"
)

// Row holds the values of one row of the header table; nil stands for NULL.
type Row struct {
	// ProgramID, ObservationID and DataLabel are upper-cased as FitsStorage stores them; a
	// missing DATALAB is "" (FitsStorage's value), not nil.
	ProgramID, ObservationID, DataLabel, Telescope, Instrument *string
	// Engineering, ScienceVerification and CalibrationProgram come from the program id
	// (ParseProgram): an id of no known form is engineering; without an id the data are
	// engineering unless they are site monitoring, and CalibrationProgram is nil. ENG_DATA,
	// when present, overrides Engineering.
	Engineering, ScienceVerification, CalibrationProgram *bool
	// SiteMonitoring marks the all-sky camera's frames (INSTRUME GS_ALLSKYCAMERA).
	SiteMonitoring bool
	// UTDateTime is the start of the observation, in UTC.
	UTDateTime                                *time.Time
	ObservationType, ObservationClass, Object *string
	// RA and Dec are in degrees.
	RA, Dec, ExposureTime *float64
	FilterName, Disperser *string
	// CentralWavelength is in micrometres, for spectroscopy only (FitsStorage's meaning).
	CentralWavelength *float64
	FocalPlaneMask    *string
	// DetectorBinning is "XxY", e.g. "2x2".
	DetectorBinning *string
	// QAState is FitsStorage's derived state (Pass, Usable, Fail, CHECK, Undefined) from
	// RAWGEMQA and RAWPIREQ, never the raw keyword.
	QAState *string
	// Release is the date (midnight UTC) when the data become public.
	Release *time.Time
	// Spectroscopy is true when a disperser other than a mirror, "open" or "none" is in the
	// beam.
	Spectroscopy bool
	// NumExtensions is the number of HDUs after the primary one.
	NumExtensions int
	// Derived are the other columns FitsStorage derives alike for every instrument.
	Derived
	// Mode (imaging, spectroscopy, LS, MOS, IFS), Camera and the detector settings come from
	// the instrument's own rules; nil for instruments whose rules are not written yet.
	Mode, Camera, PupilMask                           *string
	DetectorROISetting, DetectorGainSetting           *string
	DetectorReadSpeedSetting, DetectorReadModeSetting *string
	DetectorWellDepthSetting                          *string
	// GMOS is the frame's row of the gmos table, for GMOS-N and GMOS-S.
	GMOS *GMOS
	// NIRI is the frame's row of the niri table.
	NIRI *NIRI
	// GNIRS is the frame's row of the gnirs table.
	GNIRS *GNIRS
	// F2 is the frame's row of the f2 table.
	F2 *F2
	// WavelengthBand is the band nearest the frame's wavelength (u, g, r, … J, H, K, …).
	WavelengthBand *string
	// Reduction is the reduction state (RAW for raw data).
	Reduction string
}

// FromHDUs computes the header row of a file from its HDUs, primary first.
func FromHDUs(hdus []fits.HDU) Row {
	k := keywords{}
	if len(hdus) > 0 {
		k = append(k, hdus[0].Header)
	}
	if len(hdus) > 1 {
		k = append(k, hdus[1].Header)
	}
	r := Row{
		ProgramID:         k.str("GEMPRGID"),
		ObservationID:     k.str("OBSID"),
		DataLabel:         k.str("DATALAB"),
		Telescope:         telescope(k.str("TELESCOP")),
		Instrument:        instrument(k.str("INSTRUME")),
		UTDateTime:        k.utDateTime(),
		ObservationType:   k.str("OBSTYPE"),
		ObservationClass:  k.str("OBSCLASS"),
		Object:            k.str("OBJECT"),
		RA:                k.position("RA", "CTYPE1", "CRVAL1", "RA--", 15, 0, 360),
		Dec:               k.position("DEC", "CTYPE2", "CRVAL2", "DEC-", 1, -90, 90),
		ExposureTime:      k.exposureTime(),
		FilterName:        k.filterName(),
		Disperser:         prettyDisperser(k.str("GRATING", "DISPERSR")),
		CentralWavelength: k.float("CENTWAVE", "GRWLEN"), // as written; micrometres below
		FocalPlaneMask:    withoutComponentID(k.str("MASKNAME", "FPMASK")),
		DetectorBinning:   k.binning(),
		QAState:           k.qaState(),
		Release:           k.release(),
		NumExtensions:     max(len(hdus)-1, 0),
	}
	r.ProgramID, r.ObservationID = upper(r.ProgramID), upper(r.ObservationID)
	if r.DataLabel = upper(r.DataLabel); r.DataLabel == nil {
		r.DataLabel = new(string)
	}
	r.SiteMonitoring = r.Instrument != nil && *r.Instrument == "GS_ALLSKYCAMERA"
	r.Engineering, r.ScienceVerification, r.CalibrationProgram = k.programFlags(r.ProgramID, r.SiteMonitoring)
	r.Spectroscopy = r.Disperser != nil && isDisperser(*r.Disperser)
	r.CentralWavelength = micrometres(r.CentralWavelength, r.Spectroscopy)
	if r.ObservationType != nil && *r.ObservationType == "MASK" {
		pass := "Pass" // a mask design has no QA: FitsStorage passes it
		r.QAState = &pass
	}
	r.Derived = k.derived(r.UTDateTime)
	exts := make([]fits.Header, 0, len(hdus))
	for _, h := range hdus[min(len(hdus), 1):] {
		exts = append(exts, h.Header)
	}
	switch {
	case isGMOS(r.Instrument):
		r.GMOS = k.gmosRules(&r, exts)
	case r.Instrument != nil && *r.Instrument == "NIRI":
		r.NIRI = k.niriRules(&r, exts)
	case r.Instrument != nil && *r.Instrument == "GNIRS":
		r.GNIRS = k.gnirsRules(&r, exts)
	case r.Instrument != nil && (*r.Instrument == "F2" || *r.Instrument == "FLAM"):
		r.F2 = k.f2Rules(&r, exts)
	}
	r.WavelengthBand = wavelengthBand(r)
	r.Reduction = k.reduction()
	return r
}

// telescope is FitsStorage's name of a Gemini telescope (TELESCOP in any case, with or
// without '-' and '_'), nil for any other.
func telescope(s *string) *string {
	if s == nil {
		return nil
	}
	key := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(*s)))
	var v string
	switch key {
	case "gemininorth":
		v = "Gemini-North"
	case "geminisouth":
		v = "Gemini-South"
	default:
		return nil
	}
	return &v
}

// TelescopeFromFilename is the telescope a Gemini file name implies (N20… or S20…), for a
// file whose header names none.
func TelescopeFromFilename(name string) *string {
	var v string
	switch {
	case strings.HasPrefix(name, "N20"):
		v = "Gemini-North"
	case strings.HasPrefix(name, "S20"):
		v = "Gemini-South"
	default:
		return nil
	}
	return &v
}

// instruments are the canonical spellings of instrument names, by their lower case.
var instruments = map[string]string{
	"niri": "NIRI", "nifs": "NIFS", "gmos-n": "GMOS-N", "gmos-s": "GMOS-S", "michelle": "michelle",
	"gnirs": "GNIRS", "ghost": "GHOST", "phoenix": "PHOENIX", "texes": "TEXES", "trecs": "TReCS",
	"nici": "NICI", "igrins-2": "IGRINS-2", "igrins": "IGRINS", "gsaoi": "GSAOI", "oscir": "OSCIR",
	"f2": "F2", "gpi": "GPI", "abu": "ABU", "bhros": "bHROS", "hrwfs": "hrwfs", "flamingos": "FLAMINGOS",
	"cirpass": "CIRPASS", "graces": "GRACES", "alopeke": "ALOPEKE", "zorro": "ZORRO", "maroon-x": "MAROON-X",
}

var hokupaaRE = regexp.MustCompile(`^[Hh][Oo][Kk][Uu][Pp]([Aa])+(\+)*[Qq][Uu][Ii][Rr][Cc]$`)

// instrument is INSTRUME in FitsStorage's spelling; a name it does not know is kept as it is.
func instrument(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	if c, ok := instruments[strings.ToLower(v)]; ok {
		v = c
	} else if hokupaaRE.MatchString(v) {
		v = "Hokupaa+QUIRC"
	}
	return &v
}

// removeComponentID cuts a Gemini component name at its component id ("OG515_G0306" is
// "OG515"): everything before the first "_G".
func removeComponentID(s string) string {
	if i := strings.Index(s, "_G"); i >= 0 {
		return s[:i]
	}
	return s
}

// prettyDisperser is the disperser without its component id, '/' written '_'.
func prettyDisperser(s *string) *string {
	if s == nil {
		return nil
	}
	v := strings.ReplaceAll(removeComponentID(*s), "/", "_")
	return &v
}

// coaddsSummed are the instruments whose EXPTIME is per coadd: the exposure is EXPTIME ×
// COADDS until the data are prepared.
var coaddsSummed = map[string]bool{"NIRI": true, "GNIRS": true, "F2": true, "FLAM": true}

// exposureTime is EXPTIME (× COADDS where it is per coadd, for raw data), kept only in
// [0, 10000) s as FitsStorage keeps it.
func (k keywords) exposureTime() *float64 {
	t := k.float("EXPTIME")
	if t == nil || *t < 0 {
		return nil
	}
	v := *t
	if inst := instrument(k.str("INSTRUME")); inst != nil && coaddsSummed[*inst] && !k.prepared() {
		if c := k.coadds(); c != nil {
			v *= float64(*c)
		}
	}
	if v >= 10000 {
		return nil
	}
	return &v
}

// prepared reports whether the primary header records a preparation step (a keyword whose
// name holds PREPAR): the data are no longer raw.
func (k keywords) prepared() bool {
	for _, h := range k.phu() {
		for _, c := range h.Cards {
			if strings.Contains(c.Keyword, "PREPAR") {
				return true
			}
		}
	}
	return false
}

// micrometres converts a central wavelength to micrometres, the unit FitsStorage stores,
// and only for spectroscopy (it stores none for imaging). Gemini's keywords give it in
// nanometres (GMOS's CENTWAVE and GRWLEN) or micrometres (the infrared instruments): a
// value above 100 is taken as nanometres. A value outside (0, 100) µm, which the column
// (numeric(8,6)) cannot hold, is nil.
func micrometres(w *float64, spectroscopy bool) *float64 {
	if w == nil || !spectroscopy {
		return nil
	}
	um := *w
	if um > 100 {
		um /= 1000
	}
	if um <= 0 || um >= 100 {
		return nil
	}
	return &um
}

func upper(s *string) *string {
	if s == nil {
		return nil
	}
	u := strings.ToUpper(*s)
	return &u
}

// programFlags derives engineering, science verification and calibration program from the
// (upper-cased) program id, then lets ENG_DATA override engineering: a logical as it is, a
// number when not zero, a string when not empty (Python's truth, which FitsStorage applies).
func (k keywords) programFlags(pid *string, siteMonitoring bool) (eng, sv, cal *bool) {
	bp := func(b bool) *bool { return &b }
	if pid == nil {
		eng, sv = bp(!siteMonitoring), bp(false)
	} else {
		p := ParseProgram(*pid)
		eng, sv, cal = bp(p.Eng || !p.Valid), bp(p.SV), bp(p.Cal)
	}
	for _, h := range k[:min(len(k), 1)] { // the primary header only
		if v, ok := h.Get("ENG_DATA"); ok {
			switch v := v.(type) {
			case bool:
				eng = bp(v)
			case int64:
				eng = bp(v != 0)
			case float64:
				eng = bp(v != 0)
			case string:
				eng = bp(v != "")
			}
		}
	}
	return eng, sv, cal
}

// keywords looks keywords up in the primary header, then the first extension header.
type keywords []fits.Header

// str returns the first of the keywords with a non-empty string value, trailing blanks
// removed.
func (k keywords) str(keys ...string) *string {
	for _, key := range keys {
		for _, h := range k {
			if s, ok := h.String(key); ok {
				if s = strings.TrimRight(s, " "); s != "" {
					return &s
				}
			}
		}
	}
	return nil
}

// float returns the first of the keywords with a numeric value (or a string holding a
// number).
func (k keywords) float(keys ...string) *float64 {
	for _, key := range keys {
		for _, h := range k {
			if f, ok := h.Float(key); ok {
				return &f
			}
		}
	}
	return nil
}

// filterName is FitsStorage's filter name: FILTER1 and FILTER2 without their component ids,
// open positions ("open", "Clear") and neutral-density filters left out ("open" if nothing is
// left), "blank" or "dark" added for a blocking filter, joined with '&'; then '%' removed and
// blanks written '_'. Data with FILTER alone (no FILTER1 and FILTER2) use it the same way.
func (k keywords) filterName() *string {
	f1, f2 := k.str("FILTER1"), k.str("FILTER2")
	var names []string
	switch {
	case f1 != nil && f2 != nil:
		names = []string{removeComponentID(*f1), removeComponentID(*f2)}
	case f1 == nil && f2 == nil:
		if f := k.str("FILTER"); f != nil {
			names = []string{removeComponentID(*f)}
		}
	}
	if names == nil {
		return nil
	}
	var comps []string
	for _, f := range names {
		lf := strings.ToLower(f)
		if !strings.Contains(lf, "open") && !strings.Contains(f, "Clear") && !strings.HasPrefix(lf, "nd") {
			comps = append(comps, f)
		}
	}
	if len(comps) == 0 {
		comps = []string{"open"}
	}
	for _, mark := range []struct{ in, word string }{{"Block", "blank"}, {"Dark", "blank"}, {"DK", "dark"}} {
		for _, f := range names {
			if strings.Contains(f, mark.in) {
				comps = append(comps, mark.word)
				break
			}
		}
	}
	v := strings.Join(comps[:min(len(comps), 2)], "&")
	v = strings.ReplaceAll(strings.ReplaceAll(v, "%", ""), " ", "_")
	return &v
}

// xyBinned are the instruments whose binning DRAGONS reads from XBIN and YBIN.
var xyBinned = map[string]bool{"NIRI": true, "GNIRS": true, "F2": true, "FLAM": true}

// binning is "XxY": GMOS's CCDSUM "2 2" is "2x2"; the other instruments' XBIN and YBIN,
// 1 when absent, as DRAGONS reads them ("1x1" for NIRI, GNIRS, F2); nil for the others
// until their own rules are written.
func (k keywords) binning() *string {
	if s := k.str("CCDSUM"); s != nil {
		b := strings.Join(strings.Fields(*s), "x")
		if b == "" {
			return nil
		}
		return &b
	}
	if inst := instrument(k.str("INSTRUME")); inst == nil || !xyBinned[*inst] {
		return nil
	}
	x, y := int64(1), int64(1)
	for _, h := range k.phu() {
		if _, ok := h.Get("XBIN"); ok {
			if x, ok = h.Int("XBIN"); !ok {
				return nil
			}
		}
		if _, ok := h.Get("YBIN"); ok {
			if y, ok = h.Int("YBIN"); !ok {
				return nil
			}
		}
	}
	b := fmt.Sprintf("%dx%d", x, y)
	return &b
}

// position is a coordinate in degrees, NULL outside [lo, hi] or for a target in azimuth and
// elevation (FRAME AZEL_TOPO): the first extension's WCS reference value when its axis type
// is celestial (ctype prefix), else the primary header's keyword — a number, or a string
// holding one or a sexagesimal value in hours (RA, scale 15) or degrees (Dec, scale 1).
func (k keywords) position(key, ctype, crval, prefix string, scale, lo, hi float64) *float64 {
	if k.phuString("FRAME") == "AZEL_TOPO" {
		return nil
	}
	v := k.wcsPosition(ctype, crval, prefix)
	if v == nil {
		v = k.phuPosition(key, scale)
	}
	return inRange(v, lo, hi)
}

// wcsPosition is CRVALn of the first extension when its CTYPEn starts with prefix.
func (k keywords) wcsPosition(ctype, crval, prefix string) *float64 {
	var v *float64
	for _, h := range k[min(len(k), 1):] { // the first extension
		if t, ok := h.String(ctype); ok && strings.HasPrefix(t, prefix) {
			if f, ok := h.Float(crval); ok {
				v = &f
			}
		}
	}
	return v
}

// phuPosition is the primary header's key in degrees: a number, or sexagesimal text times
// scale (15 for hours of RA).
func (k keywords) phuPosition(key string, scale float64) *float64 {
	var v *float64
	for _, h := range k.phu() {
		raw, ok := h.Get(key)
		if !ok {
			continue
		}
		if s, isStr := raw.(string); isStr {
			if f, ok := parseSexagesimal(s); ok {
				f *= scale
				v = &f
				break
			}
		}
		if f, ok := h.Float(key); ok {
			v = &f
		}
	}
	return v
}

// inRange is v when it lies in [lo, hi], else nil.
func inRange(v *float64, lo, hi float64) *float64 {
	if v == nil || *v < lo || *v > hi {
		return nil
	}
	return v
}

// withoutComponentID is a name without its component id (FitsStorage's pretty names).
func withoutComponentID(s *string) *string {
	if s == nil {
		return nil
	}
	v := removeComponentID(*s)
	return &v
}

// qaState derives the QA state from RAWGEMQA (the observatory's verdict: USABLE, BAD,
// CHECK, UNKNOWN) and RAWPIREQ (the PI's requirements met: YES, NO, CHECK, UNKNOWN), as
// DRAGONS' qa_state descriptor does, in its order: UNKNOWN (or a missing keyword) in either
// is Undefined; USABLE is Pass when the requirements were met, Usable when not; BAD is Fail;
// CHECK in either is CHECK; anything else is Undefined, FitsStorage's fallback.
func (k keywords) qaState() *string {
	upper := func(key string) string {
		for _, h := range k {
			if v, ok := h.Get(key); ok {
				if s, ok := v.(string); ok {
					return strings.ToUpper(strings.TrimSpace(s))
				}
				return "\x00" // not a string: DRAGONS fails, FitsStorage says Undefined
			}
		}
		return "UNKNOWN"
	}
	gemqa, pireq := upper("RAWGEMQA"), upper("RAWPIREQ")
	state := "Undefined"
	switch {
	case gemqa == "UNKNOWN" || pireq == "UNKNOWN" || gemqa == "\x00" || pireq == "\x00":
	case gemqa == "USABLE" && pireq == "YES":
		state = "Pass"
	case gemqa == "USABLE" && pireq == "NO":
		state = "Usable"
	case gemqa == "BAD":
		state = "Fail"
	case gemqa == "CHECK" || pireq == "CHECK":
		state = "CHECK"
	}
	return &state
}

// release parses RELEASE as a date.
func (k keywords) release() *time.Time {
	s := k.str("RELEASE")
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(*s))
	if err != nil {
		return nil
	}
	return &t
}

var (
	isoDateTimeRE = regexp.MustCompile(`^\d\d\d\d-[01]\d-[0123]\dT[012]\d:[012345]\d:\d\d`)
	isoDateRE     = regexp.MustCompile(`^\d\d\d\d-[01]\d-[0123]\d`)
	oldDateRE     = regexp.MustCompile(`^([0123]\d)/([01]\d)/(\d\d+)`)
	mjdEpoch      = time.Date(1858, 11, 17, 0, 0, 0, 0, time.UTC)
)

// utDateTime is the start of the observation as DRAGONS' ut_datetime finds it in the primary
// header: DATE-OBS, DATE or UTDATE with a time of day is taken whole; else their date (ISO,
// or the old DD/MM/YY of early NIRI data) with the first of UT, TIME-OBS, STARTUT, UTSTART
// that reads as a time; else MJD-OBS; else OBSSTART; else the date at midnight. A value that
// matches a form but is no real date (month 13) is nil. A zone suffix ("Z") is read as UTC.
func (k keywords) utDateTime() *time.Time {
	phu := k.phu()
	date := ""
	for _, key := range []string{"DATE-OBS", "DATE", "UTDATE"} {
		var s string
		for _, h := range phu {
			if v, ok := h.Get(key); ok {
				str, isStr := v.(string)
				if !isStr {
					return nil // DRAGONS fails on it: no value
				}
				s = strings.TrimSpace(str)
			}
		}
		switch {
		case isoDateTimeRE.MatchString(s):
			return parseISO(s)
		case isoDateRE.MatchString(s):
			date = s[:10]
		case oldDateRE.MatchString(s):
			m := oldDateRE.FindStringSubmatch(s)
			yy, _ := strconv.Atoi(m[3])
			date = fmt.Sprintf("%04d-%s-%s", 1900+yy, m[2], m[1])
		default:
			continue
		}
		break
	}
	var clock *time.Time
	for _, key := range []string{"UT", "TIME-OBS", "STARTUT", "UTSTART"} {
		if s := phu.str(key); s != nil {
			if c, ok := parseClock(strings.TrimSpace(*s)); ok {
				clock = &c
				break
			}
		}
	}
	if date != "" && clock != nil {
		d, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return nil
		}
		h, m, sec := clock.Clock()
		t := time.Date(d.Year(), d.Month(), d.Day(), h, m, sec, clock.Nanosecond(), time.UTC)
		return &t
	}
	if mjd := phu.float("MJD-OBS"); mjd != nil && *mjd > 1 {
		t := mjdEpoch.Add(time.Duration(*mjd * 24 * float64(time.Hour))).Round(time.Microsecond)
		return &t
	}
	if s := phu.str("OBSSTART"); s != nil {
		return parseISO(strings.TrimSpace(*s))
	}
	if date == "" {
		return nil
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return nil
	}
	return &d
}

// parseISO reads an ISO date and time (fractional seconds and a zone allowed; the zone is
// dropped after converting to UTC).
func parseISO(s string) *time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			u := t.UTC()
			return &u
		}
	}
	return nil
}

// isDisperser reports whether a disperser value names a real disperser rather than a
// mirror, an open position or none.
func isDisperser(d string) bool {
	d = strings.ToLower(strings.TrimSpace(d))
	return d != "" && d != "none" && !strings.HasPrefix(d, "mirror") && !strings.HasPrefix(d, "open")
}
