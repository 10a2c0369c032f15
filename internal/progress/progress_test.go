package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/fitsarchive/agentd/internal/cli"
)

// clock is a settable time for Line.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestLineShowsRateETAAndNeverOvershoots(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	m := &Meter{what: "enqueue", unit: "files", now: c.now, phaseAt: c.now()}
	if got := m.Line(); got != "enqueue: 0s elapsed" {
		t.Fatalf("nothing yet: %q", got)
	}
	m.Total(100, false)
	m.Set(50)
	c.add(5 * time.Second)
	if got, want := m.Line(), "enqueue: 50 of 100 files (50%), 10.0/s, 5s left, 5s"; got != want {
		t.Fatalf("known total: %q, want %q", got, want)
	}
	m.Total(100, true)
	m.Set(150) // the estimate fell short
	if got, want := m.Line(), "enqueue: 150 of ≈150 files (100%), 30.0/s, 5s"; got != want {
		t.Fatalf("overshot estimate: %q, want %q", got, want)
	}
	m.Phase("indexing usagelog", 0)
	c.add(3 * time.Second)
	if got, want := m.Line(), "enqueue indexing usagelog: 3s elapsed"; got != want {
		t.Fatalf("phase without a total: %q, want %q", got, want)
	}
	m.Phase("writing", 0)
	m.Set(12000)
	c.add(4 * time.Second)
	if got, want := m.Line(), "enqueue writing: 12000 files, 3000/s, 4s"; got != want {
		t.Fatalf("no total: %q, want %q", got, want)
	}
}

// On a real pseudo-terminal the meter redraws one line in place (carriage return, erase to
// the end of the line) and clears it at the end.
func TestMeterOnAPseudoTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if !cli.IsTerminal(tty) {
		t.Fatal("cli.IsTerminal says a pty is not a terminal")
	}
	var got bytes.Buffer
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			got.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	m := Start(tty, "rollcall", Options{Terminal: cli.IsTerminal(tty), Unit: "files"})
	m.Total(1000, false)
	m.Set(250)
	time.Sleep(3 * redraw)
	m.Set(500)
	time.Sleep(3 * redraw)
	m.Finish()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	out := got.String()
	mu.Unlock()
	if !strings.Contains(out, "\r\x1b[Krollcall: 250 of 1000 files (25%)") || !strings.Contains(out, "\r\x1b[Krollcall: 500 of 1000 files (50%)") {
		t.Fatalf("terminal output %q: want the line redrawn in place", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Fatalf("terminal output %q: want the line cleared at the end", out)
	}
	if strings.Contains(out, "\n") {
		t.Fatalf("terminal output %q: a live line never scrolls", out)
	}
}

// Without a terminal the same figures go to the log every interval.
func TestMeterLogsWithoutATerminal(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	m := Start(nil, "enqueue", Options{Logger: logger, Interval: 50 * time.Millisecond, Unit: "files"})
	m.Set(42)
	time.Sleep(200 * time.Millisecond)
	m.Phase("writing usagelog", 0)
	m.Finish()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), `msg="enqueue: 42 files`) {
		t.Fatalf("log %q: want the figures logged", buf.String())
	}
	if !strings.Contains(buf.String(), `msg="enqueue writing usagelog: started"`) {
		t.Fatalf("log %q: want a phase's start logged at once", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
