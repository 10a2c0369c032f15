package header

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the columns FitsStorage derives the same way for every instrument
// (docs/fitsstorage-header-rules.md §1); each rule says what FitsStorage stores, NULL where it
// would.

// Derived are the instrument-independent columns FitsStorage adds to the basic ones.
type Derived struct {
	UTDateTimeSecs                                     *int64  // seconds since 2000-01-01T00:00:00, truncated
	LocalTime                                          *string // LT as a time of day, "15:04:05.000000"
	RawIQ, RawCC, RawWV, RawBG                         *int
	RequestedIQ, RequestedCC, RequestedWV, RequestedBG *int
	Airmass, Azimuth, Elevation, CassRotatorPA         *float64
	Coadds                                             *int
	AdaptiveOptics, LaserGuideStar                     bool
	WavefrontSensor, GCALLamp                          *string
	ProprietaryCoordinates, PreImage                   bool
	Processing                                         string // procmode: Raw unless the file says otherwise
	ProcessingTag                                      *string
}

// utEpoch is FitsStorage's origin of ut_datetime_secs.
var utEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (k keywords) derived(ut *time.Time) Derived {
	d := Derived{
		LocalTime:              k.localTime(),
		RawIQ:                  k.percentile("RAWIQ"),
		RawCC:                  k.percentile("RAWCC"),
		RawWV:                  k.percentile("RAWWV"),
		RawBG:                  k.percentile("RAWBG"),
		RequestedIQ:            k.percentile("REQIQ"),
		RequestedCC:            k.percentile("REQCC"),
		RequestedWV:            k.percentile("REQWV"),
		RequestedBG:            k.percentile("REQBG"),
		Azimuth:                k.angle("AZIMUTH"),
		Elevation:              k.angle("ELEVATIO"),
		CassRotatorPA:          k.rotator(),
		Coadds:                 k.coadds(),
		AdaptiveOptics:         k.phuString("AOFOLD") == "IN",
		LaserGuideStar:         k.phuString("LGSLOOP") == "CLOSED" || k.phuString("LGUSTAGE") == "IN",
		WavefrontSensor:        k.wavefrontSensor(),
		GCALLamp:               k.gcalLamp(),
		ProprietaryCoordinates: k.phuBool("PROP_MD"),
		PreImage:               k.preImage(),
		Processing:             k.processing(),
		ProcessingTag:          k.phuStr("PROCTAG"),
	}
	if ut != nil {
		secs := int64(ut.Sub(utEpoch) / time.Second) // toward zero
		d.UTDateTimeSecs = &secs
	}
	d.Airmass = k.airmass(d.Elevation)
	return d
}

// phu is the primary header's lookups alone: FitsStorage reads these keywords there only.
func (k keywords) phu() keywords { return k[:min(len(k), 1)] }

func (k keywords) phuStr(key string) *string { return k.phu().str(key) }

// phuString is the primary header's string value of key, as written ("" when absent).
func (k keywords) phuString(key string) string {
	for _, h := range k.phu() {
		if s, ok := h.String(key); ok {
			return strings.TrimRight(s, " ")
		}
	}
	return ""
}

func (k keywords) phuBool(key string) bool {
	for _, h := range k.phu() {
		if b, ok := h.Bool(key); ok {
			return b
		}
	}
	return false
}

// localTime reads LT ("20:11:21.9") as a time of day.
func (k keywords) localTime() *string {
	s := k.phuStr("LT")
	if s == nil {
		return nil
	}
	t, ok := parseClock(strings.TrimSpace(*s))
	if !ok {
		return nil
	}
	v := t.Format("15:04:05.000000")
	return &v
}

var clockRE = regexp.MustCompile(`^([012]?\d):([012345]?\d):(\d\d?(?:\.\d*)?)$`)

// parseClock reads H:MM:SS(.s), as DRAGONS' time pattern allows it.
func parseClock(s string) (time.Time, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, err := strconv.ParseFloat(m[3], 64)
	if err != nil || h > 23 || mi > 59 || sec >= 60 {
		return time.Time{}, false
	}
	whole := math.Floor(sec)
	return time.Date(0, 1, 1, h, mi, int(whole), int(math.Round((sec-whole)*1e6))*1000, time.UTC), true
}

var percentileRE = regexp.MustCompile(`^(\d\d)-percentile$`)

// percentile reads a sky-condition keyword: "Any" is 100, "70-percentile" is 70, anything else
// is no value.
func (k keywords) percentile(key string) *int {
	s := k.phuString(key)
	if s == "Any" {
		v := 100
		return &v
	}
	if m := percentileRE.FindStringSubmatch(s); m != nil {
		v, _ := strconv.Atoi(m[1])
		return &v
	}
	return nil
}

var dmsRE = regexp.MustCompile(`^([+-]?)(\d+):(\d+):(\d+(?:\.\d*)?)$`)

// parseSexagesimal reads "[+-]D:MM:SS(.s)" as D + MM/60 + SS/3600 (hours or degrees alike).
func parseSexagesimal(s string) (float64, bool) {
	m := dmsRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, false
	}
	d, _ := strconv.ParseFloat(m[2], 64)
	mi, _ := strconv.ParseFloat(m[3], 64)
	se, _ := strconv.ParseFloat(m[4], 64)
	v := d + mi/60 + se/3600
	if m[1] == "-" {
		v = -v
	}
	return v, true
}

// angle reads degrees: a number, or a string "[+-]D:MM:SS(.s)" or holding a number.
func (k keywords) angle(key string) *float64 {
	for _, h := range k.phu() {
		v, ok := h.Get(key)
		if !ok {
			continue
		}
		if s, ok := v.(string); ok {
			if deg, ok := parseSexagesimal(s); ok {
				return &deg
			}
		}
		if f, ok := h.Float(key); ok {
			return &f
		}
		return nil
	}
	return nil
}

// rotator is CRPA, a position angle: beyond ±360 (400 is "unknown") it is no value.
func (k keywords) rotator() *float64 {
	for _, h := range k.phu() {
		if f, ok := h.Float("CRPA"); ok && math.Abs(f) <= 360 {
			return &f
		}
	}
	return nil
}

// airmass is AIRMASS when it is at least 1; above 50 (a telescope pointing low, or a bad
// value) FitsStorage computes it from the elevation, 1/cos(zenith distance).
func (k keywords) airmass(elevation *float64) *float64 {
	var am *float64
	for _, h := range k.phu() {
		if f, ok := h.Float("AIRMASS"); ok && f >= 1 {
			am = &f
		}
	}
	if am != nil && *am > 50 {
		am = nil
		if elevation != nil {
			v := 1 / math.Cos((90-*elevation)*math.Pi/180)
			am = &v
		}
	}
	return am
}

// coadds is COADDS, 1 when absent; a value that is no integer is no value.
func (k keywords) coadds() *int {
	for _, h := range k.phu() {
		if _, present := h.Get("COADDS"); present {
			n, ok := h.Int("COADDS")
			if !ok || n < 0 || n > math.MaxInt32 {
				return nil // no integer the column can hold
			}
			v := int(n)
			return &v
		}
	}
	one := 1
	return &one
}

// wavefrontSensor names the wavefront sensors that were guiding, sorted and joined with
// '&' (GEMS when GWFS1CFG is present).
func (k keywords) wavefrontSensor() *string {
	var names []string
	for _, w := range []struct{ name, key string }{{"AOWFS", "AOWFS_ST"}, {"OIWFS", "OIWFS_ST"}, {"PWFS1", "PWFS1_ST"}, {"PWFS2", "PWFS2_ST"}} {
		if k.phuString(w.key) == "guiding" {
			names = append(names, w.name)
		}
	}
	for _, h := range k.phu() {
		if _, ok := h.Get("GWFS1CFG"); ok {
			names = append(names, "GEMS")
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	s := strings.Join(names, "&")
	return &s
}

// gcalLamp is the calibration unit's lamp, "Off" when its shutter closes an IR lamp or no
// lamp is named; nil when either keyword is absent.
func (k keywords) gcalLamp() *string {
	var lamp, shut *string
	for _, h := range k.phu() {
		if v, ok := h.String("GCALLAMP"); ok {
			v = strings.TrimRight(v, " ")
			lamp = &v
		}
		if v, ok := h.String("GCALSHUT"); ok {
			v = strings.TrimRight(v, " ")
			shut = &v
		}
	}
	if lamp == nil || shut == nil {
		return nil
	}
	l, s := strings.ToUpper(*lamp), strings.ToUpper(*shut)
	if s == "CLOSED" && (l == "IRHIGH" || l == "IRLOW") || l == "" || l == "NO VALUE" {
		off := "Off"
		return &off
	}
	return lamp
}

// preImage is PREIMAGE as FitsStorage reads it: the logical T, or the strings "1" or "T".
func (k keywords) preImage() bool {
	for _, h := range k.phu() {
		switch v, _ := h.Get("PREIMAGE"); v := v.(type) {
		case bool:
			return v
		case string:
			return v == "1" || v == "T"
		}
	}
	return false
}

// procModes are the values of FitsStorage's procmode type.
var procModes = []string{"Failed", "Raw", "Quick-Look", "Science-Quality", "Quality-Assessment"}

// processing is the processing mode: PROCREVW, else PROCITNT, when one of the procmode values;
// else PROCMODE (PROCSCI when absent) "ql" or "sq"; else Raw.
func (k keywords) processing() string {
	for _, key := range []string{"PROCREVW", "PROCITNT"} {
		v := k.phuString(key)
		for _, m := range procModes {
			if v == m {
				return v
			}
		}
	}
	mode := k.phuStr("PROCMODE")
	if mode == nil {
		mode = k.phuStr("PROCSCI")
	}
	if mode != nil {
		switch *mode {
		case "ql":
			return "Quick-Look"
		case "sq":
			return "Science-Quality"
		}
	}
	return "Raw"
}
