// Package storagewatch is agentd's storage agent: it watches the md mirrors (woken by
// /proc/mdstat's change events, with a slow periodic re-read as a safety net), plans with
// mdraid.Plan, carries out at most one action per mirror (journalled in bbolt before it is
// issued, so a restart never acts twice), follows the recovery, and records every step as an
// event. It needs no database.
package storagewatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/event"
	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/internal/instancemeta"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/mdraid"
)

// EventSource is the Queue field of the storage agent's events.
const EventSource = "storage"

// Options are the watcher's settings beyond the config.
type Options struct {
	DevRoot string // where /dev is found under ("/")
	// AddTimeout is how long an issued add may go without a recovery or spare showing before
	// the watcher reports it (it never adds a second device to the mirror by itself).
	AddTimeout time.Duration
	Now        func() time.Time
	// Beat, when set, is called at every turn of Run's loop (a watchdog's supervisor):
	// at least every rescan, and after each look.
	Beat func()
}

// Watcher is the storage agent.
type Watcher struct {
	cfg   config.Storage
	opt   Options
	store *state.Store
	mdadm mdraid.Mdadm
	disc  mdraid.Discovery
	log   *slog.Logger

	inactiveSince map[string]time.Time
	said          map[string]string    // last decision announced per array
	told          map[told]bool        // the journal's outcomes announced (stuck, gave up), once each
	readErr       string               // the last failure to read the arrays, announced once
	progressAt    map[string]time.Time // last progress event per array

	mu     sync.Mutex
	snap   Snapshot
	paused map[string]Pause // by array: an operator's command at work on it
}

// Pause holds the agent's actions on one array while an operator's command works on it
// (agentctl storage verify, init): it lapses at Until unless renewed, so a killed command
// cannot hold the agent forever.
type Pause struct {
	Until time.Time `json:"until"`
	By    string    `json:"by"`
}

// Pause holds the agent's actions on arrays until until (renewed by calling it again).
func (w *Watcher) Pause(arrays []string, until time.Time, by string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused == nil {
		w.paused = map[string]Pause{}
	}
	for _, a := range arrays {
		w.paused[a] = Pause{Until: until, By: by}
	}
}

// PauseAll, as an array's name, holds the agent's actions on every array (storage init:
// the arrays it builds have no name yet, and its blank disks must not be taken meanwhile).
const PauseAll = "*"

// Resume lets the agent act on arrays again.
func (w *Watcher) Resume(arrays []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range arrays {
		delete(w.paused, a)
	}
}

// pausedNow returns the pauses in force at now, forgetting the lapsed ones.
func (w *Watcher) pausedNow(now time.Time) map[string]Pause {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]Pause{}
	for a, p := range w.paused {
		if now.Before(p.Until) {
			out[a] = p
		} else {
			delete(w.paused, a)
		}
	}
	return out
}

// Snapshot is the latest look, for the status socket.
type Snapshot struct {
	Mode      string            `json:"mode"`
	Checked   time.Time         `json:"checked"`
	MD        bool              `json:"md"`
	Error     string            `json:"error,omitempty"`
	Arrays    []mdraid.Array    `json:"arrays"`
	Decisions []mdraid.Decision `json:"decisions"`
	// Paused are the arrays an operator's command works on (no action meanwhile).
	Paused map[string]Pause `json:"paused,omitempty"`
	// Slots are the recorded slots of the mirrors' SSDs, by array UUID.
	Slots map[string]state.SlotRecord `json:"slots,omitempty"`
	// NextLook is when a timer of this look falls due (an inactive mirror's grace period,
	// a failed command's backoff, an add's timeout, or at once after an action): Run looks
	// again then, or at the next change event or rescan if sooner. Zero: no timer.
	NextLook time.Time `json:"next_look,omitempty"`
}

// due keeps the earliest of the look's timers.
func (s *Snapshot) due(t time.Time) {
	if s.NextLook.IsZero() || t.Before(s.NextLook) {
		s.NextLook = t
	}
}

// New makes a watcher; run is the runner for mdadm and wipefs.
func New(cfg config.Storage, opt Options, store *state.Store, run hostexec.Runner, log *slog.Logger) *Watcher {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AddTimeout <= 0 {
		opt.AddTimeout = 2 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, opt: opt, store: store, log: log.With("component", "storage"),
		mdadm:         mdraid.Mdadm{Run: run},
		disc:          Discovery(cfg, opt, run),
		inactiveSince: map[string]time.Time{}, said: map[string]string{}, told: map[told]bool{}, progressAt: map[string]time.Time{},
		snap: Snapshot{Mode: cfg.Mode}}
}

// Discovery describes candidates as the config says: by name, and by the instance metadata
// when confirm_with_metadata is set.
func Discovery(cfg config.Storage, opt Options, run hostexec.Runner) mdraid.Discovery {
	d := mdraid.Discovery{DevRoot: opt.DevRoot, SysRoot: cfg.SysRoot, ProcRoot: cfg.ProcRoot, Patterns: cfg.Candidates, Run: run}
	if cfg.ConfirmWithMetadata {
		d.Ephemeral = func(ctx context.Context) (map[string]bool, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return instancemeta.EphemeralDevices(ctx, cfg.MetadataEndpoint)
		}
	}
	return d
}

// Snapshot returns the latest look.
func (w *Watcher) Snapshot() Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap
}

func (w *Watcher) event(kind, array, detail string) {
	w.log.Info(kind, "array", array, "detail", detail)
	if w.store != nil {
		if err := w.store.AddEvent(event.Event{Time: w.opt.Now(), Queue: EventSource, Kind: kind, Label: array, Detail: detail}); err != nil {
			w.log.Error("record event", "err", err)
		}
	}
}

// Step looks once: read the arrays, settle the journalled actions, plan, act.
func (w *Watcher) Step(ctx context.Context) error {
	now := w.opt.Now()
	arrays, err := mdraid.Read(w.cfg.ProcRoot, w.cfg.SysRoot)
	snap := Snapshot{Mode: w.cfg.Mode, Checked: now, MD: true}
	defer func() {
		w.mu.Lock()
		w.snap = snap
		w.mu.Unlock()
	}()
	if errors.Is(err, mdraid.ErrNoMD) {
		snap.MD = false
		return nil
	}
	if err != nil {
		snap.Error = err.Error()
		if w.readErr != err.Error() {
			w.readErr = err.Error()
			w.event("read-failed", "", err.Error())
		}
		return err
	}
	w.readErr = ""
	in := Gather(ctx, w.cfg, w.mdadm, w.disc, arrays, false, w.log)
	arrays = in.Arrays
	snap.Arrays = arrays

	journal, err := w.store.StorageActions()
	if err != nil {
		return fmt.Errorf("read the storage journal: %w", err)
	}
	busy := map[string]bool{}
	byName := map[string]mdraid.Array{}
	for _, a := range arrays {
		byName[a.Name] = a
		if !a.Active {
			if _, ok := w.inactiveSince[a.Name]; !ok {
				w.inactiveSince[a.Name] = now
			}
			if end := w.inactiveSince[a.Name].Add(w.cfg.Grace.Duration); end.After(now) && w.cfg.Watches(a.Name) {
				snap.due(end) // the grace period is a timer, not the next rescan
				// And look every second meanwhile: members join an inactive array
				// (mdadm --incremental) without any event.
				snap.due(now.Add(time.Second))
			}
		} else {
			delete(w.inactiveSince, a.Name)
		}
	}
	// Find each journalled action's array by UUID (it may have been assembled under another
	// name since), else by name; from here on actions are by the array's current name.
	actions := map[string]state.StorageAction{}
	for _, act := range journal {
		name := act.Array
		for _, a := range arrays {
			if act.UUID != "" && mdraid.SameUUID(act.UUID, a.UUID) {
				name = a.Name
			}
		}
		if name != act.Array {
			w.log.Info("array renamed since its action", "was", act.Array, "now", name)
			act.Array = name
			if err := w.store.SetStorageAction(act); err != nil {
				return err
			}
		}
		actions[name] = act
	}
	// The journal policy (mdraid.Settle) says what each action has come to; here it is
	// carried out: the journal, the timers, the events (each once).
	journalled := map[string]mdraid.Journalled{}
	for name, act := range actions {
		journalled[name] = mdraid.Journalled{Kind: act.Kind, Device: act.Device, IssuedAt: act.IssuedAt,
			RecoverySeen: act.RecoverySeen, Failed: act.Failed, Attempts: act.Attempts}
	}
	policy := mdraid.JournalPolicy{AddTimeout: w.opt.AddTimeout, MaxAttempts: MaxAttempts, Backoff: backoff}
	for _, st := range mdraid.Settle(journalled, arrays, now, policy) {
		name, act := st.Array, actions[st.Array]
		if st.Busy {
			busy[name] = true
		}
		if !st.Until.IsZero() {
			snap.due(st.Until)
		}
		if st.Clear {
			if err := w.store.ClearStorageAction(act.Key()); err != nil {
				return err
			}
			delete(actions, name)
		}
		if st.SeeRecovery {
			act.RecoverySeen = true
			if err := w.store.SetStorageAction(act); err != nil {
				return err
			}
		}
		switch st.Outcome {
		case mdraid.SettledDone:
			w.event("done", name, st.Detail)
			delete(w.told, told{name, mdraid.SettledStuck})
			delete(w.told, told{name, mdraid.SettledGaveUp})
		case mdraid.SettledGaveUp, mdraid.SettledStuck:
			if !w.told[told{name, st.Outcome}] {
				w.told[told{name, st.Outcome}] = true
				if st.Outcome == mdraid.SettledGaveUp {
					w.log.Error("mirror needs a human", "array", name, "reason", act.Failed)
					w.event("needs-human", name, st.Detail)
				} else {
					w.event("stuck", name, st.Detail)
				}
			}
		}
	}
	// A recovery's end should wake the watcher by itself (md's change event), but the kernel
	// may take a while to retire a finished recovery: look again around its predicted end
	// (half the time left, at least every 10 s for the progress events, at most every
	// second near the end).
	// A recovery that shows no progress (md starting it, or retiring a finished one: the
	// step that was once seen 10 s late) or a spare that waits for one: every second.
	for _, a := range arrays {
		if a.Active && (a.Recovering() || a.HasSpare()) && w.cfg.Watches(a.Name) {
			left := 10 * time.Second
			switch {
			case a.Sync == nil:
				left = time.Second
			case a.Sync.FinishMin > 0:
				left = time.Duration(a.Sync.FinishMin * float64(time.Minute) / 2)
			}
			snap.due(now.Add(min(max(left, time.Second), 10*time.Second)))
		}
	}
	for name := range w.inactiveSince {
		if _, listed := byName[name]; !listed {
			delete(w.inactiveSince, name) // stopped: a new assembly starts a new grace period
		}
	}

	slots, err := w.recordSlots(arrays)
	if err != nil {
		return err
	}
	snap.Slots = slots
	in.Slots = map[string]string{}
	for uuid, r := range slots {
		in.Slots[uuid] = r.Slot
	}
	in.AnySlot = w.cfg.Pairing == config.PairingAny
	// The plan's clock is read now, after the gathering (mdadm and wipefs take their
	// time): a grace period that ended meanwhile has ended.
	in.Now, in.InactiveSince, in.Busy = w.opt.Now(), w.inactiveSince, busy
	decisions := mdraid.Plan(in)
	// An array an operator's command works on: nothing is done to it meanwhile.
	paused := w.pausedNow(in.Now)
	if len(paused) > 0 {
		snap.Paused = paused
	}
	for i, d := range decisions {
		p, ok := paused[d.Array]
		if !ok {
			p, ok = paused[PauseAll]
		}
		if !ok {
			continue
		}
		snap.due(p.Until)
		switch d.Kind {
		case mdraid.KindAdd, mdraid.KindReAdd, mdraid.KindRun:
			decisions[i] = mdraid.Decision{Array: d.Array, Kind: mdraid.KindWait,
				Reason: fmt.Sprintf("paused by %s until %s (it would: %s %s — %s)", p.By, p.Until.Format(time.TimeOnly), d.Kind, d.Device, d.Reason)}
		}
	}
	snap.Decisions = decisions
	for _, d := range decisions {
		w.announce(d, byName[d.Array])
	}
	if w.cfg.Mode != config.StorageEnabled {
		return nil // observe-only: announced, not done
	}
	// Starting a mirror first (quick, and it gives the volume group its disks back), then
	// the adds.
	for _, kinds := range [][]string{{mdraid.KindRun}, {mdraid.KindAdd, mdraid.KindReAdd}} {
		for _, d := range decisions {
			if !slices.Contains(kinds, d.Kind) {
				continue
			}
			if err := w.act(ctx, d, mdraid.CanonicalUUID(byName[d.Array].UUID), actions[d.Array]); err != nil {
				w.log.Error("action failed", "array", d.Array, "err", err)
				snap.due(now.Add(backoff(actions[d.Array].Attempts + 1))) // its retry
				continue
			}
			// Look again at once: what mdadm changed may need no event to be seen (and
			// the next mirror may be free to go).
			snap.due(now)
		}
	}
	return nil
}

// recordSlots records, for every healthy mirror of an SSD and a write-mostly EBS member,
// the slot its SSD sits in (mdraid.Slot), when it is new or changed, and returns every
// record: after a move to new hardware, the blank SSD of that slot goes back to that mirror.
func (w *Watcher) recordSlots(arrays []mdraid.Array) (map[string]state.SlotRecord, error) {
	records, err := w.store.Slots()
	if err != nil {
		return nil, fmt.Errorf("read the slot records: %w", err)
	}
	for _, a := range arrays {
		if !a.Active || a.Degraded != 0 || mdraid.CanonicalUUID(a.UUID) == "" || a.HasSpare() || a.Recovering() || !w.cfg.Watches(a.Name) {
			continue
		}
		var ssd []mdraid.Member
		ebs := 0
		for _, m := range a.Members {
			switch {
			case !m.Working():
			case m.WriteMostly:
				ebs++
			default:
				ssd = append(ssd, m)
			}
		}
		if len(ssd) != 1 || ebs == 0 {
			continue // not the SSD+EBS mirror this agent repairs
		}
		slot := mdraid.Slot(w.cfg.SysRoot, ssd[0].Device)
		uuid := mdraid.CanonicalUUID(a.UUID)
		if slot == "" || records[uuid].Slot == slot {
			continue
		}
		r := state.SlotRecord{UUID: uuid, Array: a.Name, Slot: slot, Device: ssd[0].Device, RecordedAt: w.opt.Now()}
		if err := w.store.SetSlot(r); err != nil {
			return nil, fmt.Errorf("record the slot of %s's SSD: %w", a.Name, err)
		}
		was := ""
		if old, ok := records[uuid]; ok {
			was = fmt.Sprintf(" (was %s)", old.Slot)
		}
		w.event("slot-recorded", a.Name, fmt.Sprintf("its SSD %s sits in slot %s%s: after a move to new hardware, that slot's blank SSD comes back to this mirror", ssd[0].Device, slot, was))
		records[uuid] = r
	}
	return records, nil
}

// Gather completes what the planner needs beyond the arrays read: member roles from
// mdadm --detail where sysfs had none (an old kernel, /sys not mounted), the superblocks of
// inactive members, and the candidate devices (when a mirror is degraded, or always).
// Now, InactiveSince and Busy are the caller's.
func Gather(ctx context.Context, cfg config.Storage, mdadm mdraid.Mdadm, disc mdraid.Discovery, arrays []mdraid.Array,
	alwaysCandidates bool, log *slog.Logger) mdraid.Input {
	in := mdraid.Input{Arrays: arrays, Grace: cfg.Grace.Duration, MaxParallel: cfg.MaxParallel, Watch: cfg.Watches,
		Examine: map[string]mdraid.Examine{}}
	degraded := false
	for i := range arrays {
		a := &arrays[i]
		if a.Active && len(a.Warnings) > 0 {
			if d, err := mdadm.Detail(ctx, a.Name); err == nil {
				mdraid.ApplyDetail(a, d)
			} else {
				log.Warn("no member states for array", "array", a.Name, "err", err)
			}
		}
		if !a.Active && cfg.Watches(a.Name) {
			for _, m := range a.Members {
				e := mdadm.Examine(ctx, m.Device)
				in.Examine[m.Device] = e
				// Still being assembled, sysfs gives the array no UUID: its member's
				// superblock does.
				if mdraid.CanonicalUUID(a.UUID) == "" && e.Superblock {
					a.UUID = e.ArrayUUID
				}
			}
		}
		degraded = degraded || (a.Active && a.Degraded > 0)
	}
	if degraded || alwaysCandidates {
		var err error
		if in.Candidates, err = disc.Find(ctx, arrays); err != nil {
			log.Error("find candidate devices", "err", err)
		}
	}
	return in
}

// told is an outcome of an array's journalled action that was announced.
type told struct{ array, outcome string }

// backoff is how long to wait before trying a failed mdadm command again.
func backoff(attempts int) time.Duration {
	d := 10 * time.Second << min(attempts, 6)
	return min(d, 10*time.Minute)
}

// announce logs and records a decision when it changed, and recovery progress now and then.
func (w *Watcher) announce(d mdraid.Decision, a mdraid.Array) {
	key := d.Kind + " " + d.Device
	if d.Kind == mdraid.KindFollow && a.Sync != nil {
		if now := w.opt.Now(); now.Sub(w.progressAt[d.Array]) >= 10*time.Second {
			w.progressAt[d.Array] = now
			w.event("progress", d.Array, d.Reason)
		}
	}
	if w.said[d.Array] == key {
		return
	}
	w.said[d.Array] = key
	detail := d.Reason
	for _, r := range d.Refused {
		detail += fmt.Sprintf("; refused %s: %s", r.Path, r.Reason)
	}
	switch d.Kind {
	case mdraid.KindOK, mdraid.KindIgnore:
		if d.Kind == mdraid.KindOK {
			w.event("in-sync", d.Array, detail)
		}
	case mdraid.KindHuman:
		w.log.Error("mirror needs a human", "array", d.Array, "reason", detail)
		w.event("needs-human", d.Array, detail)
	case mdraid.KindAdd, mdraid.KindReAdd, mdraid.KindRun:
		if w.cfg.Mode != config.StorageEnabled {
			w.event("would-"+d.Kind, d.Array, fmt.Sprintf("%s (observe-only: nothing done)", detail))
		} else {
			w.event("degraded", d.Array, detail)
		}
	default:
		w.event(d.Kind, d.Array, detail)
	}
}

// MaxAttempts is how many times a failing mdadm action is tried on one mirror before the
// agent leaves it to a human.
const MaxAttempts = 3

// act journals the action, then issues it. A journalled action that did not fail stands:
// the agent never acts twice on one mirror.
func (w *Watcher) act(ctx context.Context, d mdraid.Decision, uuid string, prev state.StorageAction) error {
	if prev.Array != "" && prev.Failed == "" {
		return fmt.Errorf("%s: %s of %s is journalled already; not acting again", d.Array, prev.Kind, prev.Device)
	}
	if prev.Array != "" && prev.Key() != (state.StorageAction{Array: d.Array, UUID: uuid}).Key() {
		_ = w.store.ClearStorageAction(prev.Key()) // the array's UUID is known now: keep one record
	}
	rec := state.StorageAction{Array: d.Array, UUID: uuid, Kind: d.Kind, Device: d.Device, IssuedAt: w.opt.Now(), Attempts: prev.Attempts + 1}
	if err := w.store.SetStorageAction(rec); err != nil {
		return fmt.Errorf("journal the action before issuing it: %w", err)
	}
	var err error
	var msg string
	started := w.opt.Now()
	switch d.Kind {
	case mdraid.KindAdd:
		msg, err = w.mdadm.Add(ctx, d.Array, d.Device)
	case mdraid.KindReAdd:
		msg, err = w.mdadm.ReAdd(ctx, d.Array, d.Device)
	case mdraid.KindRun:
		msg, err = w.mdadm.Start(ctx, d.Array)
	}
	if err != nil {
		rec.Failed = err.Error()
		if jerr := w.store.SetStorageAction(rec); jerr != nil {
			return jerr
		}
		w.said[d.Array] = "" // announce again when it is retried
		w.event(d.Kind+"-failed", d.Array, fmt.Sprintf("%v; trying again in %s", err, backoff(rec.Attempts)))
		return err
	}
	// The event carries the moment mdadm was started; its detail says how long it ran.
	if w.store != nil {
		detail := fmt.Sprintf("mdadm %s %s (ran %s): %s", d.Kind, d.Device, w.opt.Now().Sub(started).Round(time.Millisecond), msg)
		w.log.Info(d.Kind+"-issued", "array", d.Array, "detail", detail)
		if err := w.store.AddEvent(event.Event{Time: started, Queue: EventSource, Kind: d.Kind + "-issued", Label: d.Array, Detail: detail}); err != nil {
			w.log.Error("record event", "err", err)
		}
	}
	return nil
}

// Run watches until ctx ends: a look at start, then one on every change event of
// /proc/mdstat (poll(2) for POLLPRI), when a look's timer falls due (Snapshot.NextLook),
// and every rescan interval.
func (w *Watcher) Run(ctx context.Context) error {
	rescan := w.cfg.Rescan.Duration
	if rescan <= 0 {
		rescan = 30 * time.Second
	}
	f, err := os.Open(filepath.Join(w.cfg.ProcRoot, "mdstat"))
	if err != nil {
		f = nil // no md: periodic looks only, in case the module is loaded later
	} else {
		defer f.Close()
	}
	uev, err := openUevents()
	if err != nil {
		w.log.Warn("no kernel uevents: arrays that appear inactive and new disks are seen at the rescan", "err", err)
	} else {
		defer uev.close()
	}
	// A pipe closed when ctx ends wakes the poll at once: no timer ticks while idle.
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("storage watcher: %w", err)
	}
	defer stopR.Close()
	go func() { // owner: Run; ends when ctx ends
		<-ctx.Done()
		stopW.Close()
	}()
	for {
		if w.opt.Beat != nil {
			w.opt.Beat()
		}
		if f != nil {
			// Reading to the end arms the next change event. Before the look, not after
			// it: a change during the look (the one its own mdadm caused) wakes the next.
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				_, _ = io.Copy(io.Discard, f)
			}
		}
		if err := w.Step(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("storage look failed", "err", err)
		}
		d := rescan
		if next := w.Snapshot().NextLook; !next.IsZero() {
			d = min(d, max(next.Sub(w.opt.Now()), 0))
		}
		if wait(f, stopR, uev, d) {
			// A block device changed: give the burst a moment to settle (mdadm creates
			// the array, then adds its members), then look.
			sleepCtx(ctx, 50*time.Millisecond)
			uev.drain()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// wait returns at a change event of mdstat (POLLPRI), when stop becomes readable (ctx
// ended), or after d; or when a kernel uevent about a block device arrives, and then it
// says so.
func wait(mdstat, stop *os.File, uev *ueventSocket, d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(stop.Fd()), Events: unix.POLLIN | unix.POLLHUP}}
	if mdstat != nil {
		fds = append(fds, unix.PollFd{Fd: int32(mdstat.Fd()), Events: unix.POLLPRI | unix.POLLERR})
	}
	if uev != nil {
		fds = append(fds, unix.PollFd{Fd: uev.fd(), Events: unix.POLLIN})
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false
		}
		if n == 0 {
			continue
		}
		if uev != nil && fds[len(fds)-1].Revents != 0 && fds[0].Revents == 0 && (mdstat == nil || fds[1].Revents == 0) {
			if uev.drain() {
				return true
			}
			continue // uevents of other subsystems: keep waiting
		}
		return false
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
