package fits

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func FuzzRead(f *testing.F) {
	f.Add(sampleFile())
	var buf bytes.Buffer
	if err := WriteHDU(&buf, []Card{
		{Keyword: "SIMPLE", Value: true},
		{Keyword: "BITPIX", Value: int64(8)},
		{Keyword: "NAXIS", Value: int64(1)},
		{Keyword: "NAXIS1", Value: int64(5)},
		{Keyword: "LONG", Value: strings.Repeat("ab'", 40), Comment: "long"},
		{Keyword: "ESO DET NAME", Value: "x"},
		{Keyword: "Z", Value: complex(1, 2)},
		{Keyword: "D", Value: 1.5e3},
		{Keyword: "COMMENT", Comment: "c"},
	}, []byte("hello")); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(cat(sampleFile(), make([]byte, 100)))
	f.Add(rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 0", "S       = 'ab&'", "CONTINUE  'cd'"))
	f.Add([]byte("SIMPLE  = T"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countingReader{r: bytes.NewReader(in)}
		hdus, err := Read(cr)
		if cr.n != int64(len(in)) {
			t.Fatalf("Read consumed %d bytes of %d (err %v)", cr.n, len(in), err)
		}
		if err != nil {
			known := false
			for _, e := range []error{ErrNotFITS, ErrTruncated, ErrMalformed, ErrTooLarge, ErrTrailingBytes} {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("Read returned an unexpected error: %v", err)
			}
		} else if len(hdus) == 0 {
			t.Fatal("Read succeeded without HDUs")
		}
		end := int64(0)
		for i, h := range hdus {
			if h.Offset != end || h.Offset%BlockSize != 0 || h.DataOffset%BlockSize != 0 || h.DataOffset <= h.Offset {
				t.Fatalf("HDU %d: bad offsets %d, %d after end %d", i, h.Offset, h.DataOffset, end)
			}
			if len(h.Header.Cards) == 0 {
				t.Fatalf("HDU %d has no cards", i)
			}
			first := "XTENSION"
			if i == 0 {
				first = "SIMPLE"
			}
			if h.Header.Cards[0].Keyword != first {
				t.Fatalf("HDU %d starts with %q", i, h.Header.Cards[0].Keyword)
			}
			for _, c := range h.Header.Cards {
				if len(c.Raw) == 0 || len(c.Raw)%CardSize != 0 {
					t.Fatalf("HDU %d card %q has a raw image of %d bytes", i, c.Keyword, len(c.Raw))
				}
				switch c.Value.(type) {
				case nil, string, bool, int64, float64, complex128:
				default:
					t.Fatalf("card %q has a value of type %T", c.Keyword, c.Value)
				}
			}
			if h.DataSize < 0 {
				if h.DataSize != -1 || i != len(hdus)-1 || !errors.Is(err, ErrMalformed) {
					t.Fatalf("HDU %d has DataSize %d (err %v)", i, h.DataSize, err)
				}
				break
			}
			end = h.DataOffset + h.DataSize + int64(padding(int(h.DataSize%BlockSize)))
			if err == nil && end > int64(len(in)) {
				t.Fatalf("HDU %d ends at %d, past the input's %d bytes", i, end, len(in))
			}
		}
	})
}
