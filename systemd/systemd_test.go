package systemd

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// notifySocket is a real sd_notify socket (a unix datagram socket, as systemd's), named in
// NOTIFY_SOCKET for the test; next returns the next message, failing after a few seconds.
func notifySocket(t *testing.T) (next func() string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn") // short: a socket path has 108 bytes at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v", err)
		}
		return string(buf[:n])
	}
}

// The notifier's messages reach a real notify socket in sd_notify's form; an unchanged
// status is not sent again; a newline cannot start a second assignment.
func TestNotifierMessages(t *testing.T) {
	next := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "")
	n := NewNotifier()
	if n.Watchdog() != 3*time.Second {
		t.Errorf("watchdog %v, want 3s from WATCHDOG_USEC", n.Watchdog())
	}
	if err := n.Ready("ingest: 3 workers"); err != nil {
		t.Fatal(err)
	}
	if m := next(); m != "READY=1\nSTATUS=ingest: 3 workers" {
		t.Errorf("ready: %q", m)
	}
	n.Status("ingest: 3 workers") // unchanged: nothing sent
	n.Status("db unreachable\nREADY=1")
	if m := next(); m != "STATUS=db unreachable; READY=1" {
		t.Errorf("status: %q", m)
	}
	n.Ping()
	if m := next(); m != "WATCHDOG=1" {
		t.Errorf("ping: %q", m)
	}
	n.Stopping("stopping")
	if m := next(); m != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("stopping: %q", m)
	}
}

// Without NOTIFY_SOCKET nothing is sent and nothing fails: agentd runs as anywhere.
func TestNotifierWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := NewNotifier()
	if err := n.Ready("x"); err != nil || n.Watchdog() != 0 {
		t.Fatalf("ready without systemd: %v, watchdog %v", err, n.Watchdog())
	}
}

// The supervisor pings while every loop beats; a loop that stops beating (wedged) stops the
// pings and is named; when it beats again the pings resume; a loop that has ended (done)
// is no longer waited for.
func TestSupervisorStopsPingingForAWedgedLoop(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	sup := NewSupervisor(slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil)))
	var pings atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	beatA, _ := sup.Register("fetcher", 150*time.Millisecond)
	beatB, doneB := sup.Register("heartbeat", 150*time.Millisecond)
	var wedged atomic.Bool
	go func() { // the loops: A always turns; B turns until wedged
		for ctx.Err() == nil {
			beatA()
			if !wedged.Load() {
				beatB()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	go sup.Run(ctx, 20*time.Millisecond, func() error { pings.Add(1); return nil })

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("pings while every loop turns", func() bool { return pings.Load() >= 5 })

	wedged.Store(true)
	waitFor("the wedged loop to be named", func() bool { return strings.Join(sup.Wedged(), ",") == "heartbeat" })
	time.Sleep(60 * time.Millisecond) // let a ping that raced the verdict land
	before := pings.Load()
	time.Sleep(300 * time.Millisecond)
	if after := pings.Load(); after != before {
		t.Fatalf("%d pings while a loop is wedged", after-before)
	}
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if !strings.Contains(logged, "loops wedged") || !strings.Contains(logged, "heartbeat") {
		t.Errorf("the wedge was not logged by name:\n%s", logged)
	}

	wedged.Store(false)
	waitFor("pings again once the loop turns", func() bool { return pings.Load() > before+3 })

	wedged.Store(true)
	doneB() // the loop ended: not wedged
	before = pings.Load()
	waitFor("pings with the ended loop gone", func() bool { return pings.Load() > before+3 })
}

// A nil supervisor (no watchdog asked for) hands out beats that do nothing.
func TestNilSupervisorRegisters(t *testing.T) {
	t.Parallel()
	var sup *Supervisor
	beat, done := sup.Register("x", time.Second)
	beat()
	done()
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Under journald each line carries its priority and no timestamp or level; elsewhere slog's
// text lines keep theirs.
func TestLogHandlerForJournal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(&buf, true, &slog.HandlerOptions{Level: slog.LevelDebug})).With("agent", "ingest")
	log.Error("claim failed", "err", "boom")
	log.Warn("slow")
	log.Info("serving")
	log.Debug("detail")
	want := "<3>msg=\"claim failed\" agent=ingest err=boom\n<4>msg=slow agent=ingest\n<6>msg=serving agent=ingest\n<7>msg=detail agent=ingest\n"
	if buf.String() != want {
		t.Errorf("journal lines:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	slog.New(NewLogHandler(&buf, false, nil)).Info("serving")
	if !strings.HasPrefix(buf.String(), "time=") || !strings.Contains(buf.String(), "level=INFO") {
		t.Errorf("plain line: %q", buf.String())
	}
}
