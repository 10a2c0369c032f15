package mdraid

import (
	"strings"
	"testing"
	"time"
)

// The journal policy, case by case: what an issued action has come to.
func TestSettle(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	policy := JournalPolicy{AddTimeout: 2 * time.Minute, MaxAttempts: 3,
		Backoff: func(n int) time.Duration { return 10 * time.Second << n }}
	member := func(dev string, ms ...func(*Member)) Member {
		m := Member{Device: dev, InSync: true}
		for _, f := range ms {
			f(&m)
		}
		return m
	}
	spare := func(m *Member) { m.Spare, m.InSync = true, false }
	faultySpare := func(m *Member) { m.Spare, m.Faulty, m.InSync = true, true, false }
	whole := Array{Name: "md0", Active: true, RaidDisks: 2, Working: 2, UUID: "a",
		Members: []Member{member("vdb"), member("vdc")}}
	degraded := Array{Name: "md0", Active: true, RaidDisks: 2, Working: 1, Degraded: 1, UUID: "a",
		Members: []Member{member("vdc")}}
	recovering := degraded
	recovering.SyncAction = "recover"
	recovering.Sync = &Sync{Kind: "recovering", Percent: 12}
	withSpare := degraded
	withSpare.Members = []Member{member("vdc"), member("vdb", spare)}
	withFaultySpare := degraded
	withFaultySpare.Members = []Member{member("vdc"), member("vdb", faultySpare)}
	inactive := Array{Name: "md0", Active: false, UUID: "a", Members: []Member{member("vdc")}}
	add := Journalled{Kind: KindAdd, Device: "/dev/vdb", IssuedAt: now.Add(-30 * time.Second), Attempts: 1}
	with := func(j Journalled, f func(*Journalled)) Journalled { f(&j); return j }

	for _, tc := range []struct {
		name    string
		act     Journalled
		arrays  []Array
		outcome string
		busy    bool
		clear   bool
		see     bool
		until   time.Time
		detail  string
	}{
		{name: "the mirror is whole", act: add, arrays: []Array{whole}, outcome: SettledDone, clear: true, detail: "add of /dev/vdb finished"},
		{name: "its recovery runs", act: add, arrays: []Array{recovering}, outcome: SettledRecovering, busy: true, see: true},
		{name: "its recovery runs, seen before", act: with(add, func(j *Journalled) { j.RecoverySeen = true }),
			arrays: []Array{recovering}, outcome: SettledRecovering, busy: true},
		{name: "the added device waits as a spare", act: add, arrays: []Array{withSpare}, outcome: SettledRecovering, busy: true, see: true},
		{name: "a faulty spare is no recovery", act: add, arrays: []Array{withFaultySpare}, outcome: SettledPending, busy: true,
			until: add.IssuedAt.Add(2*time.Minute + time.Millisecond)},
		{name: "issued, nothing shows yet", act: add, arrays: []Array{degraded}, outcome: SettledPending, busy: true,
			until: add.IssuedAt.Add(2*time.Minute + time.Millisecond)},
		{name: "issued over the timeout ago", act: with(add, func(j *Journalled) { j.IssuedAt = now.Add(-3 * time.Minute) }),
			arrays: []Array{degraded}, outcome: SettledStuck, busy: true, detail: "was issued 3m0s ago and no recovery shows"},
		{name: "a recovery ran, the mirror is not whole", act: with(add, func(j *Journalled) { j.IssuedAt, j.RecoverySeen = now.Add(-3*time.Minute), true }),
			arrays: []Array{degraded}, outcome: SettledStuck, busy: true, detail: "did the new member fail?"},
		{name: "the array is gone", act: with(add, func(j *Journalled) { j.IssuedAt = now.Add(-3 * time.Minute) }),
			outcome: SettledStuck, busy: true, detail: "the array is gone from /proc/mdstat"},
		{name: "failed, in its backoff", act: with(add, func(j *Journalled) { j.Failed, j.IssuedAt = "mdadm: busy", now.Add(-5*time.Second) }),
			arrays: []Array{degraded}, outcome: SettledBackoff, busy: true, until: now.Add(15 * time.Second)},
		{name: "failed, the backoff over", act: with(add, func(j *Journalled) { j.Failed, j.IssuedAt = "mdadm: busy", now.Add(-21*time.Second) }),
			arrays: []Array{degraded}, outcome: SettledRetry},
		{name: "failed, yet a recovery runs", act: with(add, func(j *Journalled) { j.Failed = "mdadm: timed out" }),
			arrays: []Array{recovering}, outcome: SettledRecovering, busy: true, see: true},
		{name: "failed the last time allowed", act: with(add, func(j *Journalled) { j.Failed, j.Attempts = "mdadm: refused", 3 }),
			arrays: []Array{degraded}, outcome: SettledGaveUp, busy: true, detail: "failed 3 times, the last: mdadm: refused"},
		{name: "gave up, though whole now", act: with(add, func(j *Journalled) { j.Failed, j.Attempts = "mdadm: refused", 3 }),
			arrays: []Array{whole}, outcome: SettledDone, clear: true},
		{name: "a run that took", act: Journalled{Kind: KindRun, IssuedAt: now.Add(-time.Second), Attempts: 1},
			arrays: []Array{degraded}, outcome: SettledStarted, clear: true},
		{name: "a run not taken yet", act: Journalled{Kind: KindRun, IssuedAt: now.Add(-time.Second), Attempts: 1},
			arrays: []Array{inactive}, outcome: SettledPending, busy: true, until: now.Add(-time.Second + 2*time.Minute + time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Settle(map[string]Journalled{"md0": tc.act}, tc.arrays, now, policy)
			if len(got) != 1 {
				t.Fatalf("%d settlements", len(got))
			}
			s := got[0]
			if s.Array != "md0" || s.Outcome != tc.outcome || s.Busy != tc.busy || s.Clear != tc.clear || s.SeeRecovery != tc.see || !s.Until.Equal(tc.until) {
				t.Fatalf("got %+v\nwant outcome %s busy %v clear %v see %v until %v", s, tc.outcome, tc.busy, tc.clear, tc.see, tc.until)
			}
			if !strings.Contains(s.Detail, tc.detail) {
				t.Fatalf("detail %q, want %q in it", s.Detail, tc.detail)
			}
		})
	}
}
