// Package lockfile holds flock(2) locks on files, so that two workers of one name never run
// at once. The kernel releases a lock when its holder dies, so there are no stale locks and
// no pid guessing (FitsStorage's kill(pid, 0) check is fooled by pid reuse). The holder's
// pid is written into the file after locking, for the error message of the next one.
//
// agentd runs as root, so the files it opens must not be ones another user can steer it
// to: locks live in a private directory (PrivateDir: owned by the agent's user, writable by
// no one else, not a symlink), and a lock file is opened with O_NOFOLLOW and checked with
// fstat (a regular file of the agent's user with one link) before anything is written.
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
	// ErrUnsafe is returned when a directory or lock file could be steered by another user.
	ErrUnsafe = errors.New("unsafe lock or runtime path")
)

// Lock is a held lock; Release lets it go.
type Lock struct {
	f    *os.File
	Path string
}

// PrivateDir makes sure dir exists as a directory of this process's user that no other
// user may write to (mode 0750 when created) and that is not a symlink, and refuses
// otherwise, saying what is wrong. Keep it under a directory only its owner may change
// (/run, or the agent's own RuntimeDirectory).
func PrivateDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	uid := uint32(os.Geteuid())
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%w: %s is not a directory (a symlink?); remove it or choose another path", ErrUnsafe, dir)
	case st.Uid != uid:
		return fmt.Errorf("%w: %s belongs to uid %d, not to this agent (uid %d); remove it or choose another path", ErrUnsafe, dir, st.Uid, uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by group or others (mode %#o); chmod go-w it or choose another path", ErrUnsafe, dir, st.Mode&0o7777)
	}
	return nil
}

// Acquire takes the lock at path without waiting, creating the file (and its directory,
// which must be private: see PrivateDir).
func Acquire(path string) (*Lock, error) {
	if err := PrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: lock %s is a symlink; remove it", ErrUnsafe, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("check lock %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		f.Close()
		return nil, fmt.Errorf("%w: lock %s is not a regular file; remove it", ErrUnsafe, path)
	case st.Uid != uint32(os.Geteuid()):
		f.Close()
		return nil, fmt.Errorf("%w: lock %s belongs to uid %d, not to this agent; remove it", ErrUnsafe, path, st.Uid)
	case st.Nlink != 1:
		f.Close()
		return nil, fmt.Errorf("%w: lock %s has %d links (a hard link to another file?); remove it", ErrUnsafe, path, st.Nlink)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
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

// Holder returns the pid written in the lock file at path ("unknown" when unreadable). It
// reads at most a few bytes and never follows a symlink.
func Holder(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return "unknown"
	}
	defer unix.Close(fd)
	buf := make([]byte, 32)
	n, _ := unix.Read(fd, buf)
	if n <= 0 || len(strings.TrimSpace(string(buf[:n]))) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(buf[:n]))
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
