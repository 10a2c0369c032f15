// Package progress shows how long work is going: on a terminal one live line (done, the
// total when it is known — marked "≈" when it is an estimate, and never overshot — the rate,
// and the time left when there is a total; a phase with no total shows its elapsed time),
// redrawn a few times a second and cleared at the end; anywhere else (a journal, a pipe) a
// log line at the start of each phase and every Interval with the same figures, so that a
// long run shows in the log.
//
// It is our own, small: the libraries looked at (vbauerster/mpb, schollz/progressbar) draw
// bars on terminals but have no log mode, and both modes must show the same figures.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Interval is how often a Meter logs when it is not on a terminal.
const Interval = 30 * time.Second

// redraw is how often the terminal line is drawn.
const redraw = 200 * time.Millisecond

// Meter follows one piece of work. Its methods are safe for concurrent use.
type Meter struct {
	w        io.Writer    // the terminal, or nil: log mode
	logger   *slog.Logger // log mode
	what     string       // "enqueue", "rollcall"
	unit     string       // "files", "rows"
	interval time.Duration
	now      func() time.Time

	mu        sync.Mutex
	phase     string
	phaseAt   time.Time // start of the phase (of the work, before any)
	done      int64
	total     int64
	estimate  bool
	lastWidth int
	stop      chan struct{}
	stopped   chan struct{}
}

// Options shape a Meter.
type Options struct {
	Terminal bool          // draw a live line on w; else log through Logger
	Logger   *slog.Logger  // log mode (nil: discard)
	Interval time.Duration // log mode's period (default Interval)
	Unit     string        // what is counted ("files")
}

// Start begins showing the work what; Finish ends it. On a terminal it draws on w.
func Start(w io.Writer, what string, opt Options) *Meter {
	m := &Meter{what: what, unit: opt.Unit, logger: opt.Logger, interval: opt.Interval, now: time.Now,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if m.unit == "" {
		m.unit = "items"
	}
	if m.interval <= 0 {
		m.interval = Interval
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if opt.Terminal {
		m.w = w
	}
	m.phaseAt = m.now()
	period := m.interval
	if m.w != nil {
		period = redraw
	}
	go func() { // owner: the Meter; ends at Finish
		defer close(m.stopped)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.show()
			}
		}
	}()
	return m
}

// Set says how much is done.
func (m *Meter) Set(done int64) {
	m.mu.Lock()
	m.done = done
	m.mu.Unlock()
}

// Add adds to what is done.
func (m *Meter) Add(n int64) {
	m.mu.Lock()
	m.done += n
	m.mu.Unlock()
}

// Total says how much there is; estimated marks it as an estimate (shown "≈").
func (m *Meter) Total(total int64, estimated bool) {
	m.mu.Lock()
	m.total, m.estimate = total, estimated
	m.mu.Unlock()
}

// Phase starts a named phase; a phase with no total shows its elapsed time, not a rate.
// Without a terminal its start is logged at once, so that a journal shows each phase even
// when it is shorter than the interval (or stuck: the last line says where).
func (m *Meter) Phase(name string, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase, m.phaseAt, m.done, m.total, m.estimate = name, m.now(), 0, total, false
	if m.w == nil && m.logger != nil {
		m.logger.Info(m.what + " " + name + ": started")
	}
}

// Line is the text of the meter now.
func (m *Meter) Line() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.line()
}

func (m *Meter) line() string {
	now := m.now()
	elapsed := now.Sub(m.phaseAt)
	var b strings.Builder
	b.WriteString(m.what)
	if m.phase != "" {
		b.WriteString(" " + m.phase)
	}
	b.WriteString(": ")
	if m.total <= 0 && m.done == 0 {
		fmt.Fprintf(&b, "%s elapsed", round(elapsed))
		return b.String()
	}
	total := m.total
	if total > 0 && m.done > total {
		total = m.done // an estimate that fell short: never show more done than there is
	}
	switch {
	case total > 0 && m.estimate:
		fmt.Fprintf(&b, "%d of ≈%d %s (%d%%)", m.done, total, m.unit, percent(m.done, total))
	case total > 0:
		fmt.Fprintf(&b, "%d of %d %s (%d%%)", m.done, total, m.unit, percent(m.done, total))
	default:
		fmt.Fprintf(&b, "%d %s", m.done, m.unit)
	}
	if secs := elapsed.Seconds(); secs >= 0.5 && m.done > 0 {
		rate := float64(m.done) / secs
		fmt.Fprintf(&b, ", %s/s", humanRate(rate))
		if total > 0 && m.done < total {
			left := time.Duration(float64(total-m.done) / rate * float64(time.Second))
			fmt.Fprintf(&b, ", %s left", round(left))
		}
	}
	fmt.Fprintf(&b, ", %s", round(elapsed))
	return b.String()
}

// show draws the line (terminal) or logs it (elsewhere).
func (m *Meter) show() {
	m.mu.Lock()
	defer m.mu.Unlock()
	line := m.line()
	if m.w == nil {
		m.logger.Info(line)
		return
	}
	// \r and "erase to the end of the line": a shorter line leaves nothing behind.
	fmt.Fprintf(m.w, "\r\033[K%s", line)
	m.lastWidth = len(line)
}

// Println shows a finished step on a line of its own (above the live line on a terminal;
// a log line elsewhere).
func (m *Meter) Println(text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.w == nil {
		m.logger.Info(text)
		return
	}
	fmt.Fprintf(m.w, "\r\033[K%s\n", text)
	m.lastWidth = 0
}

// Finish stops the meter and clears its line (terminal); the caller prints the summary.
func (m *Meter) Finish() {
	select {
	case <-m.stop:
		return
	default:
	}
	close(m.stop)
	<-m.stopped
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.w != nil && m.lastWidth > 0 {
		fmt.Fprint(m.w, "\r\033[K")
	}
}

func percent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(100, done*100/total)
}

func round(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.1fk", r/1e3)
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	default:
		return fmt.Sprintf("%.1f", r)
	}
}
