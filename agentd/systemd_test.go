package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/pgtest"
)

// notifyListener is a real sd_notify socket (unix datagrams, as systemd's) for one agentd;
// its messages arrive on the returned channel.
func notifyListener(t *testing.T) (path string, msgs <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn") // short: a socket path has 108 bytes at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 1000)
	go func() { // owner: the test; ends when conn is closed
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

// awaitMessage returns the first message for which match holds, failing after timeout; it
// returns every message seen meanwhile too.
func awaitMessage(t *testing.T, msgs <-chan string, timeout time.Duration, what string, match func(string) bool) (string, []string) {
	t.Helper()
	var seen []string
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("notify socket closed before %s; seen %q", what, seen)
			}
			seen = append(seen, m)
			if match(m) {
				return m, seen
			}
		case <-deadline:
			t.Fatalf("no %s within %s; seen %q", what, timeout, seen)
		}
	}
}

// Under a real notify socket agentd says READY=1 (with a status line) once its state and
// socket are up, keeps STATUS= current (queues, database), pings the watchdog systemd asked
// for, and says STOPPING=1 when told to stop, then exits 0.
func TestNotifyReadyStatusWatchdogStopping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sampleQueued(t)
	sock, msgs := notifyListener(t)
	a := b.startWith(t, func(cmd *exec.Cmd) {
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=3000000")
	}, "n", "--queue", "ingest:2")
	first, _ := awaitMessage(t, msgs, 20*time.Second, "READY=1", func(m string) bool { return strings.Contains(m, "READY=1") })
	if !strings.HasPrefix(first, "READY=1\nSTATUS=") {
		t.Errorf("the first message %q is not READY=1 with a status", first)
	}
	status, _ := awaitMessage(t, msgs, 20*time.Second, "a status with the queue and the database", func(m string) bool {
		return strings.Contains(m, "STATUS=ingest: 2 workers") && strings.Contains(m, "db ok")
	})
	t.Logf("status: %s", status)
	// WatchdogSec=3s: a ping every second; three within five seconds.
	pings := 0
	deadline := time.After(5 * time.Second)
	for pings < 3 {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-deadline:
			t.Fatalf("%d watchdog pings in 5 s with WATCHDOG_USEC=3000000", pings)
		}
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	awaitMessage(t, msgs, 20*time.Second, "STOPPING=1", func(m string) bool { return strings.HasPrefix(m, "STOPPING=1\nSTATUS=stopping") })
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, a.stderr)
	}
}

// A database that is down when agentd starts does not stop it: it says READY=1 anyway (a
// start timeout would turn the outage into a restart loop), says in STATUS= that the
// database is unreachable, retries with backoff, and serves the queue once it is back.
func TestDatabaseDownAtStartIsWaitedFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.sampleQueued(t)
	proxy, proxied := pgtest.NewProxy(t, b.url)
	proxy.Down(true)
	sock, msgs := notifyListener(t)
	a := b.startWith(t, func(cmd *exec.Cmd) {
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock, "DATABASE_URL="+proxied)
	}, "d", "--queue", "ingest:2", "--empty")
	awaitMessage(t, msgs, 20*time.Second, "READY=1 while the database is down", func(m string) bool { return strings.Contains(m, "READY=1") })
	awaitMessage(t, msgs, 20*time.Second, "a status saying the database is unreachable", func(m string) bool {
		return strings.Contains(m, "db unreachable (retrying in")
	})
	time.Sleep(2 * time.Second) // a retry or two, refused
	select {
	case err := <-a.done:
		t.Fatalf("agentd ended while the database was down: %v\n%s", err, a.stderr)
	default:
	}
	proxy.Down(false)
	if code := a.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("exit %d once the database was back:\n%s", code, a.stderr)
	}
	b.assertExactlyOnce(t, len(m.Ingestable))
	if !strings.Contains(a.stderr.String(), "database reachable again") {
		t.Errorf("no line saying the database came back:\n%s", a.stderr)
	}
}

// What a retry cannot fix (no such database) ends agentd at once with exit 3.
func TestDatabaseThatCannotBeFixedByWaitingExits3(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.startWith(t, func(cmd *exec.Cmd) {
		cmd.Env = append(cmd.Env, "DATABASE_URL="+pgtest.URLFor(t, "agentd_no_such_database"))
	}, "x", "--queue", "ingest", "--empty")
	if code := a.wait(t, 30*time.Second); code != 3 || !strings.Contains(a.stderr.String(), "agentd_no_such_database") {
		t.Fatalf("exit %d, want 3 naming the database:\n%s", code, a.stderr)
	}
}

// The storage agent's unit runs --no-queues: whatever the config and environment name, it
// serves no queue and never connects to the database, so an outage cannot stop it.
func TestNoQueuesIgnoresConfiguredQueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sock, msgs := notifyListener(t)
	a := b.startWith(t, func(cmd *exec.Cmd) {
		cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock, "AGENTD_QUEUES=ingest:2", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none")
	}, "storage", "--no-queues")
	awaitMessage(t, msgs, 20*time.Second, "READY=1", func(m string) bool { return strings.Contains(m, "READY=1") })
	time.Sleep(time.Second)
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 30*time.Second); code != 0 || !strings.Contains(a.stderr.String(), "no queue configured") {
		t.Fatalf("exit %d, want 0 without touching the database:\n%s", code, a.stderr)
	}
	r := b.startWith(t, nil, "y", "--no-queues", "--queue", "ingest")
	if code := r.wait(t, 30*time.Second); code != 2 || !strings.Contains(r.stderr.String(), "--no-queues and --queue contradict") {
		t.Fatalf("--no-queues with --queue: exit %d\n%s", code, r.stderr)
	}
}
