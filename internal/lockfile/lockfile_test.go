package lockfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSecondAcquireNamesHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "locks", "ingest-a-0.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(path)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire = %v, want ErrHeld naming pid %d", err, os.Getpid())
	}
	l.Release()
	l.Release()
	// A process forked by a parallel test shares our open file (and so the lock) until it
	// execs and close-on-exec drops it: allow that short window.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l2, err := Acquire(path)
		if err == nil {
			l2.Release()
			break
		}
		if !errors.Is(err, ErrHeld) || time.Now().After(deadline) {
			t.Fatalf("Acquire after Release: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A holder that dies (SIGKILL) leaves no stale lock: the kernel drops it.
func TestLockOfKilledProcessIsFree(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed") // util-linux; on every Debian
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	cmd := exec.Command("flock", "--exclusive", "--no-fork", path, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := Acquire(path)
		if errors.Is(err, ErrHeld) {
			break
		}
		if err == nil {
			l.Release()
		}
		if time.Now().After(deadline) {
			t.Fatal("flock(1) never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("lock of a killed holder: %v", err)
	}
	l.Release()
}

// A lock file that is a symlink (a local user's trap in a shared directory) is refused,
// and the file it points to is left as it was.
func TestSymlinkedLockIsRefusedAndTargetUntouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	locks := filepath.Join(dir, "locks")
	if err := os.Mkdir(locks, 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(locks, "ingest-agentd-0.lock")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if l, err := Acquire(path); !errors.Is(err, ErrUnsafe) {
		l.Release()
		t.Fatalf("Acquire through a symlink = %v, want ErrUnsafe", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("the symlink's target was changed: %q", b)
	}
	// A hard link to another file is refused the same way.
	os.Remove(path)
	if err := os.Link(victim, path); err != nil {
		t.Fatal(err)
	}
	if l, err := Acquire(path); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "links") {
		l.Release()
		t.Fatalf("Acquire of a hard link = %v, want ErrUnsafe", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("the hard link's file was changed: %q", b)
	}
}

// A lock directory others may write to, or that is a symlink, is refused.
func TestUnsafeLockDirectoryIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(filepath.Join(shared, "x.lock")); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("Acquire in a world-writable directory = %v, want ErrUnsafe", err)
	}
	if _, err := os.Stat(filepath.Join(shared, "x.lock")); err == nil {
		t.Fatal("a lock file was created in the unsafe directory")
	}
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o750)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(filepath.Join(link, "x.lock")); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Acquire in a symlinked directory = %v, want ErrUnsafe", err)
	}
}

// As root: a lock directory or file that belongs to another user is refused.
func TestLockOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	const nobody = 65534
	dir := filepath.Join(t.TempDir(), "theirs")
	os.Mkdir(dir, 0o750)
	os.Chown(dir, nobody, nobody)
	if _, err := Acquire(filepath.Join(dir, "x.lock")); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("Acquire in another user's directory = %v, want ErrUnsafe", err)
	}
	mine := filepath.Join(t.TempDir(), "mine")
	os.Mkdir(mine, 0o750)
	path := filepath.Join(mine, "x.lock")
	os.WriteFile(path, nil, 0o600)
	os.Chown(path, nobody, nobody)
	if _, err := Acquire(path); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Acquire of another user's lock file = %v, want ErrUnsafe", err)
	}
}
