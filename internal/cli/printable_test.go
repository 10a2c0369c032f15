package cli

import "testing"

func TestPrintableEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"N20200101S0001.fits":     "N20200101S0001.fits",
		"NGC 1068 – ω Cen.fits":   "NGC 1068 – ω Cen.fits",
		"evil\x1b]0;owned\a.fits": `evil\x1b]0;owned\a.fits`,
		"new\nline.fits":          `new\nline.fits`,
		"bad\xff.fits":            `bad\xff.fits`,
		"tab\there.fits":          `tab\there.fits`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
