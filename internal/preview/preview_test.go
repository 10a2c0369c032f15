package preview

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/fitsarchive/agentd/internal/fits"
)

// encoder writes a physical value as the raw pixel of a BITPIX, given BZERO and BSCALE.
type encoder struct {
	bitpix        int
	bzero, bscale float64
}

func (e encoder) put(buf []byte, v float64) []byte {
	raw := (v - e.bzero) / e.bscale
	switch e.bitpix {
	case 8:
		return append(buf, byte(math.Round(raw)))
	case 16:
		return binary.BigEndian.AppendUint16(buf, uint16(int16(math.Round(raw))))
	case 32:
		return binary.BigEndian.AppendUint32(buf, uint32(int32(math.Round(raw))))
	case 64:
		return binary.BigEndian.AppendUint64(buf, uint64(int64(math.Round(raw))))
	case -32:
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(raw)))
	default:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(raw))
	}
}

// imageFile is an image extension (or the primary HDU) of w×h pixels whose physical values
// are value(x, y).
func imageFile(t *testing.T, primary bool, e encoder, w, h int, extra []fits.Card, value func(x, y int) float64) []byte {
	t.Helper()
	cards := []fits.Card{{Keyword: "XTENSION", Value: "IMAGE"}}
	if primary {
		cards = []fits.Card{{Keyword: "SIMPLE", Value: true}}
	}
	cards = append(cards, fits.Card{Keyword: "BITPIX", Value: int64(e.bitpix)}, fits.Card{Keyword: "NAXIS", Value: int64(2)},
		fits.Card{Keyword: "NAXIS1", Value: int64(w)}, fits.Card{Keyword: "NAXIS2", Value: int64(h)})
	if !primary {
		cards = append(cards, fits.Card{Keyword: "PCOUNT", Value: int64(0)}, fits.Card{Keyword: "GCOUNT", Value: int64(1)})
	}
	cards = append(cards, fits.Card{Keyword: "BZERO", Value: e.bzero}, fits.Card{Keyword: "BSCALE", Value: e.bscale})
	cards = append(cards, extra...)
	var data []byte
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			data = e.put(data, value(x, y))
		}
	}
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, cards, data); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func emptyPrimary(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, []fits.Card{{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(0)}, {Keyword: "EXTEND", Value: true}}, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode(t *testing.T, jpg []byte) *image.Gray {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("the preview is no JPEG: %v", err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("the preview is %T, want grey", img)
	}
	return g
}

func make1(t *testing.T, file []byte, opt Options) (Result, *image.Gray) {
	t.Helper()
	var out bytes.Buffer
	res, err := Make(bytes.NewReader(file), &out, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res, decode(t, out.Bytes())
}

// A horizontal gradient, in every BITPIX with its scaling, previews as the same image:
// binned to the maximum side, dark on the left, bright on the right, rising steadily.
func TestGradientInEveryBITPIX(t *testing.T) {
	gradient := func(x, y int) float64 { return float64(x) } // 0…299
	var first *image.Gray
	for _, e := range []encoder{{8, 0, 2}, {16, 32768, 1}, {32, 0, 0.5}, {64, -1000, 1}, {-32, 0, 1}, {-64, 10, 3}} {
		res, g := make1(t, imageFile(t, true, e, 300, 200, nil, gradient), Options{MaxSide: 100})
		if res.Width != 100 || res.Height != 67 || res.Images != 1 {
			t.Fatalf("BITPIX %d: %+v, want 100×67 from one image", e.bitpix, res)
		}
		row := 30
		if l, r := g.GrayAt(1, row).Y, g.GrayAt(98, row).Y; l > 10 || r < 245 {
			t.Errorf("BITPIX %d: left %d, right %d; want near black and near white", e.bitpix, l, r)
		}
		for x := 10; x < 90; x += 10 {
			if g.GrayAt(x, row).Y >= g.GrayAt(x+10, row).Y {
				t.Errorf("BITPIX %d: not rising at x=%d: %d then %d", e.bitpix, x, g.GrayAt(x, row).Y, g.GrayAt(x+10, row).Y)
			}
		}
		if mid := g.GrayAt(50, row).Y; mid < 110 || mid > 146 {
			t.Errorf("BITPIX %d: the middle is %d, want mid-grey", e.bitpix, mid)
		}
		if first == nil {
			first = g
			continue
		}
		for i := range g.Pix {
			if d := int(g.Pix[i]) - int(first.Pix[i]); d > 3 || d < -3 {
				t.Fatalf("BITPIX %d differs from BITPIX 8 at pixel %d: %d vs %d", e.bitpix, i, g.Pix[i], first.Pix[i])
			}
		}
	}
}

// Blank pixels (BLANK for integers, NaN for floats) are black and left out of the stretch:
// a huge BLANK value does not flatten the rest.
func TestBlankPixelsAreLeftOut(t *testing.T) {
	const blank = 32767
	value := func(x, y int) float64 {
		if x < 20 {
			return blank
		}
		return float64(x)
	}
	res, g := make1(t, imageFile(t, true, encoder{16, 0, 1}, 100, 50, []fits.Card{{Keyword: "BLANK", Value: int64(blank)}}, value),
		Options{MaxSide: 200})
	if res.Width != 100 {
		t.Fatalf("%+v", res)
	}
	if g.GrayAt(5, 25).Y > 8 || g.GrayAt(97, 25).Y < 245 || g.GrayAt(22, 25).Y > 15 {
		t.Errorf("blank %d, left of the data %d, right %d; want black, near black, near white",
			g.GrayAt(5, 25).Y, g.GrayAt(22, 25).Y, g.GrayAt(97, 25).Y)
	}
	nan := func(x, y int) float64 {
		if y < 10 {
			return math.NaN()
		}
		return float64(x)
	}
	_, g = make1(t, imageFile(t, true, encoder{-32, 0, 1}, 100, 50, nil, nan), Options{MaxSide: 200})
	if g.GrayAt(50, 2).Y > 8 || g.GrayAt(97, 40).Y < 245 {
		t.Errorf("NaN rows %d, data right %d; want black and near white", g.GrayAt(50, 2).Y, g.GrayAt(97, 40).Y)
	}
	var out bytes.Buffer
	if _, err := Make(bytes.NewReader(imageFile(t, true, encoder{-64, 0, 1}, 10, 10, nil, func(int, int) float64 { return math.NaN() })),
		&out, Options{}); !errors.Is(err, ErrNoFinitePixel) {
		t.Fatalf("a NaN-only image: %v, want ErrNoFinitePixel", err)
	}
}

// The extensions of a multi-extension file sit side by side in file order; a table and a
// tile-compressed image are not shown, the latter with its reason.
func TestExtensionsSideBySide(t *testing.T) {
	dark := func(int, int) float64 { return 100 }
	bright := func(int, int) float64 { return 5000 }
	var table bytes.Buffer
	if err := fits.WriteHDU(&table, []fits.Card{{Keyword: "XTENSION", Value: "BINTABLE"}, {Keyword: "BITPIX", Value: int64(8)},
		{Keyword: "NAXIS", Value: int64(2)}, {Keyword: "NAXIS1", Value: int64(8)}, {Keyword: "NAXIS2", Value: int64(3)},
		{Keyword: "PCOUNT", Value: int64(0)}, {Keyword: "GCOUNT", Value: int64(1)}, {Keyword: "TFIELDS", Value: int64(1)},
		{Keyword: "ZIMAGE", Value: true}}, make([]byte, 24)); err != nil {
		t.Fatal(err)
	}
	file := append(emptyPrimary(t), imageFile(t, false, encoder{16, 0, 1}, 40, 80, nil, dark)...)
	file = append(file, table.Bytes()...)
	file = append(file, imageFile(t, false, encoder{16, 0, 1}, 40, 80, nil, bright)...)
	res, g := make1(t, file, Options{MaxSide: 100})
	if res.Width != 80 || res.Height != 80 || res.Images != 2 || len(res.Skipped) != 1 {
		t.Fatalf("%+v; want two 40×80 panels side by side and the compressed image skipped", res)
	}
	if l, r := g.GrayAt(20, 40).Y, g.GrayAt(60, 40).Y; l >= r {
		t.Errorf("left panel %d, right %d; want the first extension (darker) on the left", l, r)
	}
	var out bytes.Buffer
	only := append(emptyPrimary(t), table.Bytes()...)
	if _, err := Make(bytes.NewReader(only), &out, Options{}); !errors.Is(err, ErrNoImage) {
		t.Fatalf("a file with only a compressed image: %v, want ErrNoImage", err)
	}
}

// A file cut inside its pixels is an error that says so, not a preview of half an image.
func TestTruncatedImage(t *testing.T) {
	file := imageFile(t, true, encoder{16, 0, 1}, 100, 100, nil, func(x, y int) float64 { return float64(x) })
	var out bytes.Buffer
	_, err := Make(bytes.NewReader(file[:2880+5000]), &out, Options{})
	if !errors.Is(err, fits.ErrTruncated) {
		t.Fatalf("a cut file: %v, want ErrTruncated", err)
	}
	if out.Len() != 0 {
		t.Fatal("a cut file wrote a preview")
	}
}

// streamedImage is a FITS file of one square 16-bit image whose pixels are generated as
// they are read: no copy of the image exists in memory.
func streamedImage(t testing.TB, side int) io.Reader {
	var head bytes.Buffer
	if err := fits.WriteHDU(&head, []fits.Card{{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)}, {Keyword: "NAXIS1", Value: int64(side)}, {Keyword: "NAXIS2", Value: int64(side)}}, nil); err != nil {
		t.Fatal(err)
	}
	size := int64(side) * int64(side) * 2
	pad := (fits.BlockSize - size%fits.BlockSize) % fits.BlockSize
	return io.MultiReader(&head, &pixelStream{left: size}, io.LimitReader(zeros{}, pad))
}

type pixelStream struct{ n, left int64 }

func (p *pixelStream) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := 0; i < n; i++ {
		b[i] = byte((p.n + int64(i)) * 7 % 251)
	}
	p.n += int64(n)
	p.left -= int64(n)
	return n, nil
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// Memory does not grow with the image: previews of a 32 MB and a 128 MB image (streamed,
// never held) allocate about the same, and far less than either.
func TestMemoryDoesNotGrowWithTheImage(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 160 MB of pixels")
	}
	alloc := func(side int) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Make(streamedImage(t, side), io.Discard, Options{MaxSide: 512}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(4096), alloc(8192) // 32 MB and 128 MB of pixels
	t.Logf("allocated %d kB for the 32 MB image, %d kB for the 128 MB one", small/1024, large/1024)
	if large > 16<<20 || large > 2*small {
		t.Fatalf("allocated %d bytes for a 128 MB image and %d for a 32 MB one: memory grows with the image", large, small)
	}
}
