package systemd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// StderrIsJournal reports whether the process's stderr is connected to journald
// (JOURNAL_STREAM names it), as under a systemd service.
func StderrIsJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return ok && err == nil
}

// NewLogHandler returns the handler of the binaries' logs on w: under journald (toJournal)
// each line starts with its syslog priority ("<3>" error, "<4>" warning, "<6>" info, "<7>"
// debug), which journald takes as the entry's priority, and carries no timestamp or level
// (journald has both); elsewhere slog's text lines, with their time.
func NewLogHandler(w io.Writer, toJournal bool, opts *slog.HandlerOptions) slog.Handler {
	if !toJournal {
		return slog.NewTextHandler(w, opts)
	}
	o := slog.HandlerOptions{}
	if opts != nil {
		o = *opts
	}
	inner := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{}
		}
		if inner != nil {
			return inner(groups, a)
		}
		return a
	}
	out := &journalOut{w: w}
	return &journalHandler{out: out, text: slog.NewTextHandler(&out.buf, &o)}
}

// journalOut is the writer the handlers of one NewLogHandler share: a line is formatted
// into buf, then written with its priority in one Write.
type journalOut struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

type journalHandler struct {
	out  *journalOut
	text slog.Handler
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	h.out.buf.Reset()
	h.out.buf.WriteString(priority(r.Level))
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	_, err := h.out.w.Write(h.out.buf.Bytes())
	return err
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{out: h.out, text: h.text.WithAttrs(attrs)}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{out: h.out, text: h.text.WithGroup(name)}
}

// priority is the sd-daemon prefix of a level (sd-daemon(3)).
func priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	default:
		return "<7>"
	}
}
