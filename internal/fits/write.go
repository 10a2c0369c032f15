package fits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteHDU writes one HDU: the cards, an END card and blank padding to a whole block, then
// data padded with zeros to a whole block. The caller supplies every card, including SIMPLE
// or XTENSION, BITPIX and NAXISn, and data matching them; WriteHDU checks neither.
//
// Standard keywords are written in fixed format (values right-justified to column 30,
// strings from column 11), other keywords as HIERARCH cards. Values may be nil, string,
// bool, int, int64, float64 or complex128; strings too long for one card are written with
// CONTINUE cards. COMMENT, HISTORY and blank-keyword cards take their text from Comment
// and must have no value. Keywords END, CONTINUE and HIERARCH are refused. Trailing blanks
// of strings are written but, not being significant, do not read back. Nothing is written
// when a card is refused (ErrUnencodable).
func WriteHDU(w io.Writer, cards []Card, data []byte) error {
	var buf bytes.Buffer
	for i, c := range cards {
		lines, err := encodeCard(c)
		if err != nil {
			return fmt.Errorf("%w: card %d (%q): %v", ErrUnencodable, i, c.Keyword, err)
		}
		for _, l := range lines {
			buf.WriteString(l)
			buf.WriteString(strings.Repeat(" ", CardSize-len(l)))
		}
	}
	buf.WriteString("END")
	buf.WriteString(strings.Repeat(" ", padding(buf.Len())))
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write FITS header: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write FITS data unit: %w", err)
	}
	if _, err := w.Write(make([]byte, padding(len(data)))); err != nil {
		return fmt.Errorf("write FITS data padding: %w", err)
	}
	return nil
}

// padding returns how many bytes bring n up to a whole number of blocks.
func padding(n int) int {
	return (BlockSize - n%BlockSize) % BlockSize
}

// encodeCard returns the card images (each at most 80 characters, unpadded) for c.
func encodeCard(c Card) ([]string, error) {
	if !printable(c.Comment) {
		return nil, errors.New("comment holds characters outside printable ASCII")
	}
	switch c.Keyword {
	case "END", "CONTINUE", "HIERARCH":
		return nil, fmt.Errorf("keyword %s is reserved", c.Keyword)
	case "", "COMMENT", "HISTORY":
		if c.Value != nil {
			return nil, errors.New("commentary card with a value")
		}
		if len(c.Comment) > CardSize-8 {
			return nil, fmt.Errorf("commentary text longer than %d characters", CardSize-8)
		}
		return []string{fmt.Sprintf("%-8s%s", c.Keyword, c.Comment)}, nil
	}
	var prefix string
	fixed := validKeyword(c.Keyword)
	switch {
	case fixed:
		prefix = fmt.Sprintf("%-8s= ", c.Keyword)
	case hierarchKeyword(c.Keyword):
		prefix = "HIERARCH " + c.Keyword + " = "
	default:
		return nil, errors.New("keyword is neither a standard nor a HIERARCH keyword")
	}
	if s, ok := c.Value.(string); ok {
		return encodeString(prefix, s, c.Comment)
	}
	v, err := formatScalar(c.Value)
	if err != nil {
		return nil, err
	}
	line := prefix + v
	if fixed || c.Comment != "" {
		line = prefix + fmt.Sprintf("%20s", v)
	}
	if c.Comment != "" {
		line += " / " + c.Comment
	}
	if len(line) > CardSize {
		return nil, fmt.Errorf("card needs %d columns", len(line))
	}
	return []string{line}, nil
}

// hierarchKeyword reports whether k can follow HIERARCH: printable words without '=' or
// quotes, separated by single spaces.
func hierarchKeyword(k string) bool {
	return k != "" && printable(k) && !strings.ContainsAny(k, "='/") &&
		strings.Join(strings.Fields(k), " ") == k
}

// formatScalar formats a non-string value for a card.
func formatScalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case bool:
		if v {
			return "T", nil
		}
		return "F", nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return formatFloat(v)
	case complex128:
		re, err := formatFloat(real(v))
		if err != nil {
			return "", err
		}
		im, err := formatFloat(imag(v))
		if err != nil {
			return "", err
		}
		return "(" + re + ", " + im + ")", nil
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}

// formatFloat formats f in the shortest form that reads back exactly and as a float.
func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%v is not representable", f)
	}
	s := strconv.FormatFloat(f, 'G', -1, 64)
	if !strings.ContainsAny(s, ".E") {
		s += ".0"
	}
	return s, nil
}

// encodeString writes a string value after prefix, on one card when it fits with its
// comment and otherwise split over CONTINUE cards, each piece but the last ending in '&'.
func encodeString(prefix, s, comment string) ([]string, error) {
	if !printable(s) {
		return nil, errors.New("string holds characters outside printable ASCII")
	}
	q := quote(s)
	if len(q) < 8 {
		q += strings.Repeat(" ", 8-len(q))
	}
	line := prefix + "'" + q + "'"
	if comment != "" {
		line += " / " + comment
	}
	if len(line) <= CardSize {
		return []string{line}, nil
	}
	const cont = "CONTINUE  "
	// Each card holds a quote, the escaped piece, '&' and a quote.
	room := CardSize - len(prefix) - 3
	if room < 2 {
		return nil, errors.New("HIERARCH keyword too long for a string value")
	}
	var pieces []string
	for len(s) > 0 || len(pieces) == 0 {
		n, used := 0, 0
		for n < len(s) && used+cost(s[n]) <= room {
			used += cost(s[n])
			n++
		}
		pieces = append(pieces, s[:n])
		s = s[n:]
		room = CardSize - len(cont) - 3
	}
	if comment != "" {
		last := pieces[len(pieces)-1]
		pre := cont
		if len(pieces) == 1 {
			pre = prefix
		}
		if len(pre)+len(quote(last))+2+3+len(comment) > CardSize {
			if len(cont)+2+3+len(comment) > CardSize {
				return nil, fmt.Errorf("comment longer than %d characters after a long string", CardSize-len(cont)-5)
			}
			pieces = append(pieces, "")
		}
	}
	lines := make([]string, len(pieces))
	for i, p := range pieces {
		pre, amp := cont, "&"
		if i == 0 {
			pre = prefix
		}
		if i == len(pieces)-1 {
			amp = ""
		}
		lines[i] = pre + "'" + quote(p) + amp + "'"
	}
	if comment != "" {
		lines[len(lines)-1] += " / " + comment
	}
	return lines, nil
}

// quote doubles the single quotes of s.
func quote(s string) string {
	return strings.ReplaceAll(s, "'", "''")
}

// cost is the number of characters b takes inside a quoted string.
func cost(b byte) int {
	if b == '\'' {
		return 2
	}
	return 1
}
