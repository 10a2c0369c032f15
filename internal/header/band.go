package header

import (
	"math"
	"strings"
)

// This file holds the columns DRAGONS derives from the tags of the frame: the wavelength band
// and the reduction state (docs/fitsstorage-header-rules.md §1.6.2, §1.8).

// bands are the band names by their central wavelength in µm; the first of equally near wins.
var bands = []struct {
	name string
	um   float64
}{
	{"None", 0}, {"u", 0.35}, {"g", 0.475}, {"r", 0.63}, {"i", 0.78}, {"Z", 0.9}, {"Y", 1.02}, {"X", 1.1},
	{"J", 1.2}, {"H", 1.65}, {"K", 2.2}, {"L", 3.4}, {"M", 4.8}, {"N", 11.7}, {"Q", 18.3},
}

// filterWavelengths are the filters' wavelengths in µm, by instrument ("*": any), keyed by
// the filter name as the header stores it (blanks as '_').
var filterWavelengths = map[string]map[string]float64{
	"*": {"u": .35, "g": .475, "r": .63, "i": .78, "z": .925, "Y": 1.02, "J": 1.25, "H": 1.635, "K": 2.2, "FeII": 1.644},
	"GMOS": {"HeII": .468, "HeIIC": .478, "OIII": .499, "OIIIC": .514, "Ha": .656, "HaC": .662, "SII": .672,
		"OVIC": .679, "OVI": .6838, "ri": .7054, "CaT": .86, "Z": .876, "DS920": .92, "Y": 1.01},
	"NIRI": {"Jcon(1065)": 1.065, "HeI": 1.083, "Pa(gamma)": 1.094, "Jcon(112)": 1.122, "Jcon(121)": 1.207,
		"Pa(beta)": 1.282, "H-con(157)": 1.57, "CH4(short)": 1.58, "H": 1.65, "CH4(long)": 1.69,
		"H2Oice(2045)": 2.045, "HeI(2p2s)": 2.059, "Kcon(209)": 2.0975, "K(prime)": 2.12, "H2_1-0_S1": 2.1239,
		"K(short)": 2.15, "H2_2-1_S1": 2.2465, "Br(gamma)": 2.1686, "Kcon(227)": 2.2718, "CH4ice(2275)": 2.275,
		"CO_2-0_(bh)": 2.289, "H2O_ice": 3.05, "hydrocarb": 3.295, "L(prime)": 3.78, "Br(alpha)Con": 3.99,
		"Br(alpha)": 4.052, "M(prime)": 4.68},
	"GNIRS": {"YPHOT": 1.03, "X": 1.1, "X_(order_6)": 1.1, "JPHOT": 1.25, "J_(order_5)": 1.27, "H": 1.63,
		"H_(order_4)": 1.63, "H2": 2.125, "K_(order_3)": 2.195, "KPHOT": 2.22, "PAH": 3.295, "L": 3.5,
		"L_(order_2)": 3.5, "M": 5.1, "M_(order_1)": 5.1},
	"F2": {"Jlow": 1.122, "JH": 1.39, "H": 1.631, "HK": 1.871, "K-blue": 2.06, "Ks": 2.157, "K-red": 2.31,
		"Klong": 2.2, "K-long": 2.2},
}

// blockedTypes are observation types whose frames are neither images nor spectra.
var blockedTypes = map[string]bool{"DARK": true, "BIAS": true, "MASK": true, "BPM": true}

// wavelengthBand is the band nearest the frame's wavelength: the filter's for an image, the
// central wavelength for a spectrum; nil for the frames of other instruments (their rules are
// not written) and for darks, biases and masks.
func wavelengthBand(r Row) *string {
	if r.Instrument == nil || r.Mode == nil {
		return nil
	}
	if r.ObservationType != nil && blockedTypes[*r.ObservationType] {
		return nil
	}
	inst := *r.Instrument
	if strings.HasPrefix(inst, "GMOS") {
		inst = "GMOS"
	}
	if inst == "FLAM" {
		inst = "F2"
	}
	var w float64
	switch {
	case r.Spectroscopy:
		if r.CentralWavelength == nil {
			return nil
		}
		w = *r.CentralWavelength
	case r.FilterName != nil:
		v, ok := filterWavelengths["*"][*r.FilterName]
		if iv, iok := filterWavelengths[inst][*r.FilterName]; iok {
			v, ok = iv, true
		}
		if !ok {
			return nil
		}
		w = v
	default:
		return nil
	}
	best, dist := bands[0].name, math.Inf(1)
	for _, b := range bands {
		if d := math.Abs(b.um - w); d < dist {
			best, dist = b.name, d
		}
	}
	return &best
}

// processedKinds are the keywords that mark processed calibrations, with the kind they give.
var processedKinds = []struct{ key, kind string }{
	{"PROCARC", "ARC"}, {"GBIAS", "BIAS"}, {"PROCBIAS", "BIAS"}, {"PROCDARK", "DARK"}, {"GIFLAT", "FLAT"},
	{"PROCFLAT", "FLAT"}, {"GIFRINGE", "FRINGE"}, {"PROCFRNG", "FRINGE"}, {"PROCPNHL", "PINHOLE"},
	{"PROCSTND", "STANDARD"}, {"PROCILLM", "SLITILLUM"}, {"BPMASK", "BPM"}, {"PROCBPM", "BPM"},
}

// reduction is the reduction state: PROCESSED_SCIENCE for processed science frames,
// PROCESSED_<kind> for processed calibrations (the first keyword that marks one), PREPARED
// for prepared data, RAW otherwise.
func (k keywords) reduction() string {
	has := func(key string) bool {
		for _, h := range k.phu() {
			if _, ok := h.Get(key); ok {
				return true
			}
		}
		return false
	}
	if k.phuString("OBSTYPE") == "OBJECT" && (has("GMOSAIC") || has("PROCSCI")) {
		return "PROCESSED_SCIENCE"
	}
	for _, p := range processedKinds {
		if has(p.key) {
			return "PROCESSED_" + p.kind
		}
	}
	if k.prepared() {
		return "PREPARED"
	}
	return "RAW"
}
