package fits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Read reads every HDU of a FITS file from r: it parses the headers and skips the data units
// by reading them, never holding one in memory, and reads r to its end. On error it returns
// the HDUs whose headers were read completely so far, with the error.
func Read(r io.Reader) ([]HDU, error) { return Visit(r, nil) }

// Visit is Read that also hands each non-empty data unit, as it streams past, to data: a
// reader of at most the HDU's DataSize bytes, in file order. Whatever data leaves unread is
// skipped. An error from data stops the read and is returned as it is (the rest of the
// input unread); a data unit cut short reads as io.ErrUnexpectedEOF or io.EOF there.
func Visit(r io.Reader, data func(hdu HDU, body io.Reader) error) ([]HDU, error) {
	rd := &reader{r: r}
	n, err := rd.block()
	switch {
	case err == io.EOF:
		return nil, fmt.Errorf("%w: empty input", ErrNotFITS)
	case err != nil && err != io.ErrUnexpectedEOF:
		return nil, rd.ioError(err)
	case !bytes.HasPrefix(rd.buf[:n], []byte("SIMPLE  =")):
		return nil, rd.drain(fmt.Errorf("%w: the first card is not SIMPLE", ErrNotFITS))
	case err != nil:
		return nil, fmt.Errorf("%w: input ends inside the primary header after %d bytes", ErrTruncated, n)
	}
	var hdus []HDU
	for {
		i := len(hdus)
		start := rd.off - BlockSize
		h, err := rd.header(i)
		if err != nil {
			return hdus, err
		}
		size, err := dataSize(h, i == 0)
		hdus = append(hdus, HDU{Header: h, Offset: start, DataOffset: rd.off, DataSize: size})
		if err != nil {
			hdus[i].DataSize = -1
			return hdus, rd.drain(fmt.Errorf("%w: HDU %d at byte %d: %v", ErrMalformed, i, start, err))
		}
		var consumed int64
		if data != nil && size > 0 {
			body := &io.LimitedReader{R: rd.r, N: size}
			err := data(hdus[i], body)
			consumed = size - body.N
			rd.off += consumed
			if err != nil {
				return hdus, err
			}
		}
		if err := rd.skip(i, size, consumed); err != nil {
			return hdus, err
		}
		n, err := rd.block()
		switch {
		case err == io.EOF:
			return hdus, nil
		case err != nil && err != io.ErrUnexpectedEOF:
			return hdus, rd.ioError(err)
		case !bytes.HasPrefix(rd.buf[:n], []byte("XTENSION=")):
			return hdus, rd.trailing(n)
		case err != nil:
			return hdus, fmt.Errorf("%w: input ends inside the header of HDU %d at byte %d", ErrTruncated, i+1, rd.off-int64(n))
		}
	}
}

// reader reads a FITS stream block by block, counting bytes.
type reader struct {
	r           io.Reader
	off         int64 // bytes read so far
	headerBytes int64 // header bytes read so far
	buf         [BlockSize]byte
}

// block reads the next block into buf. Like io.ReadFull, it returns io.EOF when no byte was
// left and io.ErrUnexpectedEOF after a partial block.
func (rd *reader) block() (int, error) {
	n, err := io.ReadFull(rd.r, rd.buf[:])
	rd.off += int64(n)
	return n, err
}

// header parses the header whose first block is in buf, reading more blocks up to END.
func (rd *reader) header(i int) (Header, error) {
	start := rd.off - BlockSize
	var b headerBuilder
	for {
		rd.headerBytes += BlockSize
		if rd.headerBytes > MaxHeaderBytes {
			return Header{}, rd.drain(fmt.Errorf("%w: more than %d header bytes at HDU %d", ErrTooLarge, MaxHeaderBytes, i))
		}
		s := string(rd.buf[:])
		for j := 0; j < BlockSize; j += CardSize {
			end := b.add(s[j : j+CardSize])
			if b.tooLong != "" {
				return Header{}, rd.drain(fmt.Errorf("%w: the long string of %s at HDU %d exceeds %d bytes", ErrTooLarge, b.tooLong, i, MaxStringBytes))
			}
			if end {
				return Header{Cards: b.cards}, nil
			}
		}
		_, err := rd.block()
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return Header{}, fmt.Errorf("%w: header of HDU %d at byte %d has no END card", ErrTruncated, i, start)
		case err != nil:
			return Header{}, rd.ioError(err)
		}
	}
}

// skip reads past the data unit of HDU i and its padding, of which consumed bytes were read.
func (rd *reader) skip(i int, size, consumed int64) error {
	padded := size + (BlockSize-size%BlockSize)%BlockSize
	start := rd.off - consumed
	n, err := io.CopyN(io.Discard, rd.r, padded-consumed)
	rd.off += n
	n += consumed
	switch {
	case err == nil:
		return nil
	case err != io.EOF:
		return rd.ioError(err)
	case n < size:
		return fmt.Errorf("%w: data unit of HDU %d at byte %d has %d of its %d bytes", ErrTruncated, i, start, n, size)
	default:
		return fmt.Errorf("%w: padding after the data unit of HDU %d at byte %d has %d of its %d bytes", ErrTruncated, i, start, n-size, padded-size)
	}
}

// trailing checks the bytes after the last HDU, n of which are in buf: zeros are fine,
// anything else is ErrTrailingBytes. It reads to the end of the input.
func (rd *reader) trailing(n int) error {
	for {
		if i := bytes.IndexFunc(rd.buf[:n], func(r rune) bool { return r != 0 }); i >= 0 {
			at := rd.off - int64(n) + int64(i)
			return rd.drain(fmt.Errorf("%w: non-zero byte at %d", ErrTrailingBytes, at))
		}
		var err error
		n, err = rd.block()
		switch {
		case err == io.EOF:
			return nil
		case err != nil && err != io.ErrUnexpectedEOF:
			return rd.ioError(err)
		}
	}
}

// drain reads the rest of the input and returns err, joined with a read error if any.
func (rd *reader) drain(err error) error {
	n, derr := io.Copy(io.Discard, rd.r)
	rd.off += n
	if derr != nil {
		return errors.Join(err, rd.ioError(derr))
	}
	return err
}

// ioError wraps an error of the underlying reader.
func (rd *reader) ioError(err error) error {
	return fmt.Errorf("read FITS stream at byte %d: %w", rd.off, err)
}

// dataSize computes the unpadded size of the data unit described by h:
// |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn), leaving NAXIS1 out of the product
// for random groups (a primary header with GROUPS = T and NAXIS1 = 0).
func dataSize(h Header, primary bool) (int64, error) {
	bitpix, ok := intValue(h, "BITPIX")
	if !ok {
		return 0, errors.New("BITPIX missing or not an integer")
	}
	switch bitpix {
	case 8, 16, 32, 64, -32, -64:
	default:
		return 0, fmt.Errorf("BITPIX = %d is not one of 8, 16, 32, 64, -32, -64", bitpix)
	}
	naxis, ok := intValue(h, "NAXIS")
	if !ok || naxis < 0 || naxis > 999 {
		return 0, errors.New("NAXIS missing or not an integer from 0 to 999")
	}
	if naxis == 0 {
		return 0, nil
	}
	groups, _ := h.Bool("GROUPS")
	size := int64(1)
	for j := int64(1); j <= naxis; j++ {
		key := "NAXIS" + strconv.FormatInt(j, 10)
		v, ok := intValue(h, key)
		if !ok || v < 0 {
			return 0, fmt.Errorf("%s missing or not a non-negative integer", key)
		}
		if j == 1 && v == 0 && primary && groups {
			continue
		}
		if size, ok = mul(size, v); !ok {
			return 0, errors.New("data size overflows")
		}
	}
	pcount, gcount := int64(0), int64(1)
	if _, present := h.Get("PCOUNT"); present {
		if pcount, ok = intValue(h, "PCOUNT"); !ok || pcount < 0 {
			return 0, errors.New("PCOUNT is not a non-negative integer")
		}
	}
	if _, present := h.Get("GCOUNT"); present {
		if gcount, ok = intValue(h, "GCOUNT"); !ok || gcount < 0 {
			return 0, errors.New("GCOUNT is not a non-negative integer")
		}
	}
	if size > math.MaxInt64-pcount {
		return 0, errors.New("data size overflows")
	}
	size, ok1 := mul(size+pcount, gcount)
	size, ok2 := mul(size, abs(bitpix)/8)
	if !ok1 || !ok2 || size > math.MaxInt64-BlockSize {
		return 0, errors.New("data size overflows")
	}
	return size, nil
}

// intValue returns the value of the first card with the keyword if it is an int64.
func intValue(h Header, key string) (int64, bool) {
	v, _ := h.Get(key)
	n, ok := v.(int64)
	return n, ok
}

// mul multiplies non-negative a and b, reporting false on overflow.
func mul(a, b int64) (int64, bool) {
	if a != 0 && b > math.MaxInt64/a {
		return 0, false
	}
	return a * b, true
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
