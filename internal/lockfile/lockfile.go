// Package lockfile holds flock(2) locks on files, so that two workers of one name never run
// at once. The kernel releases a lock when its holder dies, so there are no stale locks and
// no pid guessing (FitsStorage's kill(pid, 0) check is fooled by pid reuse). The holder's
// pid is written into the file after locking, for the error message of the next one.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	// ErrHeld is returned by Acquire when another process holds the lock.
	ErrHeld = errors.New("lock is held by another process")
)

// Lock is a held lock; Release lets it go.
type Lock struct {
	f    *os.File
	Path string
}

// Acquire takes the lock at path without waiting, creating the file (and its directory).
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by pid %s; stop that agentd or choose another --name", ErrHeld, path, Holder(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, Path: path}, nil
}

// Holder returns the pid written in the lock file at path ("unknown" when unreadable).
func Holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Release drops the lock; safe to call twice. The file stays (removing it would race with
// a process that just opened it).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
