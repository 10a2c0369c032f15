package mdraid

import "testing"

// The all-zero UUID sysfs shows for an array still being assembled names no array: two
// such arrays are never the same one (their journalled actions would be mixed up).
func TestCanonicalUUID(t *testing.T) {
	for in, want := range map[string]string{
		"a8b11440:0e639865:15c27575:affc44ea":  "a8b114400e63986515c27575affc44ea",
		"A8B11440-0E63-9865-15C2-7575AFFC44EA": "a8b114400e63986515c27575affc44ea",
		"00000000-0000-0000-0000-000000000000": "",
		"00000000:00000000:00000000:00000000":  "",
		"":                                     "",
	} {
		if got := CanonicalUUID(in); got != want {
			t.Errorf("CanonicalUUID(%q) = %q, want %q", in, got, want)
		}
	}
	if SameUUID("00000000-0000-0000-0000-000000000000", "00000000:00000000:00000000:00000000") {
		t.Error("two all-zero UUIDs taken for one array")
	}
}
