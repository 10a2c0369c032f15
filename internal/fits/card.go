package fits

import (
	"math"
	"strconv"
	"strings"
)

// Problems recorded on cards.
const (
	problemBytes        = "card holds bytes outside printable ASCII"
	problemKeyword      = "invalid keyword"
	problemIndicator    = "no blank after the value indicator"
	problemUnterminated = "unterminated string"
	problemAfterString  = "unexpected text after the string"
	problemValue        = "unparseable value"
	problemIntRange     = "integer out of int64 range"
	problemFloatRange   = "float out of range"
	problemHierarch     = "HIERARCH card without keyword"
	problemContinue     = "CONTINUE card without a preceding long string"
)

// keyword returns the keyword of an 80-character card image: columns 1-8, trailing blanks
// removed.
func keyword(s string) string {
	return strings.TrimRight(s[:8], " ")
}

// parseCard parses one 80-character card image. CONTINUE cards are parsed on their own: the
// value is read from column 11; joining them is the header builder's job.
func parseCard(s string) Card {
	c := Card{Raw: s}
	problem := func(p string) {
		if c.Problem == "" {
			c.Problem = p
		}
	}
	if !printable(s) {
		problem(problemBytes)
	}
	key := keyword(s)
	switch key {
	case "", "COMMENT", "HISTORY":
		c.Keyword = key
		c.Comment = strings.TrimRight(s[8:], " ")
		return c
	case "HIERARCH":
		eq := strings.IndexByte(s[8:], '=')
		if eq < 0 {
			c.Keyword = key
			c.Comment = strings.TrimRight(s[8:], " ")
			return c
		}
		words := strings.Fields(s[8 : 8+eq])
		if len(words) == 0 {
			c.Keyword = key
			problem(problemHierarch)
		} else {
			c.Keyword = strings.Join(words, " ")
		}
		parseValue(&c, s[8+eq+1:], problem)
		return c
	case "CONTINUE":
		c.Keyword = key
		parseValue(&c, s[10:], problem)
		return c
	}
	c.Keyword = key
	if !validKeyword(key) {
		problem(problemKeyword)
	}
	if s[8] != '=' {
		c.Comment = strings.TrimRight(s[8:], " ")
		return c
	}
	if s[9] != ' ' {
		problem(problemIndicator)
	}
	parseValue(&c, s[9:], problem)
	return c
}

// parseValue parses a free-format value field with an optional "/ comment" into c.
func parseValue(c *Card, v string, problem func(string)) {
	v = strings.TrimLeft(v, " ")
	switch {
	case v == "":
		return
	case v[0] == '/':
		c.Comment = strings.TrimSpace(v[1:])
		return
	case v[0] == '\'':
		str, rest, ok := parseQuoted(v[1:])
		c.Value = strings.TrimRight(str, " ")
		if !ok {
			problem(problemUnterminated)
			return
		}
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return
		}
		if rest[0] != '/' {
			problem(problemAfterString)
			i := strings.IndexByte(rest, '/')
			if i < 0 {
				return
			}
			rest = rest[i:]
		}
		c.Comment = strings.TrimSpace(rest[1:])
		return
	}
	token := v
	if i := strings.IndexByte(v, '/'); i >= 0 {
		token, c.Comment = v[:i], strings.TrimSpace(v[i+1:])
	}
	val, p := parseScalar(strings.TrimRight(token, " "))
	c.Value = val
	if p != "" {
		problem(p)
	}
}

// parseQuoted parses the body of a quoted string (after the opening quote), turning each
// doubled quote into one. It returns the string, the text after the closing quote, and false when there is
// no closing quote (the string is then everything left).
func parseQuoted(s string) (str, rest string, ok bool) {
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteString(s[start : i+1])
			i++
			start = i + 1
			continue
		}
		if b.Len() == 0 {
			return s[:i], s[i+1:], true
		}
		b.WriteString(s[start:i])
		return b.String(), s[i+1:], true
	}
	b.WriteString(s[start:])
	return b.String(), "", false
}

// parseScalar parses a non-string value token: T, F, an integer, a float or a complex
// number "(re, im)". It returns the value and a problem ("" when fine).
func parseScalar(tok string) (any, string) {
	switch tok {
	case "T":
		return true, ""
	case "F":
		return false, ""
	}
	if strings.HasPrefix(tok, "(") && strings.HasSuffix(tok, ")") {
		re, im, ok := strings.Cut(tok[1:len(tok)-1], ",")
		if !ok {
			return nil, problemValue
		}
		r, p1 := parseReal(strings.TrimSpace(re))
		i, p2 := parseReal(strings.TrimSpace(im))
		if p1 != "" || p2 != "" {
			return nil, problemValue
		}
		return complex(r, i), ""
	}
	n, ok, intOverflow := parseNumber(tok)
	switch {
	case !ok:
		return nil, problemValue
	case intOverflow:
		return n, problemIntRange
	}
	if f, isFloat := n.(float64); isFloat && math.IsInf(f, 0) {
		return nil, problemFloatRange
	}
	return n, ""
}

// parseReal parses one part of a complex value.
func parseReal(s string) (float64, string) {
	n, ok, _ := parseNumber(s)
	switch n := n.(type) {
	case int64:
		return float64(n), ""
	case float64:
		if ok && !math.IsInf(n, 0) {
			return n, ""
		}
	}
	return 0, problemValue
}

// parseNumber parses a FITS integer or float: an optional sign, digits with an optional
// decimal point, and an optional exponent introduced by E or D (either case). It returns an
// int64 when there is neither point nor exponent and the value fits, otherwise a float64
// (±Inf when out of range); intOverflow reports an integer that did not fit an int64.
func parseNumber(s string) (v any, ok, intOverflow bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	isInt := true
	if i < len(s) && s[i] == '.' {
		isInt = false
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return nil, false, false
	}
	mantissaEnd := i
	if i < len(s) && strings.IndexByte("EeDd", s[i]) >= 0 {
		isInt = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			expDigits++
		}
		if expDigits == 0 {
			return nil, false, false
		}
	}
	if i != len(s) {
		return nil, false, false
	}
	if isInt {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true, false
		}
		intOverflow = true
	}
	norm := s
	if mantissaEnd < len(s) {
		norm = s[:mantissaEnd] + "e" + s[mantissaEnd+1:]
	}
	f, err := strconv.ParseFloat(norm, 64)
	if err != nil && !math.IsInf(f, 0) {
		return nil, false, false
	}
	return f, true, intOverflow
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// validKeyword reports whether k is a standard keyword: 1 to 8 characters among A-Z, 0-9,
// '-' and '_'.
func validKeyword(k string) bool {
	if k == "" || len(k) > 8 {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !('A' <= b && b <= 'Z' || isDigit(b) || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// printable reports whether s holds only printable ASCII (space to tilde).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// headerBuilder assembles a header card by card, joining CONTINUE long strings.
type headerBuilder struct {
	cards []Card
	// the long string being continued; cont is false when there is none
	cont     bool
	segs     []string
	raws     []string
	comments []string
	problem  string
	length   int    // bytes of the long string so far
	tooLong  string // the keyword whose long string passed MaxStringBytes
}

// add parses one card image and reports whether it is the END card.
func (b *headerBuilder) add(s string) (end bool) {
	key := keyword(s)
	if key == "END" {
		b.flush()
		return true
	}
	c := parseCard(s)
	if key == "CONTINUE" && b.cont {
		if str, ok := c.Value.(string); ok {
			last := len(b.segs) - 1
			b.segs[last] = strings.TrimSuffix(b.segs[last], "&")
			b.segs = append(b.segs, str)
			if b.length += len(str); b.length > MaxStringBytes && b.tooLong == "" {
				b.tooLong = b.cards[len(b.cards)-1].Keyword
			}
			b.raws = append(b.raws, s)
			if c.Comment != "" {
				b.comments = append(b.comments, c.Comment)
			}
			if b.problem == "" {
				b.problem = c.Problem
			}
			if !strings.HasSuffix(str, "&") {
				b.flush()
			}
			return false
		}
	}
	b.flush()
	if key == "CONTINUE" && c.Problem == "" {
		c.Problem = problemContinue
	}
	b.cards = append(b.cards, c)
	if str, ok := c.Value.(string); ok && strings.HasSuffix(str, "&") {
		b.cont = true
		b.length = len(str)
		b.segs = append(b.segs[:0], str)
		b.raws = append(b.raws[:0], s)
		b.comments = b.comments[:0]
		if c.Comment != "" {
			b.comments = append(b.comments, c.Comment)
		}
		b.problem = c.Problem
	}
	return false
}

// flush ends the long string being continued, if any, storing it in its card.
func (b *headerBuilder) flush() {
	if !b.cont {
		return
	}
	b.cont = false
	if len(b.segs) == 1 {
		return // nothing followed: the card keeps its '&'
	}
	c := &b.cards[len(b.cards)-1]
	c.Value = strings.TrimRight(strings.Join(b.segs, ""), " ")
	c.Raw = strings.Join(b.raws, "")
	c.Comment = strings.Join(b.comments, " ")
	c.Problem = b.problem
}
