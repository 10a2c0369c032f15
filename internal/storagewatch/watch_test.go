package storagewatch

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/aemmtest"
	"github.com/fitsarchive/agentd/internal/config"
	"github.com/fitsarchive/agentd/internal/hostexec/hostexectest"
	"github.com/fitsarchive/agentd/internal/state"
)

// runner answers the watcher's commands (hostexectest: any other command fails the test):
// mdadm --examine finds no superblock; every other mdadm command line is recorded and
// succeeds, or fails while failMdadm is set; wipefs runs for real (the blank proof, on
// image files).
type runner struct {
	*hostexectest.Fake
	mu        sync.Mutex
	failMdadm error
}

func newRunner(t testing.TB) *runner {
	r := &runner{}
	r.Fake = hostexectest.New(t).
		On(hostexectest.Reply{Stderr: "mdadm: No md superblock detected (test)", ExitCode: 1}, "mdadm", "--examine").
		OnFunc(func(argv []string) hostexectest.Reply {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.failMdadm != nil {
				return hostexectest.Reply{Stderr: r.failMdadm.Error(), ExitCode: 1}
			}
			return hostexectest.Reply{Stderr: "mdadm: added " + argv[len(argv)-1] + "\n"}
		}, "mdadm").
		Real("wipefs")
	return r
}

func (r *runner) failing(err error) *runner {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failMdadm = err
	return r
}

// calls are the mdadm command lines that change something (not --examine), without "mdadm ".
func (r *runner) calls() []string {
	var out []string
	for _, c := range r.Calls() {
		if line, ok := strings.CutPrefix(c, "mdadm "); ok && !strings.HasPrefix(line, "--examine") {
			out = append(out, line)
		}
	}
	return out
}

// host is a /proc, /sys and /dev the test can move from state to state.
type host struct {
	t                    *testing.T
	root, proc, sys, dev string
}

func newHost(t *testing.T) *host {
	h := &host{t: t, root: t.TempDir()}
	h.proc, h.sys, h.dev = filepath.Join(h.root, "proc"), filepath.Join(h.root, "sys"), filepath.Join(h.root, "devroot")
	os.MkdirAll(filepath.Join(h.dev, "dev", "disk", "by-id"), 0o755)
	// Two blank instance-store "devices" (image files; the real wipefs finds nothing on them),
	// named as the SSDs of the captured scenario, so that a tree showing vda in md0 shows
	// the device the agent added.
	for _, name := range []string{"vda", "vdc"} {
		f, _ := os.Create(filepath.Join(h.dev, "dev", name))
		f.Truncate(300 << 20)
		f.Close()
		os.Symlink("../../"+name, filepath.Join(h.dev, "dev", "disk", "by-id", "nvme-Amazon_EC2_NVMe_Instance_Storage_"+name))
	}
	return h
}

// set puts the host in a captured state (mdraid/testdata/trees).
func (h *host) set(state string) {
	h.t.Helper()
	os.RemoveAll(h.proc)
	os.RemoveAll(h.sys)
	src := filepath.Join("..", "..", "mdraid", "testdata", "trees", state)
	if err := os.CopyFS(h.proc, os.DirFS(filepath.Join(src, "proc"))); err != nil {
		h.t.Fatal(err)
	}
	if err := os.CopyFS(h.sys, os.DirFS(filepath.Join(src, "sys"))); err != nil {
		h.t.Fatal(err)
	}
	for _, name := range []string{"vda", "vdc"} {
		os.MkdirAll(filepath.Join(h.sys, "class", "block", name), 0o755)
		os.WriteFile(filepath.Join(h.sys, "class", "block", name, "size"), []byte("614400\n"), 0o644)
	}
}

func (h *host) watcher(store *state.Store, r *runner, mode string, now *time.Time) *Watcher {
	cfg := config.Defaults().Storage
	cfg.Mode, cfg.ProcRoot, cfg.SysRoot = mode, h.proc, h.sys
	return New(cfg, Options{DevRoot: h.dev, Now: func() time.Time { return *now }}, store, r, nil)
}

func openStore(t *testing.T, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func kinds(t *testing.T, s *state.Store) string {
	t.Helper()
	evs, err := s.Events(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Label+":"+e.Kind)
	}
	return strings.Join(out, " ")
}

// The migration scenario, step by step: degraded → one add, md0 first → a restart in the
// middle of md0's recovery does not add again → md0 whole: md1's turn, with the other SSD →
// both whole.
func TestScenarioAddsOnceFollowsAndSurvivesRestart(t *testing.T) {
	h := newHost(t)
	r := newRunner(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	statePath := filepath.Join(t.TempDir(), "agent.db")
	store := openStore(t, statePath)
	w := h.watcher(store, r, config.StorageEnabled, &now)
	ctx := context.Background()
	step := func(state string) {
		t.Helper()
		h.set(state)
		now = now.Add(time.Second)
		if err := w.Step(ctx); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
	}
	ssd0 := "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_vda"
	ssd1 := "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_vdc"

	step("degraded")
	if c := r.calls(); len(c) != 1 || c[0] != "/dev/md0 --add "+ssd0 {
		t.Fatalf("mdadm calls %v, want one add to md0", c)
	}
	step("degraded") // the kernel has not shown the new member yet: no second add
	if c := r.calls(); len(c) != 1 {
		t.Fatalf("second look: mdadm calls %v", c)
	}
	// Restart in the middle of md0's recovery: a new watcher on the same journal.
	store.Close()
	store = openStore(t, statePath)
	defer store.Close()
	w = h.watcher(store, r, config.StorageEnabled, &now)
	step("recovery-md0")
	if c := r.calls(); len(c) != 1 {
		t.Fatalf("after restart: mdadm calls %v, want still one", c)
	}
	step("md0-whole")
	if c := r.calls(); len(c) != 2 || c[1] != "/dev/md1 --add "+ssd1 {
		t.Fatalf("mdadm calls %v, want md1 given the other SSD once md0 is whole", c)
	}
	step("recovery") // md1 recovering
	step("clean")
	acts, _ := store.StorageActions()
	if len(acts) != 0 {
		t.Fatalf("journal still holds %v after the mirrors are whole", acts)
	}
	got := kinds(t, store)
	for _, want := range []string{"md0:degraded", "md0:add-issued", "md1:wait", "md0:progress", "md0:done", "md1:add-issued", "md1:done", "md1:in-sync"} {
		if !strings.Contains(got, want) {
			t.Errorf("events lack %s: %s", want, got)
		}
	}
	if strings.Count(got, "md0:add-issued") != 1 || strings.Count(got, "md1:add-issued") != 1 {
		t.Errorf("an add issued more than once: %s", got)
	}
	evs, _ := store.Events(100)
	for _, e := range evs {
		if e.Kind == "add-issued" && !strings.Contains(e.Detail, "mdadm: added "+ssd0) && !strings.Contains(e.Detail, "mdadm: added "+ssd1) {
			t.Errorf("add-issued event without mdadm's message: %+v", e)
		}
	}
}

func TestObserveOnlyDoesNothing(t *testing.T) {
	h := newHost(t)
	r := newRunner(t)
	now := time.Now()
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageObserve, &now)
	h.set("degraded")
	for i := 0; i < 3; i++ {
		w.Step(context.Background())
	}
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("observe-only ran mdadm: %v", c)
	}
	if got := kinds(t, store); strings.Count(got, "md0:would-add") != 1 {
		t.Fatalf("events %s, want one would-add for md0", got)
	}
}

// mdadm fails (the device vanished): logged with its error, retried after a backoff, and
// never two devices for one mirror.
func TestFailedAddIsRetriedWithBackoff(t *testing.T) {
	h := newHost(t)
	r := newRunner(t).failing(errors.New("mdadm: cannot open /dev/nvme1n1: No such file or directory"))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	h.set("degraded")
	ctx := context.Background()
	w.Step(ctx)
	now = now.Add(5 * time.Second)
	w.Step(ctx) // within the backoff: no new try
	if c := r.calls(); len(c) != 1 {
		t.Fatalf("calls %v", c)
	}
	now = now.Add(30 * time.Second)
	r.failing(nil)
	w.Step(ctx)
	if c := r.calls(); len(c) != 2 || !strings.Contains(c[1], "--add") {
		t.Fatalf("calls %v, want a second try after the backoff", c)
	}
	got := kinds(t, store)
	if !strings.Contains(got, "md0:add-failed") || !strings.Contains(got, "md0:add-issued") {
		t.Fatalf("events %s", got)
	}
	evs, _ := store.Events(100)
	for _, e := range evs {
		if e.Kind == "add-failed" && !strings.Contains(e.Detail, "No such file") {
			t.Fatalf("failure event without mdadm's message: %+v", e)
		}
	}
}

// A mirror whose EBS member failed is never touched; it is reported once.
func TestNeedsHumanIsReportedOnce(t *testing.T) {
	h := newHost(t)
	r := newRunner(t)
	now := time.Now()
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	h.set("faulty")
	for i := 0; i < 3; i++ {
		w.Step(context.Background())
	}
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("mdadm ran on a mirror that lost its EBS member: %v", c)
	}
	if got := kinds(t, store); strings.Count(got, "md0:needs-human") != 1 {
		t.Fatalf("events %s", got)
	}
}

// Run wakes up for changes and stops with its context.
func TestRunLoopStopsWithContext(t *testing.T) {
	h := newHost(t)
	r := newRunner(t)
	now := time.Now()
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	h.set("degraded")
	w := h.watcher(store, r, config.StorageEnabled, &now)
	w.cfg.Rescan.Duration = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.calls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop within 2 s of its context")
	}
	if len(r.calls()) != 1 {
		t.Fatalf("calls %v", r.calls())
	}
	if s := w.Snapshot(); !s.MD || len(s.Decisions) != 2 {
		t.Fatalf("snapshot %+v", s)
	}
}

// On a Xen host the instance-store disks are xvd* like any other: only the instance
// metadata (here the real amazon-ec2-metadata-mock, whose default maps ephemeral0 to sdb)
// says xvdb is instance storage; xvdc, unlisted, is refused.
func TestXenNamesConfirmedByInstanceMetadata(t *testing.T) {
	h := newHost(t)
	for _, name := range []string{"xvdb", "xvdc"} {
		f, _ := os.Create(filepath.Join(h.dev, "dev", name))
		f.Truncate(300 << 20)
		f.Close()
	}
	h.set("degraded")
	for _, name := range []string{"xvdb", "xvdc"} {
		os.MkdirAll(filepath.Join(h.sys, "class", "block", name), 0o755)
		os.WriteFile(filepath.Join(h.sys, "class", "block", name, "size"), []byte("614400\n"), 0o644)
	}
	r := newRunner(t)
	now := time.Now()
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	cfg := config.Defaults().Storage
	cfg.Mode, cfg.ProcRoot, cfg.SysRoot = config.StorageEnabled, h.proc, h.sys
	cfg.Candidates = []string{"/dev/xvd*"}
	cfg.ConfirmWithMetadata, cfg.MetadataEndpoint = true, aemmtest.Start(t, "")
	w := New(cfg, Options{DevRoot: h.dev, Now: func() time.Time { return now }}, store, r, nil)
	if err := w.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := r.calls(); len(c) != 1 || c[0] != "/dev/md0 --add /dev/xvdb" {
		t.Fatalf("mdadm calls %v, want xvdb added to md0", c)
	}
	d := w.Snapshot().Decisions[0]
	if len(d.Refused) != 1 || d.Refused[0].Path != "/dev/xvdc" || d.Refused[0].Reason != "not positively instance storage" {
		t.Fatalf("md0 decision %+v", d)
	}
}

// An inactive mirror whose mdadm --run fails is not run again on every look: after a
// backoff, and after MaxAttempts failures never again, with one needs-human event.
func TestFailingRunIsNotRepeatedEveryLook(t *testing.T) {
	h := newHost(t)
	os.MkdirAll(h.proc, 0o755)
	os.MkdirAll(h.sys, 0o755)
	os.WriteFile(filepath.Join(h.proc, "mdstat"), []byte("Personalities : [raid1] \nmd0 : inactive vdb[1](S)\n      261048 blocks super 1.2\n       \nunused devices: <none>\n"), 0o644)
	r := newRunner(t).failing(errors.New("mdadm: failed to start array /dev/md0"))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	w.cfg.Grace.Duration = 0
	// The member's superblock says write-mostly (mdadm --examine through the runner).
	w.mdadm.Run = examineWriteMostly{r}
	ctx := context.Background()
	runs := func() int {
		n := 0
		for _, c := range r.calls() {
			if strings.HasPrefix(c, "--run") {
				n++
			}
		}
		return n
	}
	w.Step(ctx)
	for i := 0; i < 5; i++ { // looks within the backoff
		now = now.Add(time.Second)
		w.Step(ctx)
	}
	if n := runs(); n != 1 {
		t.Fatalf("%d mdadm --run within the backoff, want 1: %v", n, r.calls())
	}
	for i := 0; i < 20; i++ { // long after: retried up to MaxAttempts, then never
		now = now.Add(15 * time.Minute)
		w.Step(ctx)
	}
	if n := runs(); n != MaxAttempts {
		t.Fatalf("%d mdadm --run in all, want %d", n, MaxAttempts)
	}
	if got := kinds(t, store); strings.Count(got, "md0:needs-human") != 1 {
		t.Fatalf("events %s, want one needs-human", got)
	}
}

// examineWriteMostly answers mdadm --examine with the captured superblock of the EBS member.
type examineWriteMostly struct{ r *runner }

func (e examineWriteMostly) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	if name == "mdadm" && len(args) > 0 && args[0] == "--examine" {
		b, err := os.ReadFile("../../mdraid/testdata/migrate/mdadm-examine-ebs0-migrated.txt")
		return b, nil, err
	}
	return e.r.Run(ctx, name, args...)
}

// An array assembled under another name after its add (md0 → md127): the journal finds it
// by UUID, so the agent neither adds again nor keeps a stale record.
func TestJournalFollowsTheArrayByUUID(t *testing.T) {
	h := newHost(t)
	r := newRunner(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	ctx := context.Background()
	rename := func() {
		b, _ := os.ReadFile(filepath.Join(h.proc, "mdstat"))
		os.WriteFile(filepath.Join(h.proc, "mdstat"), []byte(strings.ReplaceAll(string(b), "md0 :", "md127 :")), 0o644)
		if err := os.Rename(filepath.Join(h.sys, "block", "md0"), filepath.Join(h.sys, "block", "md127")); err != nil {
			t.Fatal(err)
		}
	}
	h.set("degraded")
	w.Step(ctx)
	if c := r.calls(); len(c) != 1 || !strings.HasPrefix(c[0], "/dev/md0 --add") {
		t.Fatalf("calls %v", c)
	}
	h.set("recovery-md0")
	rename()
	now = now.Add(time.Second)
	w.Step(ctx)
	if c := r.calls(); len(c) != 1 {
		t.Fatalf("after the rename: calls %v, want no new add", c)
	}
	h.set("md0-whole")
	rename()
	now = now.Add(time.Second)
	w.Step(ctx)
	acts, _ := store.StorageActions()
	for _, a := range acts {
		if a.Array == "md127" || a.Array == "md0" {
			t.Fatalf("journal still holds %+v after md127 is whole", a)
		}
	}
	if got := kinds(t, store); !strings.Contains(got, "md127:done") {
		t.Fatalf("events %s, want md127:done", got)
	}
}

// hookRunner is runner with a hook run after each mdadm command (the host's next state).
type hookRunner struct {
	*runner
	after func(line string)
}

func (h hookRunner) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	out, stderr, err := h.runner.Run(ctx, name, args...)
	if name == "mdadm" && h.after != nil {
		h.after(strings.Join(args, " "))
	}
	return out, stderr, err
}

// runFor runs the watcher's loop (real time, a rescan of an hour: only change events and
// its own timers can wake it) until cond holds or limit passes; it returns how long it took.
func runFor(t *testing.T, w *Watcher, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	w.cfg.Rescan.Duration = time.Hour
	w.opt.Now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not within %s", limit)
	return 0
}

// An inactive mirror is run when its grace period ends: a timer, not the next rescan.
func TestGraceIsATimer(t *testing.T) {
	h := newHost(t)
	os.MkdirAll(h.proc, 0o755)
	os.MkdirAll(h.sys, 0o755)
	os.WriteFile(filepath.Join(h.proc, "mdstat"), []byte("Personalities : [raid1] \nmd0 : inactive vdb[1](S)\n      261048 blocks super 1.2\n       \nunused devices: <none>\n"), 0o644)
	r := newRunner(t)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	now := time.Now()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	w.cfg.Grace.Duration = 700 * time.Millisecond
	w.mdadm.Run = examineWriteMostly{r}
	took := runFor(t, w, 10*time.Second, func() bool {
		for _, c := range r.calls() {
			if strings.HasPrefix(c, "--run") {
				return true
			}
		}
		return false
	})
	if took < 600*time.Millisecond || took > 3*time.Second {
		t.Fatalf("mdadm --run after %s; want at the end of the 700ms grace period", took)
	}
	t.Logf("run after %s (grace 700ms)", took)
}

// After an action the watcher looks again at once: md0's add, md0 whole (in this test at
// once), then md1's add — without an event (the captured tree's mdstat is a plain file) and
// without waiting for the rescan.
func TestLooksAgainRightAfterActing(t *testing.T) {
	h := newHost(t)
	h.set("degraded")
	r := newRunner(t)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	now := time.Now()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	w.mdadm.Run = hookRunner{r, func(line string) {
		if strings.HasPrefix(line, "/dev/md0 --add") {
			h.set("md0-whole")
		}
	}}
	w.disc.Run = w.mdadm.Run
	took := runFor(t, w, 10*time.Second, func() bool {
		c := r.calls()
		return len(c) == 2
	})
	c := r.calls()
	if !strings.HasPrefix(c[0], "/dev/md0 --add") || !strings.HasPrefix(c[1], "/dev/md1 --add") {
		t.Fatalf("calls %v; want md0's add, then md1's", c)
	}
	if took > 3*time.Second {
		t.Fatalf("md1's add %s after the start; want at once", took)
	}
}

// slotify puts devices in PCI slots, as sysfs shows them: /sys/class/block/NAME a link
// into /sys/devices/pci0000:00/ADDR/…/NAME.
func (h *host) slotify(slots map[string]string) {
	for name, addr := range slots {
		class := filepath.Join(h.sys, "class", "block", name)
		os.RemoveAll(class)
		dir := filepath.Join(h.sys, "devices", "pci0000:00", addr, "virtio-"+name, "block", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "size"), []byte("614400\n"), 0o644)
		os.MkdirAll(filepath.Dir(class), 0o755)
		if err := os.Symlink(dir, class); err != nil {
			h.t.Fatal(err)
		}
	}
}

// While the mirrors are healthy the agent records the slot of each one's SSD; after a move
// to new hardware (the kernel names swapped: names are no slot) each mirror gets the blank
// SSD of its own slot, and with the first slot's SSD unusable md0 waits for a human while
// md1 still gets its own.
func TestSlotsRecordedAndKept(t *testing.T) {
	for _, badFirst := range []bool{false, true} {
		name := map[bool]string{false: "each its own", true: "bad first slot"}[badFirst]
		t.Run(name, func(t *testing.T) {
			h := newHost(t)
			r := newRunner(t)
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
			defer store.Close()
			w := h.watcher(store, r, config.StorageEnabled, &now)
			ctx := context.Background()
			h.set("clean")
			h.slotify(map[string]string{"vda": "0000:00:04.0", "vdc": "0000:00:06.0"})
			if err := w.Step(ctx); err != nil {
				t.Fatal(err)
			}
			slots, _ := store.Slots()
			got := map[string]string{}
			for _, s := range slots {
				got[s.Array] = s.Slot
			}
			if got["md0"] != "pci-0000:00:04.0" || got["md1"] != "pci-0000:00:06.0" {
				t.Fatalf("slots recorded %v", got)
			}
			// The move: blank SSDs, their kernel names the other way round.
			h.set("degraded")
			h.slotify(map[string]string{"vdc": "0000:00:04.0", "vda": "0000:00:06.0"})
			if badFirst {
				if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", filepath.Join(h.dev, "dev", "vdc")).CombinedOutput(); err != nil {
					t.Skipf("mke2fs: %v %s", err, out)
				}
			}
			now = now.Add(time.Minute)
			if err := w.Step(ctx); err != nil {
				t.Fatal(err)
			}
			calls := r.calls()
			if !badFirst {
				if len(calls) != 1 || calls[0] != "/dev/md0 --add /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_vdc" {
					t.Fatalf("calls %v; want md0 given vdc, the SSD now in its slot", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0] != "/dev/md1 --add /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_vda" {
				t.Fatalf("calls %v; want md1 given vda, its own slot's SSD, and nothing for md0", calls)
			}
			var md0 string
			for _, d := range w.Snapshot().Decisions {
				if d.Array == "md0" {
					md0 = d.Kind + ": " + d.Reason
				}
			}
			if !strings.HasPrefix(md0, "human: ") || !strings.Contains(md0, "slot pci-0000:00:04.0 holds vdc, refused: not blank: ext4") {
				t.Fatalf("md0's decision %q; want it to wait for a human, naming the slot and the refusal", md0)
			}
		})
	}
}

// The kernel's uevents are read as the watcher reads them: a block device's wakes it,
// another subsystem's does not.
func TestBlockUevents(t *testing.T) {
	if !isBlockUevent([]byte("add@/devices/virtual/block/md0\x00ACTION=add\x00DEVPATH=/devices/virtual/block/md0\x00SUBSYSTEM=block\x00DEVNAME=md0\x00DEVTYPE=disk\x00SEQNUM=1234\x00")) {
		t.Error("md0's add is not a block uevent")
	}
	if isBlockUevent([]byte("change@/devices/system/cpu/cpu1\x00ACTION=change\x00SUBSYSTEM=cpu\x00SEQNUM=1235\x00")) {
		t.Error("a cpu's change taken for a block uevent")
	}
}

// A new block device (here a loop device: this host has no md) wakes the watcher at once,
// with the rescan an hour away.
func TestNewBlockDeviceWakesTheWatcher(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to attach a loop device")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o600)
	h := newHost(t)
	h.set("clean")
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	now := time.Now()
	w := h.watcher(store, newRunner(t), config.StorageObserve, &now)
	w.cfg.Rescan.Duration = time.Hour
	w.opt.Now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for w.Snapshot().Checked.IsZero() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the first look's timers, if any, are past
	before := w.Snapshot().Checked
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	attached := time.Now()
	defer exec.Command("losetup", "-d", strings.TrimSpace(string(out))).Run()
	for time.Since(attached) < 5*time.Second {
		if w.Snapshot().Checked.After(before) {
			t.Logf("looked %s after the loop device appeared", w.Snapshot().Checked.Sub(attached).Round(time.Millisecond))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no look within 5 s of a new block device (the rescan is an hour away)")
}

// A recovery under way sets a timer near its predicted end (and at least every 10 s): the
// kernel may retire a finished recovery late, and the watcher must not wait for the rescan.
func TestRecoveryIsFollowedByATimer(t *testing.T) {
	h := newHost(t)
	h.set("recovery")
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := h.watcher(store, newRunner(t), config.StorageObserve, &now)
	if err := w.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	next := w.Snapshot().NextLook
	if next.IsZero() || next.Before(now.Add(time.Second)) || next.After(now.Add(10*time.Second)) {
		t.Fatalf("next look %v after a look at %v during a recovery; want within 1–10 s", next, now)
	}
	// md retiring a finished recovery: sync_action still says recover, mdstat shows no
	// progress any more. Nothing predicts its end: look again within a second.
	mdstat := filepath.Join(h.proc, "mdstat")
	b, _ := os.ReadFile(mdstat)
	os.WriteFile(mdstat, []byte(regexp.MustCompile(`(?m)^\s*\[=*>.*recovery = .*\n`).ReplaceAllString(string(b), "")), 0o644)
	now = now.Add(20 * time.Second)
	w.Step(context.Background())
	if next := w.Snapshot().NextLook; next.IsZero() || next.After(now.Add(time.Second)) {
		t.Fatalf("next look %v after a look at %v at a recovery with no progress shown; want within 1 s", next, now)
	}
	h.set("clean")
	now = now.Add(time.Minute)
	w.Step(context.Background())
	if next := w.Snapshot().NextLook; !next.IsZero() {
		t.Fatalf("next look %v with every mirror clean; want none (the rescan only)", next)
	}
}

// An array an operator's command pauses gets no action until resumed or until the pause
// lapses; the decision says who paused it.
func TestPauseHoldsActions(t *testing.T) {
	h := newHost(t)
	h.set("degraded")
	r := newRunner(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	ctx := context.Background()
	w.Pause([]string{"md0", "md1"}, now.Add(time.Minute), "agentctl storage verify (pid 42)")
	w.Step(ctx)
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("calls %v while paused", c)
	}
	if d := w.Snapshot().Decisions[0]; d.Kind != "wait" || !strings.Contains(d.Reason, "paused by agentctl storage verify (pid 42)") {
		t.Fatalf("md0 decision %+v", d)
	}
	if next := w.Snapshot().NextLook; next.IsZero() || next.After(now.Add(time.Minute)) {
		t.Fatalf("next look %v; want by the pause's end", next)
	}
	now = now.Add(2 * time.Minute) // lapsed: the agent acts again
	w.Step(ctx)
	if c := r.calls(); len(c) != 1 || !strings.HasPrefix(c[0], "/dev/md0 --add") {
		t.Fatalf("calls %v after the pause lapsed", c)
	}
}

// PauseAll holds every array (storage init: its arrays have no name yet), and Resume of it
// lets the agent act at once.
func TestPauseAllHoldsEveryArray(t *testing.T) {
	h := newHost(t)
	h.set("degraded")
	r := newRunner(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	store := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer store.Close()
	w := h.watcher(store, r, config.StorageEnabled, &now)
	ctx := context.Background()
	w.Pause([]string{PauseAll}, now.Add(10*time.Minute), "agentctl storage init (pid 7)")
	w.Step(ctx)
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("calls %v while every array is paused", c)
	}
	if d := w.Snapshot().Decisions[0]; d.Kind != "wait" || !strings.Contains(d.Reason, "paused by agentctl storage init (pid 7)") {
		t.Fatalf("md0 decision %+v", d)
	}
	w.Resume([]string{PauseAll})
	now = now.Add(time.Second)
	w.Step(ctx)
	if c := r.calls(); len(c) != 1 || !strings.HasPrefix(c[0], "/dev/md0 --add") {
		t.Fatalf("calls %v after the resume", c)
	}
}
