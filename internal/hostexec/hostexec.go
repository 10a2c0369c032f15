// Package hostexec runs the host's storage commands (mdadm, wipefs, lvm) for the storage
// agent: one place that logs every command with its outcome and folds stderr into the
// error. agentd runs as root, so a command is never looked up in $PATH (whoever set the
// environment would choose the binary) and never inherits the environment (DATABASE_URL
// among it): it is found in the system's own directories (SystemDirs) and runs with
// the environment Env gives.
package hostexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// SystemDirs are the directories commands are found in, in order.
var SystemDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// ErrNotFound is returned for a command that is in none of SystemDirs.
var ErrNotFound = errors.New("command not found in the system directories")

// Find returns the absolute path of command name: name itself when absolute, else the
// first executable file of that name in SystemDirs.
func Find(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	if strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("command %q: give a bare name or an absolute path", name)
	}
	for _, dir := range SystemDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w (%s); install it", name, ErrNotFound, strings.Join(SystemDirs, ", "))
}

// Env is the whole environment a command gets: PATH (SystemDirs), LC_ALL=C, and the
// storage tools' own knobs if the agent was given any (MDADM_NO_UDEV, MDADM_NO_SYSTEMCTL,
// LVM_SYSTEM_DIR…: every MDADM_* and LVM_* variable).
func Env() []string {
	env := []string{"PATH=" + strings.Join(SystemDirs, ":"), "LC_ALL=C"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MDADM_") || strings.HasPrefix(kv, "LVM_") {
			env = append(env, kv)
		}
	}
	return env
}

// Runner runs a command and returns what it printed (mdadm prints its status lines, such as
// "mdadm: added /dev/vdc", on stderr).
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error)
}

// DefaultTimeout bounds one command: a tool hung on a dying device must not stop the agent.
const DefaultTimeout = 2 * time.Minute

// Exec runs commands on this host.
type Exec struct {
	Logger  *slog.Logger  // nil: no logging
	Timeout time.Duration // per command; 0 = DefaultTimeout
}

// Error is a command that failed: its argv, its exit code (-1 when it did not exit by
// itself: not started, killed, timed out) and what it printed on stderr (stdout when stderr
// was empty), for the message and for callers that look closer (errors.As).
type Error struct {
	Argv     []string
	ExitCode int
	Stderr   string
	Err      error // the exec error: *exec.ExitError, a timeout, a start failure
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run implements Runner. A failure is an *Error: the command line, the exit status and
// what the command printed on stderr.
func (e Exec) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var stdout bytes.Buffer
	stderr, err := e.run(ctx, timeout, &stdout, name, args)
	if err != nil && err.(*Error).Stderr == "" {
		err.(*Error).Stderr = strings.TrimSpace(stdout.String())
	}
	return stdout.Bytes(), stderr, err
}

// Stream runs a command whose output is large (pg_restore's SQL: gigabytes) with its
// stdout going to w as it comes; stderr is kept (its last 64 KiB) for the error. It has
// no time limit but ctx's (and Timeout, when set).
func (e Exec) Stream(ctx context.Context, w io.Writer, name string, args ...string) error {
	_, err := e.run(ctx, e.Timeout, w, name, args)
	return err
}

// run runs one command; a timeout of 0 means none but ctx's. A failure is an *Error.
func (e Exec) run(ctx context.Context, timeout time.Duration, stdout io.Writer, name string, args []string) ([]byte, error) {
	start := time.Now()
	argv := append([]string{name}, args...)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	bin, err := Find(name)
	if err != nil {
		return nil, &Error{Argv: argv, ExitCode: -1, Err: err}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env()
	cmd.WaitDelay = 5 * time.Second // a killed command's children must not hold its pipes open
	stderr := &tail{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if e.Logger != nil {
		e.Logger.Debug("ran", "cmd", strings.Join(argv, " "), "seconds", time.Since(start).Seconds(), "err", err, "stderr", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stderr.Bytes(), &Error{Argv: argv, ExitCode: code, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stderr.Bytes(), nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) Bytes() []byte  { return t.buf }
func (t *tail) String() string { return string(t.buf) }
