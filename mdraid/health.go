package mdraid

import (
	"fmt"
	"strings"
)

// Health states, in the monitoring-plugins convention (Nagios, Icinga, Sensu): also the
// exit codes of `agentctl storage check`.
const (
	HealthOK       = 0
	HealthWarning  = 1
	HealthCritical = 2
	HealthUnknown  = 3
)

// HealthNames are the states' names, as the status line says them.
var HealthNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// ArrayHealth is one array's state and the words that explain it.
type ArrayHealth struct {
	Array string `json:"array"`
	State int    `json:"state"`
	Text  string `json:"text"`
}

// Health is the state of every array: the worst decides.
type Health struct {
	State    int           `json:"state"`
	Arrays   []ArrayHealth `json:"arrays"`
	Perfdata []string      `json:"perfdata"`
}

// Assess judges each array from what /proc/mdstat and sysfs show, with no privilege and
// no command run:
//   - CRITICAL: inactive; a failed (faulty) member; no working member; the remaining
//     members not write-mostly while degraded (the EBS member lost: the dangerous case);
//   - WARNING: degraded on its EBS member (the agent's work), recovering or resyncing, or
//     a scrub that found mismatches;
//   - OK otherwise (a scrub under way included).
func Assess(arrays []Array) Health {
	h := Health{Arrays: []ArrayHealth{}, Perfdata: []string{}}
	for _, a := range arrays {
		ah := assessArray(a)
		h.Arrays = append(h.Arrays, ah)
		h.State = max(h.State, ah.State)
		if a.Active {
			h.Perfdata = append(h.Perfdata, fmt.Sprintf("%s_degraded=%d;;1;0;%d", a.Name, a.Degraded, a.RaidDisks))
			pct := 100.0
			if a.Sync != nil {
				pct = a.Sync.Percent
			}
			h.Perfdata = append(h.Perfdata, fmt.Sprintf("%s_sync=%.1f%%;;;0;100", a.Name, pct))
			h.Perfdata = append(h.Perfdata, fmt.Sprintf("%s_mismatch_cnt=%d;1;;0;", a.Name, a.MismatchCnt))
		}
	}
	return h
}

func assessArray(a Array) ArrayHealth {
	ah := ArrayHealth{Array: a.Name}
	set := func(state int, text string) ArrayHealth {
		ah.State, ah.Text = state, a.Name+" "+text
		return ah
	}
	if !a.Active {
		return set(HealthCritical, "inactive (assembled without starting: the storage agent starts it after its grace period, or mdadm --run)")
	}
	var faulty, working, writeMostly []string
	for _, m := range a.Members {
		switch {
		case m.Faulty:
			faulty = append(faulty, m.Device)
		case m.Working():
			working = append(working, m.Device)
			if m.WriteMostly {
				writeMostly = append(writeMostly, m.Device)
			}
		}
	}
	switch {
	case len(faulty) > 0:
		return set(HealthCritical, fmt.Sprintf("has a failed device: %s", strings.Join(faulty, ", ")))
	case a.Degraded > 0 && len(working) == 0:
		return set(HealthCritical, "degraded with no working member")
	case a.Degraded > 0 && a.Level == "raid1" && len(writeMostly) == 0:
		return set(HealthCritical, fmt.Sprintf("degraded, and its remaining member %s is not write-mostly: the EBS member is lost (see the README: a lost EBS member)",
			strings.Join(working, ", ")))
	}
	if s := a.Sync; s != nil && s.Kind != "checking" {
		return set(HealthWarning, fmt.Sprintf("%s %.1f%%", s.Kind, s.Percent))
	}
	if a.Degraded > 0 {
		return set(HealthWarning, fmt.Sprintf("degraded on %s (%d of %d members)", strings.Join(working, ", "), len(working), a.RaidDisks))
	}
	if a.MismatchCnt > 0 && (a.Sync == nil || a.Sync.Kind != "checking") {
		return set(HealthWarning, fmt.Sprintf("in sync, but the last scrub found %d mismatched sectors (agentctl storage verify)", a.MismatchCnt))
	}
	if a.Sync != nil {
		return set(HealthOK, fmt.Sprintf("in sync, scrub %.1f%%", a.Sync.Percent))
	}
	return set(HealthOK, "in sync")
}

// Escalate makes CRITICAL every array the storage agent leaves to a human (its decisions,
// when it runs): a mirror whose slot holds an unusable device looks merely degraded from
// /proc and /sys, yet nothing will repair it.
func (h *Health) Escalate(decisions []Decision) {
	for _, d := range decisions {
		if d.Kind != KindHuman {
			continue
		}
		for i := range h.Arrays {
			if h.Arrays[i].Array == d.Array && h.Arrays[i].State < HealthCritical {
				h.Arrays[i].State = HealthCritical
				h.Arrays[i].Text = d.Array + " needs a human (the storage agent will not act): " + d.Reason
			}
		}
	}
	for _, a := range h.Arrays {
		h.State = max(h.State, a.State)
	}
}

// StatusLine is the check's first line: "STORAGE OK - md0 in sync; md1 in sync | perfdata".
func (h Health) StatusLine() string {
	var texts []string
	for _, a := range h.Arrays {
		texts = append(texts, a.Text)
	}
	line := "STORAGE " + HealthNames[h.State] + " - " + strings.Join(texts, "; ")
	if len(h.Perfdata) > 0 {
		line += " | " + strings.Join(h.Perfdata, " ")
	}
	return line
}
