package queue

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// A slow claim makes the next pause at least as long as it took and doubles the last one,
// within the bounds; fast claims halve it down to none. The threshold grows with the rows
// returned: a big batch on a quiet server is not slow.
func TestNextPause(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name        string
		pause, took time.Duration
		rows        int
		want        time.Duration
	}{
		{"fast claim, no pause", 0, 3 * ms, 24, 0},
		{"big batch within its allowance", 0, 35 * ms, 200, 0},
		{"big batch past its allowance", 0, 45 * ms, 200, 45 * ms},
		{"first slow claim: as long as it took", 0, 300 * ms, 24, 300 * ms},
		{"slow claim after a pause: doubled", 300 * ms, 30 * ms, 24, 600 * ms},
		{"just past the threshold: as long as it took", 0, 23 * ms, 1, 23 * ms},
		{"capped", 800 * ms, 30 * ms, 24, maxClaimPause},
		{"fast claim halves", 400 * ms, 3 * ms, 24, 200 * ms},
		{"fast claim ends a small pause", 8 * ms, 3 * ms, 24, 0},
	}
	for _, c := range cases {
		if got := nextPause(c.pause, c.took, c.rows); got != c.want {
			t.Errorf("%s: nextPause(%v, %v, %d) = %v, want %v", c.name, c.pause, c.took, c.rows, got, c.want)
		}
	}
}

// Each item goes to the slot of its holder, also when the claim skipped a place (a row
// changed under it) and when a worker has several slots; the slots left keep the order
// asked.
func TestSlotsOf(t *testing.T) {
	holders := []string{"w0", "w1", "w2", "w0", "w1"}
	slots := []int{0, 1, 2, 0, 1}
	items := []Item{{Holder: "w0"}, {Holder: "w2"}, {Holder: "w0"}} // places 2 and 5 skipped
	used, unused := slotsOf(items, holders, slots)
	if want := []int{0, 2, 0}; !slices.Equal(used, want) {
		t.Errorf("used %v, want %v", used, want)
	}
	if want := []int{1, 1}; !slices.Equal(unused, want) {
		t.Errorf("unused %v, want %v", unused, want)
	}
	used, unused = slotsOf(nil, holders, slots)
	if len(used) != 0 || !slices.Equal(unused, slots) {
		t.Errorf("nothing claimed: used %v, unused %v", used, unused)
	}
}

// A claim for up to 16 holders asks for all of them; a bigger one for at most 1/8 fewer,
// from few distinct sizes (each size is a statement of its own on every connection).
func TestClaimSize(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 16: 16, 17: 16, 18: 18, 31: 30, 200: 192, 400: 384, 1000: 960} {
		if got := claimSize(n); got != want {
			t.Errorf("claimSize(%d) = %d, want %d", n, got, want)
		}
	}
	sizes := map[int]bool{}
	last := 0
	for n := 0; n <= 4096; n++ {
		got := claimSize(n)
		if got > n || 8*got < 7*n || got < last {
			t.Fatalf("claimSize(%d) = %d: want at most %d, at least 7/8 of it, and no less than for %d (%d)", n, got, n, n-1, last)
		}
		sizes[got], last = true, got
	}
	if len(sizes) > 17+8*8 {
		t.Errorf("%d distinct sizes for 0..4096 holders, want at most %d", len(sizes), 17+8*8)
	}
}

// Claim tokens are version 7 UUIDs: they begin with the time in milliseconds and grow
// within a batch (so they enter the token index and the journal at the right edge), and
// are otherwise random: two batches of one millisecond share no token.
func TestNewTokens(t *testing.T) {
	before := time.Now().UnixMilli()
	a, b := newTokens(300), newTokens(300)
	after := time.Now().UnixMilli()
	seen := map[[16]byte]bool{}
	for _, batch := range [][]pgtype.UUID{a, b} {
		for i, tok := range batch {
			u := tok.Bytes
			if !tok.Valid || u[6]>>4 != 7 || u[8]>>6 != 2 {
				t.Fatalf("token %d %x: not a valid version 7 UUID", i, u)
			}
			if ms := int64(binary.BigEndian.Uint64(u[0:8]) >> 16); ms < before || ms > after {
				t.Fatalf("token %d %x: time %d outside %d..%d", i, u, ms, before, after)
			}
			if i > 0 && bytes.Compare(batch[i-1].Bytes[:], u[:]) >= 0 {
				t.Fatalf("token %d %x does not follow %x", i, u, batch[i-1].Bytes)
			}
			if seen[u] {
				t.Fatalf("token %x made twice", u)
			}
			seen[u] = true
		}
	}
}

// Token lists go to the server as UUIDs (binary); a list with a token that is not one goes
// as it came, for the server to refuse.
func TestTokenArray(t *testing.T) {
	got, ok := tokenArray([]string{"01a23ca0-5974-7000-86fa-d61761d194f6"}).([]pgtype.UUID)
	if !ok || len(got) != 1 || !got[0].Valid || got[0].Bytes[0] != 0x01 || got[0].Bytes[15] != 0xf6 {
		t.Fatalf("tokenArray of a UUID = %v", got)
	}
	bad := []string{"01a23ca0-5974-7000-86fa-d61761d194f6", "not-a-token"}
	if s, ok := tokenArray(bad).([]string); !ok || !slices.Equal(s, bad) {
		t.Fatalf("tokenArray with a bad token = %v; want the strings", s)
	}
	if got, ok := tokenArray(nil).([]pgtype.UUID); !ok || got == nil || len(got) != 0 {
		t.Fatalf("tokenArray(nil) = %#v; want an empty list (an empty array, not NULL)", got)
	}
}

// A fetcher's first claim asks for one item per worker (a fleet that starts together sends
// its first claims in the same instant: the smaller they are, the sooner all are served);
// then two per worker, or prefetchMax while items take less time than the claims.
func TestDepthStartsAtOneItemPerWorker(t *testing.T) {
	p, s := &Pool{}, &served{}
	if d := p.depth(s); d != 1 {
		t.Errorf("before any claim: depth %d, want 1", d)
	}
	s.claims, s.claimAvg = 1, 10*time.Millisecond
	if d := p.depth(s); d != prefetch {
		t.Errorf("after a claim, no item worked: depth %d, want %d", d, prefetch)
	}
	s.worked, s.workAvg = 5, time.Millisecond
	if d := p.depth(s); d != prefetchMax {
		t.Errorf("items shorter than claims: depth %d, want %d", d, prefetchMax)
	}
	s.workAvg = time.Second
	if d := p.depth(s); d != prefetch {
		t.Errorf("items longer than claims: depth %d, want %d", d, prefetch)
	}
}
