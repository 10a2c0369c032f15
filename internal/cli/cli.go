// Package cli is the command-line contract shared by agentd and agentctl: the exit codes and
// how an error is given one (each binary lists the error classes of the packages it runs,
// so neither links the other's); the --json form (exactly one object on stdout, errors
// included); the version string; and the compatibility rewrite of single-dash long flags.
// The commands themselves are built with cobra in each binary.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// Exit codes of both binaries (style.md, "Command-line contract").
const (
	ExitOK       = 0 // done
	ExitFailed   = 1 // failed
	ExitUsage    = 2 // bad command line
	ExitConnect  = 3 // cannot connect to or read the source (database, dump, device)
	ExitWrong    = 4 // wrong database, schema or dump
	ExitRefused  = 5 // refused for safety (lock held, non-empty target, guard tripped)
	ExitProblems = 6 // finished, but some items had problems (listed)
)

var classNames = map[int]string{
	ExitFailed: "failed", ExitUsage: "usage", ExitConnect: "connect", ExitWrong: "wrong-target",
	ExitRefused: "refused", ExitProblems: "problems",
}

// Error gives an error an explicit exit code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef is a usage error (exit 2).
func Usagef(format string, args ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// errReported is the error of a command that printed its whole result and has only an exit
// code left to give (a monitoring check's WARNING or CRITICAL).
var errReported = errors.New("reported")

// Reported ends a command whose result is printed already with exit code code and nothing
// more on stderr.
func Reported(code int) error {
	if code == ExitOK {
		return nil
	}
	return &Error{Code: code, Err: errReported}
}

// WithCode marks err with an exit code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Class gives the errors that are (errors.Is) Err an exit code. Each binary lists the
// classes of the packages its commands run, next to those commands.
type Class struct {
	Err  error
	Code int
}

// ExitCode decides the exit code of err: an explicit code (Error), else the first of
// classes err is, else 3 for a connection that failed, else 1.
func ExitCode(err error, classes []Class) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for _, c := range classes {
		if errors.Is(err, c.Err) {
			return c.Code
		}
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) {
		return ExitConnect
	}
	return ExitFailed
}

// Output writes a command's result: human text, or with JSON exactly one object on stdout.
type Output struct {
	JSON    bool
	Stdout  io.Writer
	Stderr  io.Writer
	Classes []Class // the binary's error classes, for the exit code
}

// Result prints v as JSON, or calls human to print text.
func (o Output) Result(v any, human func(w io.Writer)) {
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	human(o.Stdout)
}

// Fail reports err (one line on stderr; as {"error": …} on stdout with JSON) and returns the
// exit code. A cancelled context is reported as interrupted.
func (o Output) Fail(prog string, err error) int {
	return o.FailWith(prog, err, nil)
}

// FailWith is Fail with more fields for the JSON object (e.g. the plan that was refused).
func (o Output) FailWith(prog string, err error, extra map[string]any) int {
	code := ExitCode(err, o.Classes)
	if errors.Is(err, errReported) {
		return code
	}
	msg := oneLine(err.Error())
	if errors.Is(err, context.Canceled) {
		msg = "interrupted: " + msg
	}
	if o.JSON {
		obj := map[string]any{"error": map[string]any{
			"message": msg, "class": classNames[code], "exit_code": code,
		}}
		for k, v := range extra {
			obj[k] = v
		}
		o.Result(obj, nil)
	}
	fmt.Fprintf(o.Stderr, "%s: %s\n", prog, msg)
	return code
}

// IsTerminal reports whether w is a terminal (progress bars only go to terminals).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// oneLine folds a multi-line message (pgx lists every connection attempt on its own line)
// into the single line the command-line contract promises.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// Printable makes text from the outside (a file name, an error message) safe to print on a
// terminal: control characters (escape sequences among them) and invalid UTF-8 are shown
// as Go escapes (\x1b, \n, \xff) instead of being acted on. JSON output needs no such care.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// Version is the build's version, commit and Go release, from the build information.
func Version() string {
	v, commit, dirty := "(devel)", "unknown", false
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty {
		commit += "+dirty"
	}
	return fmt.Sprintf("%s (commit %s, %s)", v, commit, goVersion)
}

// singleDashLong is a long flag written with one dash, as Go's flag package allowed.
var singleDashLong = regexp.MustCompile(`^-([a-z][a-z0-9]*(-[a-z0-9]+)+|[a-z]{2,}[a-z0-9]*)(=.*)?$`)

// ModernizeArgs rewrites single-dash long flags (-json, as Go's flag package accepted
// them) into --json before a "--", warning on stderr: cobra reads -json as -j -s -o -n.
func ModernizeArgs(prog string, argv []string, stderr io.Writer) []string {
	out := make([]string, 0, len(argv))
	for i, arg := range argv {
		if arg == "--" {
			return append(out, argv[i:]...)
		}
		if singleDashLong.MatchString(arg) {
			name := strings.SplitN(arg[1:], "=", 2)[0]
			fmt.Fprintf(stderr, "%s: warning: -%s is deprecated; write --%s\n", prog, name, name)
			arg = "-" + arg
		}
		out = append(out, arg)
	}
	return out
}
