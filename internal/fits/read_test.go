package fits

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// rawHeader returns a header made of the given card images, an END card and blank padding.
func rawHeader(cards ...string) []byte {
	var b strings.Builder
	for _, c := range cards {
		b.WriteString(pad(c))
	}
	b.WriteString(pad("END"))
	b.WriteString(strings.Repeat(" ", padding(b.Len())))
	return []byte(b.String())
}

// dataUnit returns n bytes of data (all 0x7f, so they are not mistaken for zeros) padded
// with zeros to whole blocks.
func dataUnit(n int) []byte {
	d := bytes.Repeat([]byte{0x7f}, n)
	return append(d, make([]byte, padding(n))...)
}

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// countingReader counts the bytes read through it and hides any other method of r, so Read
// sees a plain non-seekable stream.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// sampleFile is a primary header without data followed by an IMAGE extension of 10×3 int16
// and a BINTABLE of 4 rows of 12 bytes with a 100-byte heap.
func sampleFile() []byte {
	return cat(
		rawHeader(
			"SIMPLE  =                    T",
			"BITPIX  =                    8",
			"NAXIS   =                    0",
			"EXTEND  =                    T",
			"OBJECT  = 'M31     '",
		),
		rawHeader(
			"XTENSION= 'IMAGE   '",
			"BITPIX  =                   16",
			"NAXIS   =                    2",
			"NAXIS1  =                   10",
			"NAXIS2  =                    3",
			"PCOUNT  =                    0",
			"GCOUNT  =                    1",
			"CCDSUM  = '2 2     '",
		),
		dataUnit(60),
		rawHeader(
			"XTENSION= 'BINTABLE'",
			"BITPIX  =                    8",
			"NAXIS   =                    2",
			"NAXIS1  =                   12",
			"NAXIS2  =                    4",
			"PCOUNT  =                  100",
			"GCOUNT  =                    1",
		),
		dataUnit(148),
	)
}

func TestReadMultiExtension(t *testing.T) {
	t.Parallel()
	file := sampleFile()
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"plain":       func(r io.Reader) io.Reader { return r },
		"one byte":    iotest.OneByteReader,
		"half reads":  iotest.HalfReader,
		"eof at once": iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cr := &countingReader{r: wrap(bytes.NewReader(file))}
			hdus, err := Read(cr)
			if err != nil {
				t.Fatal(err)
			}
			if cr.n != int64(len(file)) {
				t.Errorf("Read consumed %d bytes of %d", cr.n, len(file))
			}
			type shape struct{ off, dataOff, size int64 }
			var got []shape
			for _, h := range hdus {
				got = append(got, shape{h.Offset, h.DataOffset, h.DataSize})
			}
			want := []shape{{0, 2880, 0}, {2880, 5760, 60}, {8640, 11520, 148}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("HDU offsets and sizes = %v, want %v", got, want)
			}
			if s, _ := hdus[0].Header.String("OBJECT"); s != "M31" {
				t.Errorf("OBJECT = %q, want M31", s)
			}
			if s, _ := hdus[1].Header.String("CCDSUM"); s != "2 2" {
				t.Errorf("CCDSUM = %q, want \"2 2\"", s)
			}
			if s, _ := hdus[2].Header.String("XTENSION"); s != "BINTABLE" {
				t.Errorf("XTENSION = %q, want BINTABLE", s)
			}
		})
	}
}

func TestReadDataSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cards []string
		want  int64
	}{
		{"no axes", []string{"BITPIX  = 16", "NAXIS   = 0", "NAXIS1  = 5"}, 0},
		{"float64 cube", []string{"BITPIX  = -64", "NAXIS   = 3", "NAXIS1  = 2", "NAXIS2  = 3", "NAXIS3  = 4"}, 192},
		{"zero axis", []string{"BITPIX  = 32", "NAXIS   = 2", "NAXIS1  = 0", "NAXIS2  = 3"}, 0},
		{"random groups", []string{"BITPIX  = -32", "NAXIS   = 3", "NAXIS1  = 0", "NAXIS2  = 3", "NAXIS3  = 2",
			"GROUPS  = T", "PCOUNT  = 4", "GCOUNT  = 5"}, 4 * 5 * (4 + 6)},
		{"pcount gcount", []string{"BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = 10", "PCOUNT  = 6", "GCOUNT  = 2"}, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := cat(rawHeader(append([]string{"SIMPLE  = T"}, tt.cards...)...), dataUnit(int(tt.want)))
			hdus, err := Read(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if len(hdus) != 1 || hdus[0].DataSize != tt.want {
				t.Fatalf("got %d HDUs, first DataSize %d; want 1 HDU of %d bytes", len(hdus), hdus[0].DataSize, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	primary := rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = 100")
	image := rawHeader("XTENSION= 'IMAGE'", "BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = 3000")
	good := cat(primary, dataUnit(100), image, dataUnit(3000))
	noEnd := []byte(pad("SIMPLE  = T") + strings.Repeat(pad("COMMENT x"), 71))
	tests := []struct {
		name     string
		input    []byte
		wantErr  error // nil: success
		wantHDUs int
	}{
		{"valid", good, nil, 2},
		{"empty", nil, ErrNotFITS, 0},
		{"text", []byte("hello, this is not a FITS file\n"), ErrNotFITS, 0},
		{"long text", bytes.Repeat([]byte("not fits "), 1000), ErrNotFITS, 0},
		{"short prefix", []byte("SIMP"), ErrNotFITS, 0},
		{"extension first", cat(image, dataUnit(3000)), ErrNotFITS, 0},
		{"primary cut in first block", primary[:100], ErrTruncated, 0},
		{"no END", noEnd, ErrTruncated, 0},
		{"no END, cut mid-block", noEnd[:4000], ErrTruncated, 0},
		{"data cut", cat(primary, []byte("abc")), ErrTruncated, 1},
		{"data missing", primary, ErrTruncated, 1},
		{"padding cut", cat(primary, dataUnit(100)[:200]), ErrTruncated, 1},
		{"extension header cut", cat(primary, dataUnit(100), image[:1000]), ErrTruncated, 1},
		{"extension header cut before a card", cat(primary, dataUnit(100), image[:9]), ErrTruncated, 1},
		{"extension data cut", good[:len(good)-3000], ErrTruncated, 2},
		{"trailing zero blocks", cat(good, make([]byte, 3*BlockSize)), nil, 2},
		{"trailing zero bytes", cat(good, make([]byte, 100)), nil, 2},
		{"trailing text", cat(good, []byte("garbage")), ErrTrailingBytes, 2},
		{"trailing partial XTENSION", cat(good, []byte("XTENS")), ErrTrailingBytes, 2},
		{"zeros then text", cat(good, make([]byte, BlockSize+5), []byte("x"), make([]byte, 10000)), ErrTrailingBytes, 2},
		{"zeros then extension", cat(good, make([]byte, BlockSize), image, dataUnit(3000)), ErrTrailingBytes, 2},
		{"trailing blank block", cat(good, bytes.Repeat([]byte(" "), BlockSize)), ErrTrailingBytes, 2},
		{"missing BITPIX", cat(rawHeader("SIMPLE  = T", "NAXIS   = 0"), make([]byte, 5000)), ErrMalformed, 1},
		{"bad BITPIX", cat(rawHeader("SIMPLE  = T", "BITPIX  = 12", "NAXIS   = 0")), ErrMalformed, 1},
		{"missing NAXISn", cat(rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 2", "NAXIS1  = 2")), ErrMalformed, 1},
		{"string NAXIS1", cat(rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = '2'")), ErrMalformed, 1},
		{"negative GCOUNT", cat(rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = 2", "GCOUNT  = -1")), ErrMalformed, 1},
		{"size overflow", cat(rawHeader("SIMPLE  = T", "BITPIX  = 64", "NAXIS   = 2",
			"NAXIS1  = 9000000000000000000", "NAXIS2  = 2")), ErrMalformed, 1},
		{"bad extension", cat(primary, dataUnit(100), rawHeader("XTENSION= 'IMAGE'", "BITPIX  = 8")), ErrMalformed, 2},
		{"huge declared data", cat(rawHeader("SIMPLE  = T", "BITPIX  = 8", "NAXIS   = 1",
			"NAXIS1  = 9000000000000000000")), ErrTruncated, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cr := &countingReader{r: bytes.NewReader(tt.input)}
			hdus, err := Read(cr)
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tt.wantErr)
			}
			if len(hdus) != tt.wantHDUs {
				t.Errorf("Read returned %d HDUs, want %d", len(hdus), tt.wantHDUs)
			}
			if cr.n != int64(len(tt.input)) {
				t.Errorf("Read consumed %d bytes of %d", cr.n, len(tt.input))
			}
			if errors.Is(err, ErrMalformed) && hdus[len(hdus)-1].DataSize != -1 {
				t.Errorf("malformed HDU has DataSize %d, want -1", hdus[len(hdus)-1].DataSize)
			}
		})
	}
}

func TestReadIOError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	file := sampleFile()
	for _, n := range []int{0, 100, BlockSize, 2*BlockSize + 10, 5000, 6000, len(file) - 1} {
		r := io.MultiReader(bytes.NewReader(file[:n]), iotest.ErrReader(boom))
		if _, err := Read(r); !errors.Is(err, boom) {
			t.Errorf("read error after %d bytes: Read = %v, want it wrapped", n, err)
		}
	}
}

// blankBlocks is a header that never ends: a SIMPLE card then blank cards forever.
type blankBlocks struct{ started bool }

func (b *blankBlocks) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		return copy(p, pad("SIMPLE  = T")), nil
	}
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestReadTooLarge(t *testing.T) {
	t.Parallel()
	r := io.LimitReader(&blankBlocks{}, MaxHeaderBytes+10*BlockSize)
	cr := &countingReader{r: r}
	_, err := Read(cr)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read = %v, want ErrTooLarge", err)
	}
	if cr.n != MaxHeaderBytes+10*BlockSize {
		t.Errorf("Read consumed %d bytes, want all %d", cr.n, MaxHeaderBytes+10*BlockSize)
	}
}

// A long string continued past MaxStringBytes is refused with ErrTooLarge, naming the
// keyword; one just under the bound is read whole.
func TestReadLongStringBound(t *testing.T) {
	t.Parallel()
	build := func(n int) []byte {
		cards := []string{"SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0",
			"LONGSTR = 'start&'"}
		seg := strings.Repeat("x", 67) + "&" // 68 bytes of value per CONTINUE card
		for i := 0; i < n; i++ {
			cards = append(cards, "CONTINUE  '"+seg+"'")
		}
		cards = append(cards, "CONTINUE  'end'")
		return rawHeader(cards...)
	}
	if _, err := Read(bytes.NewReader(build(MaxStringBytes/68 + 10))); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "LONGSTR") {
		t.Fatalf("Read of a %d-byte long string = %v, want ErrTooLarge naming LONGSTR", MaxStringBytes+680, err)
	}
	hdus, err := Read(bytes.NewReader(build(MaxStringBytes/68 - 10)))
	if err != nil {
		t.Fatalf("Read of a long string under the bound: %v", err)
	}
	if s, _ := hdus[0].Header.Cards[3].Value.(string); len(s) != len("start")+(MaxStringBytes/68-10)*67+len("end") {
		t.Fatalf("long string of %d bytes, want it whole", len(s))
	}
}
