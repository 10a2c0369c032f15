// Package connstr describes PostgreSQL connection strings for people without ever showing a
// password: a description is built from the parsed configuration (user, host, port,
// database), never by editing the raw string, and a string that does not parse is not
// repeated at all (pgx's own message repeats it, redacted on a best-effort basis only).
package connstr

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrParse is returned (wrapped) for a connection string that does not parse.
var ErrParse = errors.New("the connection string does not parse")

// Describe names the database cfg connects to: "user@host:port/database", with a socket
// directory as host when it connects through one.
func Describe(cfg *pgconn.Config) string {
	host := cfg.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	} else {
		host += ":" + strconv.Itoa(int(cfg.Port))
	}
	return fmt.Sprintf("%s@%s/%s", cfg.User, host, cfg.Database)
}

// ParseError replaces the error of a connection string that failed to parse with one that
// says which string (what: "--to", "source") and how it should look, but not what it held.
func ParseError(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w (not shown: it may hold a password); write it as postgresql://user@host:port/database "+
		"or as key=value pairs", what, ErrParse)
}
