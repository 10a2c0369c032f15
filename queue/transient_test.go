package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fitsarchive/agentd/queue"
)

func TestTransientClassifiesDatabaseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40P01"}, true},
		{fmt.Errorf("record: %w", &pgconn.PgError{Code: "57P01"}), true},
		{&pgconn.PgError{Code: "55P03"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation: a real failure
		{&pgconn.PgError{Code: "22P02"}, false},
		{fmt.Errorf("file row of x: %w", io.ErrUnexpectedEOF), true},                   // pgx's dropped connection
		{queue.Permanent(fmt.Errorf("read: %w", io.ErrUnexpectedEOF)), false},          // a truncated file
		{queue.Permanent(&pgconn.PgError{Code: "40P01"}), false},                       // marked by the handler
		{fmt.Errorf("write: %w", &net.OpError{Op: "write", Err: syscall.EPIPE}), true}, // a reset connection
		{fmt.Errorf("open: %w", fs.ErrPermission), false},
		{context.Canceled, false},
		{errors.New("not a FITS file"), false},
		{nil, false},
	} {
		if got := queue.Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// Unavailable: the database could not be reached or was going down, which no item causes.
func TestUnavailableClassifiesOutages(t *testing.T) {
	t.Parallel()
	_, connectErr := pgconn.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("begin ingest of x: %w", connectErr), true},                      // a real failed connect
		{fmt.Errorf("commit ingest of x: %w", &pgconn.PgError{Code: "57P01"}), true}, // pg_ctl restart -m fast
		{&pgconn.PgError{Code: "57P03"}, true},                                       // the server is starting
		{&pgconn.PgError{Severity: "FATAL", Code: "08P01", Message: "server login has been failing, try again later (server_login_retry)"}, true}, // PgBouncer
		{&pgconn.PgError{Severity: "ERROR", Code: "08P01"}, false},
		{&pgconn.PgError{Code: "40P01"}, false},                       // a deadlock: transient, counted
		{fmt.Errorf("file row of x: %w", io.ErrUnexpectedEOF), false}, // a backend that died mid-statement
		{queue.Permanent(&pgconn.PgError{Code: "57P01"}), false},
		{nil, false},
	} {
		if got := queue.Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
