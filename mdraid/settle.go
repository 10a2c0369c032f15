package mdraid

import (
	"fmt"
	"sort"
	"time"
)

// Journalled is an action the storage agent took and journalled before issuing it (its
// bbolt record, as the planner sees it).
type Journalled struct {
	Kind         string // KindAdd, KindReAdd, KindRun
	Device       string
	IssuedAt     time.Time
	RecoverySeen bool
	Failed       string // mdadm's error, when it failed
	Attempts     int
}

// Outcomes of a journalled action (Settlement.Outcome).
const (
	SettledDone       = "done"       // the mirror is whole: the action is over
	SettledStarted    = "started"    // a run that took: the mirror is a degraded one like any other
	SettledGaveUp     = "gave-up"    // mdadm failed it MaxAttempts times: a human's, for good
	SettledBackoff    = "backoff"    // it failed: try again at Until
	SettledRetry      = "retry"      // it failed and the backoff is over: the planner may act again
	SettledRecovering = "recovering" // the recovery it caused runs (or a spare waits for one)
	SettledPending    = "pending"    // issued, nothing shows yet: it times out at Until
	SettledStuck      = "stuck"      // issued over the timeout ago and the mirror is not whole
)

// Settlement is what the journal policy says of one journalled action now.
type Settlement struct {
	Array       string
	Outcome     string
	Busy        bool      // the planner gives the array nothing new
	Until       time.Time // look again then (zero: no timer of its own)
	Clear       bool      // the action leaves the journal
	SeeRecovery bool      // record that its recovery was seen
	Detail      string    // what the event says (done, gave-up, stuck)
}

// JournalPolicy holds the journal policy's limits.
type JournalPolicy struct {
	AddTimeout  time.Duration                    // an issued action with no recovery after this is stuck
	MaxAttempts int                              // failures before the agent gives up on a mirror
	Backoff     func(attempts int) time.Duration // the wait before trying a failed action again
}

// Settle applies the journal policy: for each journalled action (by the array's current
// name) and what the arrays show now, whether it is over, running, to be retried, or left
// to a human. It does no I/O; the caller carries out the settlements (journal, events).
func Settle(actions map[string]Journalled, arrays []Array, now time.Time, p JournalPolicy) []Settlement {
	byName := map[string]Array{}
	for _, a := range arrays {
		byName[a.Name] = a
	}
	out := make([]Settlement, 0, len(actions))
	for name, act := range actions {
		a, ok := byName[name]
		recovering := ok && a.Active && (a.Recovering() || a.HasSpare())
		whole := ok && a.Active && a.Degraded == 0 && !recovering
		s := Settlement{Array: name}
		switch {
		case whole:
			s.Outcome, s.Clear = SettledDone, true
			s.Detail = fmt.Sprintf("%s of %s finished: the mirror is whole", act.Kind, act.Device)
		case act.Failed != "" && act.Attempts >= p.MaxAttempts:
			s.Outcome, s.Busy = SettledGaveUp, true
			s.Detail = fmt.Sprintf("mdadm %s failed %d times, the last: %s; the agent will not try again (restart agentd after fixing, or repair by hand)",
				act.Kind, act.Attempts, act.Failed)
		case act.Failed != "" && !recovering:
			if retry := act.IssuedAt.Add(p.Backoff(act.Attempts)); now.Before(retry) {
				s.Outcome, s.Busy, s.Until = SettledBackoff, true, retry
			} else {
				s.Outcome = SettledRetry
			}
		case recovering:
			s.Outcome, s.Busy, s.SeeRecovery = SettledRecovering, true, !act.RecoverySeen
		case act.Kind == KindRun && ok && a.Active:
			s.Outcome, s.Clear = SettledStarted, true
		default:
			s.Busy = true
			timeout := act.IssuedAt.Add(p.AddTimeout)
			if !now.After(timeout) {
				s.Outcome, s.Until = SettledPending, timeout.Add(time.Millisecond)
				break
			}
			s.Outcome = SettledStuck
			what := "no recovery shows"
			switch {
			case !ok:
				what = "the array is gone from /proc/mdstat"
			case act.RecoverySeen:
				what = "a recovery ran but the mirror is not whole (did the new member fail?)"
			}
			s.Detail = fmt.Sprintf("%s of %s was issued %s ago and %s; a human should look (the agent will not add another device to this mirror)",
				act.Kind, act.Device, now.Sub(act.IssuedAt).Round(time.Second), what)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Array < out[j].Array })
	return out
}

// HasSpare says whether a working spare waits in the array (an added device before its
// recovery starts).
func (a Array) HasSpare() bool {
	for _, m := range a.Members {
		if m.Spare && !m.Faulty {
			return true
		}
	}
	return false
}
