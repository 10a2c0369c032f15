package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/cli"
	"github.com/fitsarchive/agentd/internal/enqueue"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

// agentdBin is the real binary, built once: these tests cross processes (locks, signals,
// kill -9, two agents racing); agentctlBin is the operator's, for the control socket.
var agentdBin, agentctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agentd-test")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // one test runs the binary as another user
	agentdBin = filepath.Join(dir, "agentd")
	if out, err := exec.Command("go", "build", "-o", agentdBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	agentctlBin = filepath.Join(dir, "agentctl")
	if out, err := exec.Command("go", "build", "-o", agentctlBin, "../agentctl").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testBundle is one archive database, storage root and agent working directory.
type testBundle struct {
	url, root, dir string
	db             *pgxpool.Pool
}

func setup(t *testing.T) testBundle {
	t.Helper()
	url := pgtest.NewDB(t)
	return testBundle{url: url, root: t.TempDir(), dir: t.TempDir(), db: pgtest.Pool(t, url)}
}

// agent is one running agentd.
type agent struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
	socket string
}

// start runs agentd named name with extra args; its files live under b.dir.
func (b testBundle) start(t *testing.T, name string, args ...string) *agent {
	t.Helper()
	return b.startWith(t, nil, name, args...)
}

// startWith is start with a change to the command (e.g. the user it runs as) before it runs.
func (b testBundle) startWith(t *testing.T, prepare func(*exec.Cmd), name string, args ...string) *agent {
	t.Helper()
	socket := filepath.Join(b.dir, name+".sock")
	all := append([]string{"--name", name, "--lock-dir", filepath.Join(b.dir, "locks"),
		"--state", filepath.Join(b.dir, name+".db"), "--socket", socket, "--storage-root", b.root}, args...)
	cmd := exec.Command(agentdBin, all...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + b.url}
	a := &agent{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1), socket: socket}
	cmd.Stderr = a.stderr
	if prepare != nil {
		prepare(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-a.done
	})
	return a
}

// sampleQueued writes a night of sample data under the storage root and queues it.
func (b testBundle) sampleQueued(t *testing.T) sample.Manifest {
	t.Helper()
	m, err := sample.Tree(b.root, sample.Options{Nights: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	return m
}

// waitQueueEmpty waits until the ingest queue has no row left, failing after timeout.
func (b testBundle) waitQueueEmpty(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for b.count(t, `SELECT count(*) FROM ingestqueue`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the ingest queue was not emptied within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wait returns the exit code, failing the test after timeout.
func (a *agent) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-a.done:
		a.done <- err // for Cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("agentd still running after %s; stderr:\n%s", timeout, a.stderr)
		return -1
	}
}

// status polls the socket until cond holds.
func (a *agent) waitStatus(t *testing.T, timeout time.Duration, cond func(agentstatus.Status) bool) agentstatus.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := agentstatus.Fetch(context.Background(), a.socket)
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status condition not met within %s (last err %v); stderr:\n%s", timeout, err, a.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func busy(st agentstatus.Status) bool {
	for _, q := range st.Queues {
		for _, w := range q.Workers {
			if w.Item != "" {
				return true
			}
		}
	}
	return false
}

func (b testBundle) enqueue(t *testing.T) {
	t.Helper()
	if _, err := enqueue.Ingest(context.Background(), b.db, enqueue.Options{Root: b.root}); err != nil {
		t.Fatal(err)
	}
}

func (b testBundle) count(t *testing.T, sql string) int {
	t.Helper()
	var n int
	if err := b.db.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// bigFiles writes n sparse files of size bytes: slow enough to hash that an agent can be
// caught in the middle of them.
func (b testBundle) bigFiles(t *testing.T, n int, size int64) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for i := 0; i < n; i++ {
		p := filepath.Join(b.root, fmt.Sprintf("big/N20200101S%04d.fits", i+1))
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(size)
		f.Close()
		os.Chtimes(p, old, old)
	}
}

// assertExactlyOnce checks that every queued file became exactly one diskfile and the
// present∧canonical invariant holds.
func (b testBundle) assertExactlyOnce(t *testing.T, files int) {
	t.Helper()
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != files {
		t.Errorf("%d diskfiles, want %d (each file exactly once)", n, files)
	}
	if n := b.count(t, `SELECT count(*) FROM (SELECT filename, path FROM diskfile GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d files ingested more than once", n)
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue`); n != 0 {
		t.Errorf("%d queue rows left", n)
	}
}

func TestNoQueueMakesNoDatabaseConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.url = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1" // nothing listens there
	noq := b.start(t, "noq", "--empty")
	if code := noq.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("agentd without queues: exit %d, want 0; stderr:\n%s", code, noq.stderr)
	}
	a := b.start(t, "noq2")
	st := a.waitStatus(t, 20*time.Second, func(agentstatus.Status) bool { return true })
	if st.Name != "noq2" || len(st.Queues) != 0 {
		t.Fatalf("status %+v", st)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0; stderr:\n%s", code, a.stderr)
	}
}

// The storage agent alone: no queue, the database unreachable (it lives on these very
// arrays), observe-only over the captured degraded state. The status socket shows the
// decisions and the storage events; nothing is done.
func TestStorageAgentWithoutDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.url = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1" // nothing listens there
	tree := filepath.Join("..", "mdraid", "testdata", "trees", "degraded")
	abs, _ := filepath.Abs(tree)
	cfg := filepath.Join(b.dir, "agentd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[storage]\nmode = \"observe-only\"\nproc_root = %q\nsys_root = %q\nrescan = \"100ms\"\ncandidates = [%q]\n",
		filepath.Join(abs, "proc"), filepath.Join(abs, "sys"), filepath.Join(b.dir, "no-such-device-*"))), 0o644)
	a := b.start(t, "stor", "--config", cfg)
	st := a.waitStatus(t, 20*time.Second, func(st agentstatus.Status) bool {
		return st.Storage != nil && len(st.Storage.Decisions) == 2
	})
	if st.Storage.Mode != "observe-only" || st.Storage.Decisions[0].Kind != "wait" || !strings.Contains(st.Storage.Decisions[0].Reason, "no usable instance-store device") {
		t.Fatalf("storage %+v", st.Storage)
	}
	var waits int
	for _, e := range st.Events {
		if e.Queue == "storage" && e.Kind == "wait" {
			waits++
		}
	}
	if waits != 2 {
		t.Fatalf("events %+v, want one wait event per array", st.Events)
	}
	// agentctl storage plan gives the running agent's own decisions (its socket); --local
	// computes them here instead.
	code, out, errOut := ctl(t, nil, "storage", "plan", "--socket", a.socket, "--json")
	var plan struct {
		From      string            `json:"from"`
		Decisions []json.RawMessage `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(out), &plan); code != 0 || err != nil || plan.From != "agent" || len(plan.Decisions) != 2 {
		t.Fatalf("storage plan: exit %d, %v, %s %s; want the agent's two decisions", code, err, out, errOut)
	}
	if code, out, _ := ctl(t, nil, "storage", "plan", "--socket", a.socket, "--local", "--json"); code != 0 || !strings.Contains(out, `"from": "local"`) {
		t.Fatalf("storage plan --local: exit %d %s", code, out)
	}
	// An operator's command holds the agent's actions on an array through the socket
	// (agentctl storage verify does); the hold shows in the status, and goes on resume.
	client := agentstatus.Client{Path: a.socket}
	if err := client.PauseStorage(context.Background(), []string{"md0"}, time.Minute, "a test"); err != nil {
		t.Fatal(err)
	}
	st = a.waitStatus(t, 10*time.Second, func(st agentstatus.Status) bool {
		return st.Storage != nil && strings.HasPrefix(st.Storage.Paused["md0"].By, "a test (")
	})
	if err := client.ResumeStorage(context.Background(), []string{"md0"}); err != nil {
		t.Fatal(err)
	}
	a.waitStatus(t, 10*time.Second, func(st agentstatus.Status) bool { return st.Storage != nil && len(st.Storage.Paused) == 0 })
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d; stderr:\n%s", code, a.stderr)
	}
	if strings.Contains(a.stderr.String(), "database") && !strings.Contains(a.stderr.String(), "not connecting to the database") {
		t.Fatalf("agentd spoke of the database:\n%s", a.stderr)
	}
}

func TestEmptyIngestsEverythingAndCountsSurviveRestart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := sample.Tree(b.root, sample.Options{Nights: 2})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	a := b.start(t, "e", "--queue", "ingest", "--workers", "3", "--empty")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b.assertExactlyOnce(t, len(m.Ingestable))
	// It ends with a readable summary of the queue, not a Go struct.
	summary := fmt.Sprintf("queue=ingest completed=%d failed=0", len(m.Ingestable))
	if !strings.Contains(a.stderr.String(), "msg=stopped") || !strings.Contains(a.stderr.String(), summary) || !strings.Contains(a.stderr.String(), "per_second=") ||
		strings.Contains(a.stderr.String(), "0001-01-01") || strings.Contains(a.stderr.String(), "grace period over") {
		t.Fatalf("the last lines do not summarise the run (%q):\n%s", summary, a.stderr)
	}
	if n := b.count(t, `SELECT count(*) FROM header`); n != len(m.FITS) {
		t.Fatalf("%d headers, want %d", n, len(m.FITS))
	}
	// Again with nothing to do: exits at once; the lifetime counters are kept.
	if code := b.start(t, "e", "--queue", "ingest:2", "--empty").wait(t, 60*time.Second); code != 0 {
		t.Fatalf("second run exit %d", code)
	}
	st, err := state.Open(filepath.Join(b.dir, "e.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, _ := st.Counters("ingest")
	if c["completed"] != uint64(len(m.Ingestable)) {
		t.Fatalf("lifetime counters %v, want completed %d", c, len(m.Ingestable))
	}
	if left, _ := st.Outstanding("ingest"); len(left) != 0 {
		t.Fatalf("journal still holds %v", left)
	}
}

// An unreadable file fails its own item with the path and the cause, and the agent goes on
// with the others. Root reads every file, so as root agentd runs as nobody here.
func TestUnreadableFileFailsItsItem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"N20200101S0001.fits", "N20200101S0002.fits"} {
		p := filepath.Join(b.root, n)
		if err := os.WriteFile(p, []byte("not FITS"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	unreadable := filepath.Join(b.root, "N20200101S0002.fits")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	var prepare func(*exec.Cmd)
	if os.Geteuid() == 0 {
		const nobody = 65534
		// t.TempDir's directories are private to root: open the way to the storage root
		// and give nobody the agent's working directory.
		for _, d := range []string{b.root, filepath.Dir(b.root), b.dir, filepath.Dir(b.dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(b.dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		prepare = func(c *exec.Cmd) {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
	}
	b.enqueue(t)
	a := b.startWith(t, prepare, "unreadable", "--queue", "ingest", "--empty")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, a.stderr)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile WHERE filename = 'N20200101S0001.fits'`); n != 1 {
		t.Fatalf("the readable file: %d diskfiles, want 1", n)
	}
	var msg string
	if err := b.db.QueryRow(context.Background(),
		`SELECT error FROM ingestqueue WHERE filename = 'N20200101S0002.fits' AND fail_dt < '9999-12-31'`).Scan(&msg); err != nil {
		t.Fatalf("the unreadable file's item is not kept as failed: %v", err)
	}
	if !strings.Contains(msg, unreadable) || !strings.Contains(msg, "permission denied") || !strings.Contains(msg, "queue retry") {
		t.Fatalf("failure %q does not name the path and the cause", msg)
	}
}

func TestLockHeldRefusesAndNamesPID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.start(t, "same", "--queue", "ingest")
	first.waitStatus(t, 20*time.Second, func(agentstatus.Status) bool { return true })
	second := b.start(t, "same", "--queue", "ingest", "--state", filepath.Join(b.dir, "other.db"),
		"--socket", filepath.Join(b.dir, "other.sock"))
	if code := second.wait(t, 20*time.Second); code != cli.ExitRefused {
		t.Fatalf("second agentd of one name: exit %d, want %d", code, cli.ExitRefused)
	}
	if pid := strconv.Itoa(first.cmd.Process.Pid); !strings.Contains(second.stderr.String(), pid) {
		t.Fatalf("refusal does not name pid %s:\n%s", pid, second.stderr)
	}
}

// A local user's symlink in place of a lock file (the old default lock directory was
// world-writable) makes agentd refuse to start; the file it points to is left alone.
func TestSymlinkedLockRefusesAndTargetUntouched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	victim := filepath.Join(b.dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	os.MkdirAll(filepath.Join(b.dir, "locks"), 0o750)
	if err := os.Symlink(victim, filepath.Join(b.dir, "locks", "ingest-trap-0.lock")); err != nil {
		t.Fatal(err)
	}
	a := b.start(t, "trap", "--queue", "ingest")
	if code := a.wait(t, 20*time.Second); code != cli.ExitRefused {
		t.Fatalf("agentd with a symlinked lock: exit %d, want %d\n%s", code, cli.ExitRefused, a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "symlink") {
		t.Fatalf("the refusal does not say why:\n%s", a.stderr)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious\n" {
		t.Fatalf("agentd wrote through the symlink: %q", got)
	}
}

// --version prints the build; idle workers have no "since" in the status (null, not year 1).
func TestVersionAndIdleWorkersInStatus(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(agentdBin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "agentd ") || !strings.Contains(string(out), "go1.") {
		t.Fatalf("agentd --version = %q, %v", out, err)
	}
	b := setup(t)
	a := b.start(t, "idle", "--queue", "ingest", "--workers", "2")
	st := a.waitStatus(t, 20*time.Second, func(s agentstatus.Status) bool { return len(s.Queues) == 1 })
	if st.Version == "" {
		t.Fatalf("status has no version: %+v", st)
	}
	for _, w := range st.Queues[0].Workers {
		if w.Since != nil {
			t.Fatalf("idle worker %s has since %v; want null", w.Holder, w.Since)
		}
	}
}

// With --empty, agentd logs each queue's progress while it works, not only at the end.
func TestEmptyLogsProgress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.bigFiles(t, 4, 256<<20)
	b.enqueue(t)
	a := b.start(t, "prog", "--queue", "ingest", "--workers", "1", "--empty", "--progress-every", "200ms")
	if code := a.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "msg=progress") || !strings.Contains(a.stderr.String(), "queue=ingest") ||
		!strings.Contains(a.stderr.String(), "pending=") {
		t.Fatalf("no progress line while it worked:\n%s", a.stderr)
	}
}

func TestUnknownQueueIsUsageError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if code := b.start(t, "u", "--queue", "ingets").wait(t, 20*time.Second); code != cli.ExitUsage {
		t.Fatalf("unknown queue: exit %d, want %d", code, cli.ExitUsage)
	}
}

func TestTwoAgentsRacingKeepInvariant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, err := sample.Tree(b.root, sample.Options{Nights: 3})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
	// Both agents also race on files enqueued twice (pending and in progress at once).
	a1 := b.start(t, "r1", "--queue", "ingest:3", "--empty")
	a2 := b.start(t, "r2", "--queue", "ingest:3", "--empty")
	b.enqueue(t)
	for _, a := range []*agent{a1, a2} {
		if code := a.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("exit %d:\n%s", code, a.stderr)
		}
	}
	b.assertExactlyOnce(t, len(m.Ingestable))
	if n := b.count(t, `SELECT count(*) FROM (SELECT file_id FROM diskfile WHERE present AND canonical
		GROUP BY 1 HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d files with two present canonical versions", n)
	}
}

func TestKill9ThenRestartReleasesFromJournal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.bigFiles(t, 6, 300<<20)
	b.enqueue(t)
	// A long lease: only the journal can bring the items back quickly.
	a := b.start(t, "k", "--queue", "ingest:2", "--lease", "10m")
	a.waitStatus(t, 30*time.Second, busy)
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	if n := b.count(t, `SELECT count(*) FROM ingestqueue WHERE inprogress`); n == 0 {
		t.Fatal("no item in progress after kill -9; the test did not catch the agent working")
	}
	again := b.start(t, "k", "--queue", "ingest:2", "--lease", "10m", "--empty")
	if code := again.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("restart exit %d:\n%s", code, again.stderr)
	}
	if !strings.Contains(again.stderr.String(), "released claims left by the previous run") {
		t.Fatalf("restart did not release from its journal:\n%s", again.stderr)
	}
	b.assertExactlyOnce(t, 6)
}

// A run killed after a claim committed but before its journal recorded the claim leaves a
// state file that names the run (its owner, recorded before its first claim) and rows under
// that owner that no journal entry names; here both are made as such a run leaves them. The
// next start releases those rows at once (the lease is ten minutes) and ingests every file
// exactly once.
func TestRestartReleasesClaimsItsJournalHadNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.bigFiles(t, 4, 1<<20)
	b.enqueue(t)
	const dead = "d1e5d1e5-0000-4000-8000-00000000dead"
	st, err := state.Open(filepath.Join(b.dir, "k.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Began("ingest", dead); err != nil {
		t.Fatal(err)
	}
	st.Close()
	claimed, err := queue.New(b.db, queue.Ingest(), queue.Options{Owner: dead, Lease: 10 * time.Minute}).
		Claim(ctx, []string{"vm/1/k/ingest-0", "vm/1/k/ingest-1"})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("the dead run's claim: %d items, %v", len(claimed), err)
	}
	again := b.start(t, "k", "--queue", "ingest:2", "--lease", "10m", "--empty")
	if code := again.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("restart exit %d:\n%s", code, again.stderr)
	}
	for _, it := range claimed {
		if !strings.Contains(again.stderr.String(), "released a claim the previous run made but had not journaled") ||
			!strings.Contains(again.stderr.String(), it.Label) {
			t.Fatalf("the release of %s was not logged:\n%s", it.Label, again.stderr)
		}
	}
	b.assertExactlyOnce(t, 4)
}

func TestKill9ThenAnotherAgentRescues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.bigFiles(t, 6, 300<<20)
	b.enqueue(t)
	a := b.start(t, "dies", "--queue", "ingest:2", "--lease", "2s")
	a.waitStatus(t, 30*time.Second, busy)
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	other := b.start(t, "rescuer", "--queue", "ingest:2", "--lease", "2s", "--empty")
	if code := other.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("rescuer exit %d:\n%s", code, other.stderr)
	}
	b.assertExactlyOnce(t, 6)
}

func TestSIGTERMReleasesUnfinishedItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.bigFiles(t, 4, 1<<30)
	b.enqueue(t)
	a := b.start(t, "term", "--queue", "ingest:2", "--grace", "10ms")
	a.waitStatus(t, 30*time.Second, busy)
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0:\n%s", code, a.stderr)
	}
	b.assertReleasedClean(t, 4)
}

// assertReleasedClean checks a clean stop's queue: no item in progress, failed or charged an
// attempt, and the files items pending or ingested, nothing lost.
func (b testBundle) assertReleasedClean(t *testing.T, files int) {
	t.Helper()
	if n := b.count(t, `SELECT count(*) FROM ingestqueue WHERE inprogress OR fail_dt < '9999-12-31' OR attempts > 0`); n != 0 {
		t.Fatalf("%d items in progress, failed or charged an attempt after a clean stop", n)
	}
	if n := b.count(t, `SELECT count(*) FROM ingestqueue`) + b.count(t, `SELECT count(*) FROM diskfile`); n != files {
		t.Fatalf("pending + ingested = %d, want %d (nothing lost)", n, files)
	}
}

// agentd's command line: help on stdout, --version, an argument or unknown flag a usage
// error (2) naming agentd, and the old single-dash long flags accepted with a warning.
func TestAgentdCommandLine(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(agentdBin, args...)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), so.String(), se.String()
		}
		return 0, so.String(), se.String()
	}
	if code, out, _ := run("--help"); code != 0 || !strings.Contains(out, "--queue") || !strings.Contains(out, "examples:") {
		t.Fatalf("--help: exit %d, stdout %q", code, out)
	}
	if code, _, errOut := run("extra"); code != cli.ExitUsage || !strings.Contains(errOut, "agentd:") {
		t.Fatalf("an argument: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run("--bogus"); code != cli.ExitUsage || !strings.Contains(errOut, "agentd: unknown flag: --bogus") {
		t.Fatalf("unknown flag: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := run("-log-level", "nonsense"); code != cli.ExitUsage || !strings.Contains(errOut, "-log-level is deprecated; write --log-level") ||
		!strings.Contains(errOut, "--log-level") {
		t.Fatalf("single-dash flag: exit %d, stderr %q", code, errOut)
	}
}
