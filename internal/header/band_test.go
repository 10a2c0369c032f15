package header

import "testing"

// Wavelength bands (worked examples U102, E1, E7) and reduction states (§1.8).
func TestWavelengthBandAndReduction(t *testing.T) {
	band := func(r Row) string {
		if r.WavelengthBand == nil {
			return "NULL"
		}
		return *r.WavelengthBand
	}
	for _, c := range []struct {
		name string
		row  Row
		want string
	}{
		{"U102 GMOS image through Ha", FromHDUs(gmosFile("GRATING", "MIRROR", "FILTER1", "Ha_G0310", "FILTER2", "open2-8")), "r"},
		{"U102 GMOS spectrum at 0.52 µm", FromHDUs(gmosFile()), "g"},
		{"GMOS bias", FromHDUs(gmosFile("OBSTYPE", "BIAS", "GRATING", "MIRROR")), "NULL"},
		{"U102 NIRI K(prime)", niriFile("FILTER1", "Kprime_G0206"), "K"},
		{"E1 NIRI J", niriFile(), "J"},
		{"E7 F2 long slit at 1.4 µm", f2File(), "J"},
		{"F2 image through Ks", f2File("GRISM", "Open", "DECKER", "Open", "FILTER2", "Ks_G0804"), "K"},
		{"GNIRS acquisition through H2", gnirsFile(), "K"},
		{"an instrument whose rules are not written", FromHDUs(hdus(kv("INSTRUME", "FooCam", "FILTER", "J"))), "NULL"},
	} {
		if got := band(c.row); got != c.want {
			t.Errorf("%s: band %s, want %s", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		kv   []any
		want string
	}{
		{nil, "RAW"},
		{[]any{"PREPARE", "2020-01-01"}, "PREPARED"},
		{[]any{"PREPARE", "2020-01-01", "PROCFLAT", "2020-01-02"}, "PROCESSED_FLAT"},
		{[]any{"OBSTYPE", "OBJECT", "PROCSCI", "sq"}, "PROCESSED_SCIENCE"},
		{[]any{"OBSTYPE", "FLAT", "PROCSCI", "sq", "GBIAS", "x"}, "PROCESSED_BIAS"},
	} {
		if got := FromHDUs(hdus(kv(c.kv...))).Reduction; got != c.want {
			t.Errorf("%v: reduction %s, want %s", c.kv, got, c.want)
		}
	}
}
