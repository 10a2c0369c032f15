package queue

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether err is a database error worth trying again rather than failing
// an item: a server error of a transient class — shutting down or restarting (57P01, 57P02,
// 57P03), out of connections (53300), a deadlock (40P01) or serialization failure (40001),
// a lock wait or statement that timed out (55P03, 57014), a session ended for idling in a
// transaction (25P03), any connection exception (08…) — or the connection itself failing
// (pgx reports a dropped connection as io.ErrUnexpectedEOF, a reset as a net.Error).
//
// Handlers mark what is not the database's doing with Permanent: a truncated file also
// ends in io.ErrUnexpectedEOF, and must fail its item rather than loop. A cancelled context
// is never transient: the caller is stopping.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "25P03":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var conn interface{ SafeToRetry() bool }
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &conn) || errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED)
}

// Unavailable says the database could not be reached or was going down (a restart, a
// pooler that cannot log in to it for now): a transient error that no item can have caused,
// so putting an item back for it is never counted against the item.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03": // admin shutdown, crash shutdown, cannot connect now
			return true
		}
		// A connection refused for good by whoever answers: PgBouncer's "server login has
		// been failing, try again later" (08P01) while the database restarts.
		if strings.HasPrefix(pe.Code, "08") && pe.Severity == "FATAL" {
			return true
		}
	}
	return false
}

// permanentError marks an error that is the item's own (its file, its data), never the
// database's: Transient says false whatever it wraps.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as the item's own fault: the pool fails the item with it instead of
// putting it back, even when it wraps an I/O error that a lost connection also produces.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}
