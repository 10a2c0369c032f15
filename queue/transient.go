package queue

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether err is a database error worth trying again rather than failing
// an item: a server error of a transient class — shutting down or restarting (57P01, 57P02,
// 57P03), out of connections (53300), a deadlock (40P01) or serialization failure (40001),
// a lock wait or statement that timed out (55P03, 57014), a session ended for idling in a
// transaction (25P03), any connection exception (08…) — or a failure of the connection
// itself as pgx reports it (connect, send, receive, closed). Anything else is not: a file
// that cannot be read or decompressed fails its item, whatever the I/O error says, and a
// cancelled context means the caller is stopping.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
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
	// Every connection-level error pgconn returns (pgconnError, connLockError, timeouts,
	// ConnectError) carries SafeToRetry; nothing outside pgx does in this program.
	var conn interface{ SafeToRetry() bool }
	var ce *pgconn.ConnectError
	return errors.As(err, &conn) || errors.As(err, &ce) || errors.Is(err, pgconn.ErrConnClosed)
}
