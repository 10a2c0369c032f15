// Package fits reads the headers of FITS files from a stream and writes simple HDUs. It
// parses every header card (strings, logicals, integers, floats, complex numbers, undefined
// values, commentary cards, OGIP CONTINUE long strings and ESO HIERARCH cards), computes the
// size of each data unit from BITPIX, NAXISn, PCOUNT and GCOUNT (random groups included),
// and skips data units by reading them, so it works on non-seekable streams with memory
// bounded by the headers.
//
// # Caveats
//
// Read consumes its whole input whatever happens, unless the reader itself fails, so that a
// caller hashing the stream always hashes the whole file. It returns the HDUs whose headers
// it read completely along with any error.
//
// A card that breaks the standard does not stop Read: it is kept with a non-empty Problem and
// whatever value could be salvaged. Structural faults do stop it: a first card other than
// SIMPLE (ErrNotFITS), a header or data unit cut short, including the padding of the last
// data unit (ErrTruncated), a header whose data size cannot be computed (ErrMalformed),
// headers larger than MaxHeaderBytes (ErrTooLarge), and bytes after the last HDU that are
// neither an XTENSION header nor zeros (ErrTrailingBytes; every HDU is still returned, so a
// tolerant caller may accept the result). Trailing zero bytes, in whole blocks or not, are
// accepted silently.
//
// Keywords are matched exactly (case-sensitively) and, when a keyword appears more than once,
// Header's getters return the first card. Trailing blanks of string values are not
// significant and are dropped; leading blanks are kept. A string ending in '&' is joined with
// the strings of the CONTINUE cards that follow it, without the '&'s; when no CONTINUE card
// follows, the '&' stays in the value. Integers that do not fit an int64 are kept as float64
// with a Problem.
package fits

import (
	"errors"
	"math"
	"strings"
)

// BlockSize is the size in bytes of a FITS block: headers and data units are padded to it.
const BlockSize = 2880

// CardSize is the size in bytes of one header card.
const CardSize = 80

// MaxHeaderBytes bounds the total size of all headers in one file that Read accepts (8192
// blocks, about 295,000 cards). It bounds Read's memory: data units are never held.
const MaxHeaderBytes = 8192 * BlockSize

// MaxStringBytes bounds one long string value joined from CONTINUE cards (ErrTooLarge past
// it): a real one is a few hundred bytes; without a bound a header could carry megabytes in
// one keyword.
const MaxStringBytes = 64 << 10

var (
	// ErrNotFITS is returned when the input is empty or does not start with a SIMPLE card.
	ErrNotFITS = errors.New("not a FITS file")
	// ErrTruncated is returned when the input ends inside a header (no END card), inside a
	// data unit or inside the padding after a data unit.
	ErrTruncated = errors.New("truncated FITS file")
	// ErrMalformed is returned when a header lacks valid BITPIX, NAXIS, NAXISn, PCOUNT or
	// GCOUNT values, so the size of its data unit is unknown.
	ErrMalformed = errors.New("malformed FITS header")
	// ErrTooLarge is returned when the headers of a file exceed MaxHeaderBytes.
	ErrTooLarge = errors.New("FITS headers too large")
	// ErrTrailingBytes is returned when bytes after the last HDU are neither an XTENSION
	// header nor zeros; the HDUs before them are complete.
	ErrTrailingBytes = errors.New("unexpected bytes after the last HDU")
	// ErrUnencodable is returned by WriteHDU when a card cannot be written: a reserved or
	// invalid keyword, an unsupported value type, NaN or infinity, non-ASCII text, or a value
	// and comment too long for the card.
	ErrUnencodable = errors.New("cannot encode FITS card")
)

// Card is one logical header card. A long string written over several CONTINUE cards is one
// Card.
type Card struct {
	// Keyword is the keyword without trailing blanks; for a HIERARCH card, the words between
	// HIERARCH and '=' joined by single spaces (e.g. "ESO DET CHIP1 NAME").
	Keyword string
	// Value is nil (no value, or an undefined one), string, bool, int64, float64 or
	// complex128.
	Value any
	// Comment is the text after '/', trimmed; for commentary cards (COMMENT, HISTORY, blank
	// keyword, or any card without a value indicator) it is the text after column 8 with
	// trailing blanks removed.
	Comment string
	// Problem says why the card breaks the standard; it is empty for a good card. Read sets
	// it; WriteHDU ignores it.
	Problem string
	// Raw is the card image as read (80 characters per physical card, concatenated for a
	// long string). Read sets it; WriteHDU ignores it.
	Raw string
}

// Header is the cards of one header, in order, without the END card.
type Header struct {
	Cards []Card
}

// HDU is one header and data unit.
type HDU struct {
	Header Header
	// Offset is the byte offset of the header's first block in the file.
	Offset int64
	// DataOffset is the byte offset of the data unit (the end of the header's padding).
	DataOffset int64
	// DataSize is the data unit's size in bytes without its padding. It is -1 only when Read
	// returns ErrMalformed for this HDU.
	DataSize int64
}

// Get returns the value of the first card with the keyword, and whether there is such a
// card. The value is nil for commentary cards and undefined values.
func (h Header) Get(key string) (any, bool) {
	for _, c := range h.Cards {
		if c.Keyword == key {
			return c.Value, true
		}
	}
	return nil, false
}

// String returns the first card's value if it is a string.
func (h Header) String(key string) (string, bool) {
	v, _ := h.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Bool returns the first card's value if it is a logical.
func (h Header) Bool(key string) (bool, bool) {
	v, _ := h.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// Float returns the first card's value as a float64 if it is a float, an integer, or a
// string holding a finite number in FITS syntax (surrounding blanks allowed).
func (h Header) Float(key string) (float64, bool) {
	v, _ := h.Get(key)
	if s, ok := v.(string); ok {
		n, ok, _ := parseNumber(strings.TrimSpace(s))
		if !ok {
			return 0, false
		}
		v = n
	}
	switch n := v.(type) {
	case float64:
		if !math.IsInf(n, 0) {
			return n, true
		}
	case int64:
		return float64(n), true
	}
	return 0, false
}

// Int returns the first card's value as an int64 if it is an integer, a float with an
// integral value in range, or a string holding such a number.
func (h Header) Int(key string) (int64, bool) {
	v, _ := h.Get(key)
	if s, ok := v.(string); ok {
		n, ok, _ := parseNumber(strings.TrimSpace(s))
		if !ok {
			return 0, false
		}
		v = n
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && n >= -(1<<63) && n < 1<<63 {
			return int64(n), true
		}
	}
	return 0, false
}
