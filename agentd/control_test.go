package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/sample"
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
	m, err := sample.Tree(b.root, sample.Options{Nights: 1})
	if err != nil {
		t.Fatal(err)
	}
	b.enqueue(t)
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
	deadline := time.Now().Add(60 * time.Second)
	for b.count(t, `SELECT count(*) FROM ingestqueue`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queue was not emptied after resume")
		}
		time.Sleep(200 * time.Millisecond)
	}
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
