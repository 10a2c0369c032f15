package header

import (
	"regexp"
	"strings"
)

// Program is what a Gemini program id says about its data, as FitsStorage reads it
// (its gemini_metadata_utils, GeminiProgram): whether the id is one of the known forms, and
// whether it is an engineering, calibration, commissioning or monitoring program, or science
// verification.
type Program struct {
	Valid                    bool
	Eng, Cal, Com, Mon, SV   bool
	Semester, Type, DateCode string // what the id's form gives (any may be "")
}

// programForms are the program-id forms FitsStorage accepts, each matched whole.
var programForms = []*regexp.Regexp{
	// GN-CAL20120123, GS-ENG20000131: site, calibration or engineering, date.
	regexp.MustCompile(`^G[NS]-(?P<ec>CAL|ENG)(?P<date>20\d\d[01]\d[0123]\d)$`),
	// CAL20031122: the archaic form without the site.
	regexp.MustCompile(`^(?P<ec>CAL|ENG)(?P<date>20\d\d[01]\d[0123]\d)$`),
	// GN-2020A-CAL-191: site, semester, calibration or engineering, number.
	regexp.MustCompile(`^G[NS]-(?P<sem>20\d\d[AB])-(?P<ec>CAL|ENG)-\d+$`),
	// G-2001A-CAL-GMOS_N-20: the new system's calibration, engineering, commissioning and
	// monitoring programs, with an instrument token.
	regexp.MustCompile(`^G-(?P<sem>20\d\d[AB])-(?P<ec>CAL|ENG|COM|MON)-[A-Za-z0-9_]+-\d+$`),
	// GN-2011A-Q-12: site, semester, science program type, number.
	regexp.MustCompile(`^G[NS]-(?P<sem>20\d\d[AB])-(?P<type>Q|C|SV|QS|DD|LP|FT|DS)-\d+$`),
	// G-2020A-1234-Q: the new system's science programs, the type letter last.
	regexp.MustCompile(`^G-(?P<sem>20\d\d[AB])-\d+-(?P<type>[CDFLQSVP])$`),
}

// ParseProgram reads a program id (surrounding blanks ignored, case kept: FitsStorage upper-
// cases the header's value before it asks). An id of no known form is not Valid.
func ParseProgram(id string) Program {
	id = strings.TrimSpace(id)
	for _, re := range programForms {
		m := re.FindStringSubmatch(id)
		if m == nil {
			continue
		}
		p := Program{Valid: true}
		for i, name := range re.SubexpNames() {
			switch name {
			case "ec":
				p.Eng, p.Cal, p.Com, p.Mon = m[i] == "ENG", m[i] == "CAL", m[i] == "COM", m[i] == "MON"
			case "type":
				p.Type = m[i]
				p.SV = m[i] == "SV" || m[i] == "V"
			case "sem":
				p.Semester = m[i]
			case "date":
				p.DateCode = m[i]
			}
		}
		return p
	}
	return Program{}
}
