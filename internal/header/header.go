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
		Telescope:         k.str("TELESCOP"),
		Instrument:        k.str("INSTRUME"),
		UTDateTime:        k.utDateTime(),
		ObservationType:   k.str("OBSTYPE"),
		ObservationClass:  k.str("OBSCLASS"),
		Object:            k.str("OBJECT"),
		RA:                k.float("RA"),
		Dec:               k.float("DEC"),
		ExposureTime:      k.float("EXPTIME"),
		FilterName:        k.filterName(),
		Disperser:         k.str("GRATING", "DISPERSR"),
		CentralWavelength: k.float("CENTWAVE", "GRWLEN"), // as written; micrometres below
		FocalPlaneMask:    k.str("MASKNAME", "FPMASK"),
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
	return r
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

// filterName joins FILTER1 and FILTER2 with '&' when either is present, else uses FILTER.
func (k keywords) filterName() *string {
	var parts []string
	for _, key := range []string{"FILTER1", "FILTER2"} {
		if s := k.str(key); s != nil {
			parts = append(parts, *s)
		}
	}
	if len(parts) == 0 {
		return k.str("FILTER")
	}
	s := strings.Join(parts, "&")
	return &s
}

// binning turns CCDSUM "2 2" into "2x2".
func (k keywords) binning() *string {
	s := k.str("CCDSUM")
	if s == nil {
		return nil
	}
	b := strings.Join(strings.Fields(*s), "x")
	if b == "" {
		return nil
	}
	return &b
}

// qaState derives the QA state from RAWGEMQA (the observatory's verdict: USABLE, BAD,
// CHECK, UNKNOWN) and RAWPIREQ (the PI's requirements met: YES, NO, CHECK, UNKNOWN), as
// DRAGONS' qa_state descriptor does: BAD is Fail whatever the PI says; CHECK in either is
// CHECK; USABLE is Pass when the requirements were met, Usable when not; anything else —
// UNKNOWN, a missing or unexpected keyword — is Undefined, FitsStorage's fallback.
func (k keywords) qaState() *string {
	upper := func(key string) string {
		if s := k.str(key); s != nil {
			return strings.ToUpper(strings.TrimSpace(*s))
		}
		return ""
	}
	gemqa, pireq := upper("RAWGEMQA"), upper("RAWPIREQ")
	state := "Undefined"
	switch {
	case gemqa == "BAD":
		state = "Fail"
	case gemqa == "CHECK" || pireq == "CHECK":
		state = "CHECK"
	case gemqa == "USABLE" && pireq == "YES":
		state = "Pass"
	case gemqa == "USABLE" && pireq == "NO":
		state = "Usable"
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

// utDateTime combines DATE-OBS with TIME-OBS or UT when DATE-OBS has no time of day.
func (k keywords) utDateTime() *time.Time {
	s := k.str("DATE-OBS")
	if s == nil {
		return nil
	}
	d := strings.TrimSuffix(strings.TrimSpace(*s), "Z")
	if strings.Contains(d, "T") {
		t, err := time.Parse("2006-01-02T15:04:05", d)
		if err != nil {
			return nil
		}
		return &t
	}
	date, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return nil
	}
	tod := k.str("TIME-OBS", "UT")
	if tod == nil {
		return &date
	}
	clock, err := time.Parse("15:04:05", strings.TrimSuffix(strings.TrimSpace(*tod), "Z"))
	if err != nil {
		return nil
	}
	h, m, sec := clock.Clock()
	t := time.Date(date.Year(), date.Month(), date.Day(), h, m, sec, clock.Nanosecond(), time.UTC)
	return &t
}

// isDisperser reports whether a disperser value names a real disperser rather than a
// mirror, an open position or none.
func isDisperser(d string) bool {
	d = strings.ToLower(strings.TrimSpace(d))
	return d != "" && d != "none" && !strings.HasPrefix(d, "mirror") && !strings.HasPrefix(d, "open")
}
