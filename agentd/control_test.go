package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/fitsarchive/agentd/internal/agentstatus"
)

// ctl runs agentctl against the agent's socket, as the credential given (nil: this user).
func ctl(t *testing.T, cred *syscall.Credential, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(agentctlBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), so.String(), se.String()
	case err != nil:
		t.Fatalf("run agentctl: %v", err)
	}
	return 0, so.String(), se.String()
}

// A drain stops new claims at once and is kept across a restart; resume lets the agent
// claim again; agentctl status and STATUS= say so; events list it.
func TestDrainSurvivesRestartUntilResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.start(t, "dr", "--queue", "ingest:2")
	sock := a.socket
	waitSocket(t, sock)
	code, out, errOut := ctl(t, nil, "drain", "--socket", sock, "--json")
	var drained agentstatus.Drained
	if err := json.Unmarshal([]byte(out), &drained); code != 0 || err != nil || !drained.Drained || drained.By == "" {
		t.Fatalf("drain: exit %d, %s%s", code, out, errOut)
	}
	// Work arriving while drained stays pending.
	m := b.sampleQueued(t)
	time.Sleep(3 * time.Second)
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != 0 {
		t.Fatalf("%d files ingested while drained", n)
	}
	code, out, _ = ctl(t, nil, "status", "--socket", sock)
	if code != 0 || !strings.Contains(out, "DRAINED since") {
		t.Fatalf("status while drained: exit %d\n%s", code, out)
	}

	// A restart stays drained.
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	a = b.start(t, "dr", "--queue", "ingest:2")
	waitSocket(t, sock)
	time.Sleep(2 * time.Second)
	st, err := agentstatus.Fetch(context.Background(), sock)
	if err != nil || st.Drained == nil {
		t.Fatalf("after a restart: drained %v, %v", st.Drained, err)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != 0 {
		t.Fatalf("%d files ingested by the restarted, drained agent", n)
	}

	if code, out, errOut := ctl(t, nil, "resume", "--socket", sock); code != 0 || !strings.Contains(out, "resumed") {
		t.Fatalf("resume: exit %d, %s%s", code, out, errOut)
	}
	b.waitQueueEmpty(t, 60*time.Second)
	b.assertExactlyOnce(t, len(m.Ingestable))
	code, out, _ = ctl(t, nil, "events", "--socket", sock, "--json")
	var evs struct {
		Events []struct{ Kind string } `json:"events"`
	}
	json.Unmarshal([]byte(out), &evs)
	var kinds []string
	for _, e := range evs.Events {
		kinds = append(kinds, e.Kind)
	}
	if code != 0 || !strings.Contains(strings.Join(kinds, " "), "drained") || !strings.Contains(strings.Join(kinds, " "), "resumed") {
		t.Errorf("events: exit %d, kinds %v", code, kinds)
	}
}

// waitSocket waits until an agent answers on sock.
func waitSocket(t *testing.T, sock string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := agentstatus.Fetch(context.Background(), sock); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agent answers on %s", sock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The control socket is the agent's user's, root's and its group's: mode 0660 with the
// group; another user is refused by the kernel (agentctl: permission denied, add yourself to
// the group; exit 5 — not "agentd is not running"); a process in the group is served; and a
// peer that gets through a loosened mode is still refused by its credentials (SO_PEERCRED).
// A second agent on the same socket is refused, naming the pid of the first.
func TestControlSocketPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs agentctl as other users")
	}
	t.Parallel()
	b := setup(t)
	grp, err := user.LookupGroup("users") // Debian's gid 100
	if err != nil {
		t.Skip("no group users here")
	}
	gid, _ := strconv.Atoi(grp.Gid)
	base, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	// The runtime directory as systemd makes it: root, group of the socket, 0750.
	run := filepath.Join(base, "run")
	os.Mkdir(run, 0o750)
	os.Chown(run, 0, gid)
	sock := filepath.Join(run, "agentd.sock")
	a := b.startWith(t, func(cmd *exec.Cmd) { cmd.Env = append(cmd.Env, "AGENTD_SOCKET_GROUP=users") }, "perm", "--socket", sock)
	waitSocket(t, sock)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || int(st.Gid) != gid {
		t.Fatalf("socket mode %v group %d, want 0660 and group users (%d)", fi.Mode().Perm(), st.Gid, gid)
	}

	const nobody = 65534
	stranger := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	member := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{uint32(gid)}}
	if code, _, errOut := ctl(t, stranger, "status", "--socket", sock); code != 5 ||
		!strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, "add yourself to the socket's group") {
		t.Errorf("a stranger: exit %d, %s; want 5, permission denied", code, errOut)
	}
	if code, out, errOut := ctl(t, member, "status", "--socket", sock); code != 0 || !strings.Contains(out, "agentd perm") {
		t.Errorf("a member of the group: exit %d, %s%s", code, out, errOut)
	}
	// Loosen the mode behind the agent's back: the kernel lets the stranger connect, the
	// agent's own check refuses it.
	os.Chmod(run, 0o755)
	os.Chmod(sock, 0o666)
	if code, _, errOut := ctl(t, stranger, "drain", "--socket", sock); code != 5 || !strings.Contains(errOut, "uid 65534") ||
		!strings.Contains(errOut, "nor in group users") {
		t.Errorf("a stranger through a loosened mode: exit %d, %s; want 5, refused by its credentials", code, errOut)
	}
	if st, err := agentstatus.Fetch(context.Background(), sock); err != nil || st.Drained != nil {
		t.Errorf("the refused drain took effect: %+v, %v", st.Drained, err)
	}

	second := b.startWith(t, nil, "perm2", "--socket", sock)
	if code := second.wait(t, 20*time.Second); code != 5 || !strings.Contains(second.stderr.String(), "in use by agentd perm (pid "+strconv.Itoa(a.cmd.Process.Pid)+")") {
		t.Errorf("a second agent on the socket: exit %d\n%s", code, second.stderr)
	}
}

// freePort is a loopback address nobody listens on (the kernel picked it).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape reads /metrics, failing after a few seconds.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --metrics-addr serves Prometheus metrics whose names pass promlint: the queues' item
// counts, workers, item and claim durations, the sampled pending count, the database, the
// drain, and the md arrays (here a captured tree: md0 whole, md1 recovering at 12.1 %).
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.sampleQueued(t)
	tree, _ := filepath.Abs(filepath.Join("..", "mdraid", "testdata", "trees", "recovery"))
	cfg := filepath.Join(b.dir, "agentd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[storage]\nmode = \"observe-only\"\nproc_root = %q\nsys_root = %q\nrescan = \"100ms\"\ncandidates = [%q]\n",
		filepath.Join(tree, "proc"), filepath.Join(tree, "sys"), filepath.Join(b.dir, "no-such-device-*"))), 0o644)
	addr := freePort(t)
	a := b.start(t, "met", "--config", cfg, "--queue", "ingest:2", "--metrics-addr", addr)
	b.waitQueueEmpty(t, 60*time.Second)
	var text string
	deadline := time.Now().Add(20 * time.Second)
	want := []string{
		fmt.Sprintf(`agentd_items_total{outcome="completed",queue="ingest"} %d`, len(m.Ingestable)),
		`agentd_workers{queue="ingest"} 2`,
		`agentd_item_duration_seconds_count{queue="ingest"}`,
		`agentd_claim_duration_seconds_bucket{queue="ingest",le=`,
		`agentd_queue_pending_items{queue="ingest"}`,
		`agentd_database_up 1`,
		`agentd_drained 0`,
		`agentd_md_array_active{array="md0"} 1`,
		`agentd_md_array_missing_devices{array="md0"} 0`,
		`agentd_md_array_missing_devices{array="md1"} 1`,
		`agentd_md_array_sync_ratio{array="md1",kind="recovering"} 0.121`,
		`agentd_build_info{version=`,
	}
	for {
		text = scrape(t, addr)
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics lack %q:\n%s", missing, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// A metrics address in use is refused at start (exit 2).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := b.start(t, "met2", "--config", cfg, "--metrics-addr", ln.Addr().String())
	if code := r.wait(t, 20*time.Second); code != 2 || !strings.Contains(r.stderr.String(), "--metrics-addr") {
		t.Fatalf("a busy metrics address: exit %d\n%s", code, r.stderr)
	}
}

// A socket file left by an agentd that died (nobody answers on it) is replaced.
func TestStaleSocketIsReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sock := filepath.Join(b.dir, "stale.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, with nobody behind it
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("no stale socket file: %v", err)
	}
	a := b.startWith(t, nil, "stale", "--socket", sock)
	waitSocket(t, sock)
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, a.stderr)
	}
}
