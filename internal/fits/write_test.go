package fits

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestWriteCardImages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		card Card
		want []string // unpadded card images
	}{
		{"logical", Card{Keyword: "SIMPLE", Value: true}, []string{"SIMPLE  =                    T"}},
		{"int", Card{Keyword: "BITPIX", Value: int64(-32), Comment: "float"}, []string{"BITPIX  =                  -32 / float"}},
		{"go int", Card{Keyword: "NAXIS", Value: 2}, []string{"NAXIS   =                    2"}},
		{"float", Card{Keyword: "EXPTIME", Value: 30.5}, []string{"EXPTIME =                 30.5"}},
		{"integral float", Card{Keyword: "X", Value: 3.0}, []string{"X       =                  3.0"}},
		{"large float", Card{Keyword: "X", Value: 1.5e30}, []string{"X       =              1.5E+30"}},
		{"complex", Card{Keyword: "Z", Value: complex(1, -0.5)}, []string{"Z       =          (1.0, -0.5)"}},
		{"short string padded", Card{Keyword: "XTENSION", Value: "IMAGE"}, []string{"XTENSION= 'IMAGE   '"}},
		{"quote escaped", Card{Keyword: "OBSERVER", Value: "O'HARA", Comment: "c"}, []string{"OBSERVER= 'O''HARA ' / c"}},
		{"undefined", Card{Keyword: "U", Comment: "unknown"}, []string{"U       =                      / unknown"}},
		{"undefined bare", Card{Keyword: "U"}, []string{"U       = " + strings.Repeat(" ", 20)}},
		{"comment", Card{Keyword: "COMMENT", Comment: "hello"}, []string{"COMMENT hello"}},
		{"blank", Card{Comment: "   text"}, []string{"           text"}},
		{"hierarch", Card{Keyword: "ESO DET CHIP1 NAME", Value: "x", Comment: "c"}, []string{"HIERARCH ESO DET CHIP1 NAME = 'x       ' / c"}},
		{"hierarch int", Card{Keyword: "ESO DET NX", Value: int64(4)}, []string{"HIERARCH ESO DET NX = 4"}},
		{"long string", Card{Keyword: "LONG", Value: strings.Repeat("a", 100)}, []string{
			"LONG    = '" + strings.Repeat("a", 67) + "&'",
			"CONTINUE  '" + strings.Repeat("a", 33) + "'",
		}},
		{"quote not split", Card{Keyword: "LONG", Value: strings.Repeat("a", 66) + "'b"}, []string{
			"LONG    = '" + strings.Repeat("a", 66) + "&'",
			"CONTINUE  '''b'",
		}},
		{"comment moved to its own card", Card{Keyword: "S", Value: strings.Repeat("a", 60), Comment: strings.Repeat("c", 20)}, []string{
			"S       = '" + strings.Repeat("a", 60) + "&'",
			"CONTINUE  '' / " + strings.Repeat("c", 20),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := encodeCard(tt.card)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("encodeCard(%#v)\n got %q\nwant %q", tt.card, got, tt.want)
			}
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		card Card
	}{
		{"END", Card{Keyword: "END"}},
		{"CONTINUE", Card{Keyword: "CONTINUE", Value: "x"}},
		{"HIERARCH", Card{Keyword: "HIERARCH", Value: "x"}},
		{"commentary with value", Card{Keyword: "HISTORY", Value: "x"}},
		{"long commentary", Card{Keyword: "COMMENT", Comment: strings.Repeat("x", 73)}},
		{"keyword with equals", Card{Keyword: "A=B", Value: int64(1)}},
		{"keyword with double space", Card{Keyword: "ESO  DET", Value: int64(1)}},
		{"NaN", Card{Keyword: "X", Value: math.NaN()}},
		{"infinity", Card{Keyword: "X", Value: math.Inf(1)}},
		{"unsupported type", Card{Keyword: "X", Value: float32(1)}},
		{"non-ASCII string", Card{Keyword: "X", Value: "café"}},
		{"non-ASCII comment", Card{Keyword: "X", Value: int64(1), Comment: "café"}},
		{"comment too long", Card{Keyword: "X", Value: int64(1), Comment: strings.Repeat("c", 48)}},
		{"comment too long after long string", Card{Keyword: "X", Value: strings.Repeat("a", 80), Comment: strings.Repeat("c", 66)}},
		{"hierarch keyword too long for a string", Card{Keyword: strings.Repeat("K", 70), Value: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := WriteHDU(&buf, []Card{{Keyword: "SIMPLE", Value: true}, tt.card}, nil)
			if !errors.Is(err, ErrUnencodable) {
				t.Fatalf("WriteHDU = %v, want ErrUnencodable", err)
			}
			if buf.Len() != 0 {
				t.Errorf("WriteHDU wrote %d bytes before refusing", buf.Len())
			}
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789'&", 30)
	primary := []Card{
		{Keyword: "SIMPLE", Value: true, Comment: "conforms to FITS"},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)},
		{Keyword: "NAXIS1", Value: int64(100)},
		{Keyword: "NAXIS2", Value: int64(3)},
		{Keyword: "EXTEND", Value: true},
		{Keyword: "OBJECT", Value: "  O'Hara's nebula", Comment: "leading blanks kept"},
		{Keyword: "EMPTY", Value: ""},
		{Keyword: "AMP", Value: "g&"},
		{Keyword: "LONG", Value: long, Comment: "a long string"},
		{Keyword: "LONGC", Value: strings.Repeat("x", 62), Comment: strings.Repeat("y", 40)},
		{Keyword: "LONGAMP", Value: strings.Repeat("z", 67) + "&"},
		{Keyword: "F", Value: false},
		{Keyword: "RA", Value: 10.684708333},
		{Keyword: "TINY", Value: -1.5e-300},
		{Keyword: "MAXINT", Value: int64(math.MaxInt64)},
		{Keyword: "Z", Value: complex(3, 4)},
		{Keyword: "UNDEF", Comment: "not known"},
		{Keyword: "COMMENT", Comment: "a comment"},
		{Keyword: "HISTORY", Comment: "a history"},
		{Keyword: "", Comment: "blank keyword"},
		{Keyword: "ESO DET CHIP1 NAME", Value: "CCD42", Comment: "chip"},
		{Keyword: "ESO LONG", Value: long},
		{Keyword: "lower", Value: int64(1)},
	}
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i)
	}
	ext := []Card{
		{Keyword: "XTENSION", Value: "IMAGE"},
		{Keyword: "BITPIX", Value: int64(-64)},
		{Keyword: "NAXIS", Value: int64(1)},
		{Keyword: "NAXIS1", Value: int64(400)},
		{Keyword: "PCOUNT", Value: int64(0)},
		{Keyword: "GCOUNT", Value: int64(1)},
	}
	var buf bytes.Buffer
	if err := WriteHDU(&buf, primary, data); err != nil {
		t.Fatal(err)
	}
	if err := WriteHDU(&buf, ext, make([]byte, 3200)); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%BlockSize != 0 {
		t.Fatalf("file is %d bytes, not whole blocks", buf.Len())
	}
	file := buf.Bytes()
	hdus, err := Read(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(hdus) != 2 || hdus[0].DataSize != 600 || hdus[1].DataSize != 3200 {
		t.Fatalf("got %d HDUs %+v", len(hdus), hdus)
	}
	for i, want := range [][]Card{primary, ext} {
		got := hdus[i].Header.Cards
		if len(got) != len(want) {
			t.Fatalf("HDU %d: %d cards, want %d", i, len(got), len(want))
		}
		for j, w := range want {
			g := got[j]
			if ws, ok := w.Value.(string); ok {
				w.Value = strings.TrimRight(ws, " ")
			}
			if wi, ok := w.Value.(int); ok {
				w.Value = int64(wi)
			}
			if g.Keyword != w.Keyword || !reflect.DeepEqual(g.Value, w.Value) || g.Comment != w.Comment || g.Problem != "" {
				t.Errorf("HDU %d card %d = %#v, want %#v", i, j, g, w)
			}
		}
	}
}
