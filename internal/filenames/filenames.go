// Package filenames holds the archive's rules about file names: which names in the storage
// tree are ingested, the file a name belongs to (without .bz2), and the queue sort key that
// makes workers take the newest observations first.
package filenames

import (
	"regexp"
	"strings"
)

// FileName is the name of the file a stored name belongs to: a trailing .bz2 is not part of
// it, so N20200101S0001.fits.bz2 and N20200101S0001.fits are one file.
func FileName(name string) string {
	return strings.TrimSuffix(name, ".bz2")
}

// Compressed reports whether name is stored bzip2-compressed.
func Compressed(name string) bool {
	return strings.HasSuffix(name, ".bz2")
}

// Skip reasons returned by Accept.
const (
	SkipTemporary = "temporary" // the name contains "tmp"
	SkipTiled     = "tiled"     // the name contains "tiled"
	SkipPreview   = "preview"   // a .jpg preview
	SkipNotData   = "not-data"  // neither .fits, _obslog.txt nor miscfile_
	SkipHidden    = "hidden"    // starts with a dot (editor and rsync leftovers)
	SkipDefault   = ""          // accepted
)

// Accept decides whether a file name found in storage goes into the ingest queue; when it
// does not, it returns the reason.
func Accept(name string) (ok bool, reason string) {
	switch {
	case strings.HasPrefix(name, "."):
		return false, SkipHidden
	case strings.Contains(name, "tmp"):
		return false, SkipTemporary
	case strings.Contains(name, "tiled"):
		return false, SkipTiled
	case strings.HasSuffix(name, ".jpg"):
		return false, SkipPreview
	case strings.Contains(name, ".fits"), strings.Contains(name, "_obslog.txt"), strings.Contains(name, "miscfile_"):
		return true, ""
	}
	return false, SkipNotData
}

// sortRules map name patterns to a priority letter, the date and a serial number; the
// queue pops in descending key order, so 'z' names (observations) come first.
var sortRules = []struct {
	re       *regexp.Regexp
	priority string
}{
	{regexp.MustCompile(`^[NS](\d{8})\w(\d+)`), "z"},       // N20200101S0001.fits
	{regexp.MustCompile(`^SDC[SHK]_(\d{8})_(\d+)`), "z"},   // IGRINS SDCH_20200101_0001.fits
	{regexp.MustCompile(`^(\d{8})_(.*)_obslog\.txt`), "x"}, // 20200101_GN-2020A-Q-1_obslog.txt
	{regexp.MustCompile(`^img_(\d{8})_(\w+)`), "y"},        // skycam img_20200101_0001.fits
}

// SortKey is the queue key of a file name: priority letter + YYYYMMDD + serial number for the
// archive's known naming schemes, "aaaa" + name (lowest) for anything else.
//
// The key is stored in pending ingest queue rows and leads the index that keeps one pending
// row per (filename, path): a release that changes these rules must ship a migration that
// recomputes the sortkey of pending rows, or a re-enqueued name gets a second pending row.
// TestSortKey pins every rule.
func SortKey(name string) string {
	if key, ok := observationKey(name); ok {
		return key
	}
	for _, r := range sortRules[1:] {
		if m := r.re.FindStringSubmatch(name); m != nil {
			return r.priority + m[1] + m[2]
		}
	}
	return "aaaa" + name
}

// observationKey is the first sort rule, ^[NS](\d{8})\w(\d+), without the regexp engine:
// nearly every name in storage is an observation, and enqueue computes a key per name.
// FuzzObservationKey holds it to the regexp.
func observationKey(name string) (string, bool) {
	if len(name) < 11 || (name[0] != 'N' && name[0] != 'S') {
		return "", false
	}
	for i := 1; i <= 8; i++ {
		if !isDigit(name[i]) {
			return "", false
		}
	}
	if c := name[9]; !isDigit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '_' {
		return "", false
	}
	end := 10
	for end < len(name) && isDigit(name[end]) {
		end++
	}
	if end == 10 {
		return "", false
	}
	return "z" + name[1:9] + name[10:end], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
