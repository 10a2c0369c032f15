package fits

import (
	"reflect"
	"strings"
	"testing"
)

// pad pads a card image to 80 characters.
func pad(s string) string {
	if len(s) > CardSize {
		panic("card longer than 80 characters: " + s)
	}
	return s + strings.Repeat(" ", CardSize-len(s))
}

func TestParseCard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		card string
		want Card // Raw is not compared
	}{
		{"string", "OBJECT  = 'NGC 1068'           / target name", Card{Keyword: "OBJECT", Value: "NGC 1068", Comment: "target name"}},
		{"escaped quote", "OBSERVER= 'O''HARA'", Card{Keyword: "OBSERVER", Value: "O'HARA"}},
		{"escaped quotes only", "Q       = ''''''", Card{Keyword: "Q", Value: "''"}},
		{"trailing blanks dropped", "S       = 'ab      '", Card{Keyword: "S", Value: "ab"}},
		{"leading blanks kept", "S       = '  ab'", Card{Keyword: "S", Value: "  ab"}},
		{"empty string", "S       = ''", Card{Keyword: "S", Value: ""}},
		{"blank string", "S       = '        '", Card{Keyword: "S", Value: ""}},
		{"slash in string", "S       = 'a/b' / c", Card{Keyword: "S", Value: "a/b", Comment: "c"}},
		{"true", "SIMPLE  =                    T / conforms", Card{Keyword: "SIMPLE", Value: true, Comment: "conforms"}},
		{"false", "EXTEND  =                    F", Card{Keyword: "EXTEND", Value: false}},
		{"int", "NAXIS1  =                 2048", Card{Keyword: "NAXIS1", Value: int64(2048)}},
		{"negative int", "BITPIX  =                  -32 / float", Card{Keyword: "BITPIX", Value: int64(-32), Comment: "float"}},
		{"plus int", "N       = +7", Card{Keyword: "N", Value: int64(7)}},
		{"float", "EXPTIME =                 30.5", Card{Keyword: "EXPTIME", Value: 30.5}},
		{"float E", "X       = -1.25E-3", Card{Keyword: "X", Value: -1.25e-3}},
		{"float e", "X       = 2e2", Card{Keyword: "X", Value: 200.0}},
		{"float D", "CENTWAVE=              1.5D+03", Card{Keyword: "CENTWAVE", Value: 1500.0}},
		{"float d", "X       = 1.5d-1", Card{Keyword: "X", Value: 0.15}},
		{"float leading point", "X       = .5", Card{Keyword: "X", Value: 0.5}},
		{"float trailing point", "X       = 5.", Card{Keyword: "X", Value: 5.0}},
		{"complex", "Z       = (1.5, -2)", Card{Keyword: "Z", Value: complex(1.5, -2)}},
		{"undefined", "UNDEF   =", Card{Keyword: "UNDEF"}},
		{"undefined with comment", "UNDEF   =                      / not known", Card{Keyword: "UNDEF", Comment: "not known"}},
		{"comment", "COMMENT   FITS (Flexible Image Transport System)", Card{Keyword: "COMMENT", Comment: "  FITS (Flexible Image Transport System)"}},
		{"comment with equals", "COMMENT = 'not a value'", Card{Keyword: "COMMENT", Comment: "= 'not a value'"}},
		{"history", "HISTORY reduced by x", Card{Keyword: "HISTORY", Comment: "reduced by x"}},
		{"blank keyword", "        some text", Card{Comment: "some text"}},
		{"blank card", "", Card{}},
		{"no value indicator", "DATE-OBS  2020-01-01", Card{Keyword: "DATE-OBS", Comment: "  2020-01-01"}},
		{"hierarch", "HIERARCH ESO DET CHIP1 NAME = 'x' / comment", Card{Keyword: "ESO DET CHIP1 NAME", Value: "x", Comment: "comment"}},
		{"hierarch spacing", "HIERARCH  ESO   TEL AIRM=1.2", Card{Keyword: "ESO TEL AIRM", Value: 1.2}},
		{"hierarch no equals", "HIERARCH just text", Card{Keyword: "HIERARCH", Comment: " just text"}},
		{"hierarch no keyword", "HIERARCH = 3", Card{Keyword: "HIERARCH", Value: int64(3), Problem: problemHierarch}},
		{"orphan continue", "CONTINUE  'x'", Card{Keyword: "CONTINUE", Value: "x"}},
		{"unterminated string", "S       = 'abc   ", Card{Keyword: "S", Value: "abc", Problem: problemUnterminated}},
		{"text after string", "S       = 'abc' xyz / c", Card{Keyword: "S", Value: "abc", Comment: "c", Problem: problemAfterString}},
		{"bad value", "X       = 12abc / c", Card{Keyword: "X", Comment: "c", Problem: problemValue}},
		{"bad logical", "X       = TRUE", Card{Keyword: "X", Problem: problemValue}},
		{"bad complex", "X       = (1 2)", Card{Keyword: "X", Problem: problemValue}},
		{"infinity is no number", "X       = Inf", Card{Keyword: "X", Problem: problemValue}},
		{"int overflow", "X       = 99999999999999999999", Card{Keyword: "X", Value: 1e20, Problem: problemIntRange}},
		{"float overflow", "X       = 1E999", Card{Keyword: "X", Problem: problemFloatRange}},
		{"lowercase keyword", "date-obs= '2020-01-01'", Card{Keyword: "date-obs", Value: "2020-01-01", Problem: problemKeyword}},
		{"no blank after equals", "X       =5", Card{Keyword: "X", Value: int64(5), Problem: problemIndicator}},
		{"non-ASCII", "S       = 'caf\xe9'", Card{Keyword: "S", Value: "caf\xe9", Problem: problemBytes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := pad(tt.card)
			got := parseCard(raw)
			if got.Raw != raw {
				t.Errorf("Raw = %q, want the card image", got.Raw)
			}
			got.Raw = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCard(%q)\n got %#v\nwant %#v", tt.card, got, tt.want)
			}
		})
	}
}

func TestContinue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cards []string
		want  []Card // Raw is not compared
	}{
		{"two cards", []string{"LONG    = 'ab&'", "CONTINUE  'cd'"},
			[]Card{{Keyword: "LONG", Value: "abcd"}}},
		{"three cards with comments", []string{"LONG    = 'ab&' / one", "CONTINUE  'cd&'", "CONTINUE  'ef' / two", "NEXT    = 1"},
			[]Card{{Keyword: "LONG", Value: "abcdef", Comment: "one two"}, {Keyword: "NEXT", Value: int64(1)}}},
		{"blanks before ampersand kept", []string{"LONG    = 'ab  &'", "CONTINUE  'cd'"},
			[]Card{{Keyword: "LONG", Value: "ab  cd"}}},
		{"empty last piece carries comment", []string{"LONG    = 'ab&'", "CONTINUE  '' / note"},
			[]Card{{Keyword: "LONG", Value: "ab", Comment: "note"}}},
		{"ampersand without continue stays", []string{"FILTER  = 'g&'", "NEXT    = 1"},
			[]Card{{Keyword: "FILTER", Value: "g&"}, {Keyword: "NEXT", Value: int64(1)}}},
		{"last continue ampersand stays", []string{"LONG    = 'ab&'", "CONTINUE  'cd&'"},
			[]Card{{Keyword: "LONG", Value: "abcd&"}}},
		{"hierarch long string", []string{"HIERARCH ESO A = 'ab&'", "CONTINUE  'cd'"},
			[]Card{{Keyword: "ESO A", Value: "abcd"}}},
		{"continue after non-string", []string{"N       = 1", "CONTINUE  'cd'"},
			[]Card{{Keyword: "N", Value: int64(1)}, {Keyword: "CONTINUE", Value: "cd", Problem: problemContinue}}},
		{"continue broken by another card", []string{"LONG    = 'ab&'", "COMMENT x", "CONTINUE  'cd'"},
			[]Card{{Keyword: "LONG", Value: "ab&"}, {Keyword: "COMMENT", Comment: "x"}, {Keyword: "CONTINUE", Value: "cd", Problem: problemContinue}}},
		{"continue with a number ends the string", []string{"LONG    = 'ab&'", "CONTINUE  12"},
			[]Card{{Keyword: "LONG", Value: "ab&"}, {Keyword: "CONTINUE", Value: int64(12), Problem: problemContinue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b headerBuilder
			var raw string
			for _, c := range tt.cards {
				b.add(pad(c))
				raw += pad(c)
			}
			if !b.add(pad("END")) {
				t.Fatal("END not recognised")
			}
			if len(tt.want) > 0 && len(b.cards) > 0 && len(tt.want) == 1 && b.cards[0].Raw != raw {
				t.Errorf("Raw = %q, want all card images", b.cards[0].Raw)
			}
			for i := range b.cards {
				b.cards[i].Raw = ""
			}
			if !reflect.DeepEqual(b.cards, tt.want) {
				t.Errorf("cards\n got %#v\nwant %#v", b.cards, tt.want)
			}
		})
	}
}

func TestHeaderGetters(t *testing.T) {
	t.Parallel()
	h := Header{Cards: []Card{
		{Keyword: "S", Value: "text"},
		{Keyword: "NUMS", Value: " 12.5 "},
		{Keyword: "INTS", Value: "42"},
		{Keyword: "DS", Value: "1.5D2"},
		{Keyword: "I", Value: int64(7)},
		{Keyword: "F", Value: 2.5},
		{Keyword: "FI", Value: 3.0},
		{Keyword: "BIG", Value: 1e300},
		{Keyword: "HUGE", Value: "1E999"},
		{Keyword: "B", Value: true},
		{Keyword: "U"},
		{Keyword: "I", Value: int64(8)},
	}}
	type result struct {
		v  any
		ok bool
	}
	tests := []struct {
		key                             string
		get, str, float, integer, logic result
	}{
		{"S", result{"text", true}, result{"text", true}, result{0.0, false}, result{int64(0), false}, result{false, false}},
		{"NUMS", result{" 12.5 ", true}, result{" 12.5 ", true}, result{12.5, true}, result{int64(0), false}, result{false, false}},
		{"INTS", result{"42", true}, result{"42", true}, result{42.0, true}, result{int64(42), true}, result{false, false}},
		{"DS", result{"1.5D2", true}, result{"1.5D2", true}, result{150.0, true}, result{int64(150), true}, result{false, false}},
		{"I", result{int64(7), true}, result{"", false}, result{7.0, true}, result{int64(7), true}, result{false, false}},
		{"F", result{2.5, true}, result{"", false}, result{2.5, true}, result{int64(0), false}, result{false, false}},
		{"FI", result{3.0, true}, result{"", false}, result{3.0, true}, result{int64(3), true}, result{false, false}},
		{"BIG", result{1e300, true}, result{"", false}, result{1e300, true}, result{int64(0), false}, result{false, false}},
		{"HUGE", result{"1E999", true}, result{"1E999", true}, result{0.0, false}, result{int64(0), false}, result{false, false}},
		{"B", result{true, true}, result{"", false}, result{0.0, false}, result{int64(0), false}, result{true, true}},
		{"U", result{nil, true}, result{"", false}, result{0.0, false}, result{int64(0), false}, result{false, false}},
		{"MISSING", result{nil, false}, result{"", false}, result{0.0, false}, result{int64(0), false}, result{false, false}},
		{"s", result{nil, false}, result{"", false}, result{0.0, false}, result{int64(0), false}, result{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			check := func(method string, v any, ok bool, want result) {
				if !reflect.DeepEqual(v, want.v) || ok != want.ok {
					t.Errorf("%s(%q) = %#v, %v; want %#v, %v", method, tt.key, v, ok, want.v, want.ok)
				}
			}
			v, ok := h.Get(tt.key)
			check("Get", v, ok, tt.get)
			s, ok := h.String(tt.key)
			check("String", s, ok, tt.str)
			f, ok := h.Float(tt.key)
			check("Float", f, ok, tt.float)
			i, ok := h.Int(tt.key)
			check("Int", i, ok, tt.integer)
			b, ok := h.Bool(tt.key)
			check("Bool", b, ok, tt.logic)
		})
	}
}
