package state

import (
	"encoding/json"
	"testing"
	"time"
)

// checkEntry fails unless the encoder's entry for label decodes to what json.Marshal's
// entry decodes to.
func checkEntry(t *testing.T, claimed time.Time, label string) {
	t.Helper()
	got := newEntryEncoder(claimed).encode(label)
	var fast, slow journalEntry
	if err := json.Unmarshal(got, &fast); err != nil {
		t.Fatalf("entry for %q is not JSON: %v: %s", label, err, got)
	}
	want, err := json.Marshal(journalEntry{Label: label, Claimed: claimed})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &slow); err != nil {
		t.Fatal(err)
	}
	if fast.Label != slow.Label || !fast.Claimed.Equal(slow.Claimed) {
		t.Fatalf("entry for %q: got %s, json.Marshal gives %s", label, got, want)
	}
}

func TestJournalEntryDecodesLikeEncodingJSON(t *testing.T) {
	claimed := time.Date(2026, 12, 3, 19, 4, 5, 123456789, time.UTC)
	for _, label := range []string{
		"", "N20121122S0001.fits", "S20121122S9876_x.fits.bz2", "img_20250101_001.fits",
		`say "hi".fits`, `back\slash.fits`, "tab\there.fits", "new\nline", "\x00", "\x7f",
		"<script>&amp;</script>", "ünïcödé.fits", "日本.fits", "\xff\xfe invalid utf-8", "\u2028\u2029",
	} {
		checkEntry(t, claimed, label)
	}
}

func FuzzJournalEntry(f *testing.F) {
	f.Add("N20121122S0001.fits", int64(1796323751637905085))
	f.Add(`a"b\c`+"\x01\xff", int64(0))
	f.Fuzz(func(t *testing.T, label string, unixNano int64) {
		checkEntry(t, time.Unix(0, unixNano).UTC(), label)
	})
}

// BenchmarkJournalEntry compares the entry encoder with encoding/json (its baseline) on a
// file name.
func BenchmarkJournalEntry(b *testing.B) {
	claimed := time.Now().UTC()
	const label = "S20121122S9876_x.fits.bz2"
	b.Run("encoder", func(b *testing.B) {
		enc := newEntryEncoder(claimed)
		for b.Loop() {
			enc.encode(label)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(journalEntry{Label: label, Claimed: claimed}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
