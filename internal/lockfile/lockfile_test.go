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
