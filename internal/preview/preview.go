// Package preview makes the archive's preview images: one JPEG per FITS file, every image
// HDU side by side in extension order, downsampled to fit a maximum side and stretched
// between robust percentiles.
//
// Memory is bounded by the preview, not by the image: the data units are read as they
// stream past (fits.Visit), row by row, and each row is folded into a binned image whose
// side is at most Options.MaxSide, so a 500 MB image (or its .bz2, which cannot seek) needs
// a few rows and the binned images. The stretch is computed from the binned images.
//
// Pixels: BITPIX 8 (unsigned), 16, 32, 64 (signed), -32 and -64 (IEEE), big-endian, scaled
// by BSCALE and BZERO; integer pixels equal to BLANK and non-finite values are left out of
// every mean and of the stretch (a bin with none is drawn black). An image of more than two
// axes shows its first plane. Tile-compressed images (ZIMAGE = T binary tables) are skipped
// with the reason in Result.Skipped; tables are skipped silently.
package preview

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/fitsarchive/agentd/internal/fits"
)

// DefaultMaxSide is the longest side of a preview in pixels.
const DefaultMaxSide = 1024

// Stretch percentiles (FitsStorage's previewer uses the same): values below the low one are
// black, above the high one white.
const (
	lowPercentile  = 0.3
	highPercentile = 99.7
)

var (
	// ErrNoImage is returned for a file with no image HDU to show (only tables, empty HDUs,
	// or tile-compressed images).
	ErrNoImage = errors.New("no image to preview")
	// ErrNoFinitePixel is returned when every pixel of every image is blank or not a number.
	ErrNoFinitePixel = errors.New("no finite pixel to preview")
	// ErrBadImage is returned for an image HDU whose keywords cannot describe its pixels.
	ErrBadImage = errors.New("unreadable image")
)

// Options shapes a preview.
type Options struct {
	MaxSide int // longest side in pixels (default DefaultMaxSide)
	Quality int // JPEG quality, 1–100 (default 85)
}

// Result describes a preview made.
type Result struct {
	Width, Height int
	Images        int      // image HDUs shown
	Skipped       []string // image HDUs not shown, with the reason
}

// Make reads a FITS file from r and writes its preview as a JPEG to w.
func Make(r io.Reader, w io.Writer, opt Options) (Result, error) {
	b := NewBuilder(opt)
	if _, err := fits.Visit(r, b.Visit); err != nil {
		return b.res, err
	}
	return b.Encode(w)
}

// Builder makes a preview from a FITS file that someone else reads: pass Visit to
// fits.Visit (ingest does, so that one read of a file both records it and makes its
// preview), then Encode.
type Builder struct {
	opt    Options
	res    Result
	panels []*binned
}

// NewBuilder starts a preview.
func NewBuilder(opt Options) *Builder {
	if opt.MaxSide <= 0 {
		opt.MaxSide = DefaultMaxSide
	}
	if opt.Quality <= 0 || opt.Quality > 100 {
		opt.Quality = 85
	}
	return &Builder{opt: opt}
}

// Visit takes one HDU's data as it streams past (a fits.Visit callback).
func (b *Builder) Visit(hdu fits.HDU, body io.Reader) error {
	if z, _ := hdu.Header.Bool("ZIMAGE"); z {
		b.res.Skipped = append(b.res.Skipped, fmt.Sprintf("HDU at byte %d: tile-compressed image (ZIMAGE)", hdu.Offset))
		return nil
	}
	im, ok, err := describe(hdu.Header)
	if err != nil {
		return fmt.Errorf("%w: HDU at byte %d: %v", ErrBadImage, hdu.Offset, err)
	}
	if !ok {
		return nil // a table, or no pixels
	}
	p, err := im.read(body, b.opt.MaxSide)
	if err != nil {
		return fmt.Errorf("read the image of the HDU at byte %d: %w", hdu.Offset, err)
	}
	b.panels = append(b.panels, p)
	return nil
}

// Encode writes the preview of the images visited as a JPEG to w. ErrNoImage: none was
// an image to show (Result.Skipped says why, when something was skipped).
func (b *Builder) Encode(w io.Writer) (Result, error) {
	res := b.res
	if len(b.panels) == 0 {
		if len(res.Skipped) > 0 {
			return res, fmt.Errorf("%w: %s", ErrNoImage, strings.Join(res.Skipped, "; "))
		}
		return res, ErrNoImage
	}
	res.Images = len(b.panels)
	img, err := render(b.panels, b.opt.MaxSide)
	if err != nil {
		return res, err
	}
	res.Width, res.Height = img.Rect.Dx(), img.Rect.Dy()
	if err := jpeg.Encode(w, img, &jpeg.Options{Quality: b.opt.Quality}); err != nil {
		return res, fmt.Errorf("write the preview: %w", err)
	}
	return res, nil
}

// imageHDU is what an image HDU's keywords say about its pixels.
type imageHDU struct {
	bitpix        int
	width, height int64
	bzero, bscale float64
	blank         *int64
}

// describe reads an HDU's image keywords; ok is false for an HDU that is no image (a table,
// or no axes).
func describe(h fits.Header) (im imageHDU, ok bool, err error) {
	if x, has := h.String("XTENSION"); has && x != "IMAGE" {
		return im, false, nil
	}
	naxis, _ := h.Int("NAXIS")
	if naxis < 1 {
		return im, false, nil
	}
	bitpix, _ := h.Int("BITPIX")
	switch bitpix {
	case 8, 16, 32, 64, -32, -64:
	default:
		return im, false, fmt.Errorf("BITPIX %d", bitpix)
	}
	im.bitpix = int(bitpix)
	im.width, _ = h.Int("NAXIS1")
	im.height = 1
	if naxis >= 2 {
		im.height, _ = h.Int("NAXIS2")
	}
	if im.width <= 0 || im.height <= 0 {
		return im, false, nil
	}
	im.bzero, im.bscale = 0, 1
	if v, has := h.Float("BZERO"); has {
		im.bzero = v
	}
	if v, has := h.Float("BSCALE"); has {
		im.bscale = v
	}
	if v, has := h.Int("BLANK"); has && bitpix > 0 {
		im.blank = &v
	}
	return im, true, nil
}

// binned is one image folded into bins of factor×factor pixels: the sum and the count of
// the finite pixels of each bin.
type binned struct {
	w, h   int
	sum    []float64
	count  []int32
	factor int64
}

// read streams the first plane of the image row by row and bins it so that neither side
// exceeds maxSide.
func (im imageHDU) read(body io.Reader, maxSide int) (*binned, error) {
	factor := max((im.width+int64(maxSide)-1)/int64(maxSide), (im.height+int64(maxSide)-1)/int64(maxSide), 1)
	b := &binned{factor: factor, w: int((im.width + factor - 1) / factor), h: int((im.height + factor - 1) / factor)}
	b.sum = make([]float64, b.w*b.h)
	b.count = make([]int32, b.w*b.h)
	size := int64(abs(im.bitpix) / 8)
	row := make([]byte, im.width*size)
	for y := int64(0); y < im.height; y++ {
		if _, err := io.ReadFull(body, row); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: the data end at row %d of %d", fits.ErrTruncated, y, im.height)
			}
			return nil, err
		}
		base := int(y/factor) * b.w
		for x := int64(0); x < im.width; x++ {
			v, ok := im.pixel(row[x*size : (x+1)*size])
			if !ok {
				continue
			}
			i := base + int(x/factor)
			b.sum[i] += v
			b.count[i]++
		}
	}
	return b, nil
}

// pixel decodes one big-endian pixel and scales it; ok is false for BLANK and non-finite
// values.
func (im imageHDU) pixel(p []byte) (float64, bool) {
	var raw float64
	switch im.bitpix {
	case 8:
		if im.blank != nil && int64(p[0]) == *im.blank {
			return 0, false
		}
		raw = float64(p[0])
	case 16:
		v := int64(int16(binary.BigEndian.Uint16(p)))
		if im.blank != nil && v == *im.blank {
			return 0, false
		}
		raw = float64(v)
	case 32:
		v := int64(int32(binary.BigEndian.Uint32(p)))
		if im.blank != nil && v == *im.blank {
			return 0, false
		}
		raw = float64(v)
	case 64:
		v := int64(binary.BigEndian.Uint64(p))
		if im.blank != nil && v == *im.blank {
			return 0, false
		}
		raw = float64(v)
	case -32:
		raw = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
	case -64:
		raw = math.Float64frombits(binary.BigEndian.Uint64(p))
	}
	v := im.bzero + im.bscale*raw
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// render lays the binned images side by side (tops aligned), fits the whole within maxSide,
// and stretches it to 8 bits between the robust percentiles of its bins.
func render(panels []*binned, maxSide int) (*image.Gray, error) {
	width, height := 0, 0
	for _, p := range panels {
		width += p.w
		height = max(height, p.h)
	}
	// One more binning when the panels side by side are wider than maxSide.
	f := max((width+maxSide-1)/maxSide, (height+maxSide-1)/maxSide, 1)
	outW, outH := 0, (height+f-1)/f
	for _, p := range panels {
		outW += (p.w + f - 1) / f
	}
	sum := make([]float64, outW*outH)
	count := make([]float64, outW*outH)
	x0 := 0
	for _, p := range panels {
		for y := 0; y < p.h; y++ {
			for x := 0; x < p.w; x++ {
				i := y*p.w + x
				if p.count[i] == 0 {
					continue
				}
				o := (y/f)*outW + x0 + x/f
				sum[o] += p.sum[i]
				count[o] += float64(p.count[i])
			}
		}
		x0 += (p.w + f - 1) / f
	}
	values := make([]float64, 0, len(sum))
	for i := range sum {
		if count[i] > 0 {
			sum[i] /= count[i]
			values = append(values, sum[i])
		}
	}
	if len(values) == 0 {
		return nil, ErrNoFinitePixel
	}
	slices.Sort(values)
	lo := values[int(float64(len(values)-1)*lowPercentile/100)]
	hi := values[int(float64(len(values)-1)*highPercentile/100)]
	img := image.NewGray(image.Rect(0, 0, outW, outH))
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			i := y*outW + x
			if count[i] == 0 {
				continue // blank: black
			}
			img.SetGray(x, y, color.Gray{Y: level(sum[i], lo, hi)})
		}
	}
	return img, nil
}

// level maps v linearly from [lo, hi] to 0–255, clipped; a flat image is mid-grey.
func level(v, lo, hi float64) uint8 {
	if hi <= lo {
		return 128
	}
	t := (v - lo) / (hi - lo)
	return uint8(math.Round(255 * min(max(t, 0), 1)))
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
