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
	bin, err := Find(name)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env()
	cmd.WaitDelay = 5 * time.Second // a killed command's children must not hold its pipes open
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
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
