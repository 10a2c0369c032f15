// Package hostexec runs the host's storage commands (mdadm, wipefs) for the storage agent:
// one place that logs every command with its outcome and folds stderr into the error.
package hostexec

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

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

// Run implements Runner. A failure says the command line, the exit status and what the
// command printed on stderr.
func (e Exec) Run(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	start := time.Now()
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second // a killed command's children must not hold its pipes open
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	line := name + " " + strings.Join(args, " ")
	if e.Logger != nil {
		e.Logger.Debug("ran", "cmd", line, "seconds", time.Since(start).Seconds(), "err", err, "stderr", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("%s: %w: %s", line, err, msg)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}
