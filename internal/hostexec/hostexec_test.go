package hostexec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExecReturnsOutputAndFoldsStderrIntoErrors(t *testing.T) {
	ctx := context.Background()
	out, errOut, err := Exec{}.Run(ctx, "sh", "-c", "echo out; echo 'mdadm: added /dev/vdc' >&2")
	if err != nil || string(out) != "out\n" || string(errOut) != "mdadm: added /dev/vdc\n" {
		t.Fatalf("success: %q %q %v", out, errOut, err)
	}
	_, _, err = Exec{}.Run(ctx, "sh", "-c", "echo 'mdadm: cannot open /dev/nvme1n1: No such file' >&2; exit 1")
	if err == nil || !strings.Contains(err.Error(), "sh -c") || !strings.Contains(err.Error(), "exit status 1") ||
		!strings.Contains(err.Error(), "No such file") {
		t.Fatalf("failure: %v", err)
	}
	if _, _, err := (Exec{}).Run(ctx, "no-such-command-here"); err == nil {
		t.Fatal("a missing command gave no error")
	}
}

func TestHungCommandIsStopped(t *testing.T) {
	start := time.Now()
	_, _, err := Exec{Timeout: 200 * time.Millisecond}.Run(context.Background(), "sleep", "30")
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("hung command: %v after %s", err, time.Since(start))
	}
}

// Commands come from the system directories, never from $PATH, and get no environment
// but PATH (those directories) and LC_ALL=C: a DATABASE_URL or a planted binary in a
// directory on $PATH reaches nothing.
func TestCommandsIgnorePATHAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	planted := filepath.Join(dir, "mdadm-test-planted")
	if err := os.WriteFile(planted, []byte("#!/bin/sh\necho planted\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("DATABASE_URL", "postgres://u:secret@h/db")
	if _, _, err := (Exec{}).Run(context.Background(), "mdadm-test-planted"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a command found only through $PATH ran: %v", err)
	}
	out, _, err := Exec{}.Run(context.Background(), "sh", "-c", "env")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Fields(string(out))
	for _, kv := range env {
		if strings.HasPrefix(kv, "DATABASE_URL=") || strings.Contains(kv, dir) {
			t.Fatalf("the command's environment holds %q; want only PATH and LC_ALL:\n%s", kv, out)
		}
	}
}

// A failure is an *Error carrying argv, the exit code and stderr; the streaming form hands
// stdout to its writer as it comes and keeps only stderr's tail.
func TestErrorCarriesArgvCodeAndStderr(t *testing.T) {
	ctx := context.Background()
	_, _, err := Exec{}.Run(ctx, "sh", "-c", "echo 'lvm: no volume groups' >&2; exit 5")
	var e *Error
	if !errors.As(err, &e) || e.ExitCode != 5 || e.Stderr != "lvm: no volume groups" || e.Argv[0] != "sh" || e.Argv[1] != "-c" {
		t.Fatalf("error %#v", err)
	}
	var out countingWriter
	if err := (Exec{}).Stream(ctx, &out, "sh", "-c", "head -c 10000000 /dev/zero; echo done >&2"); err != nil || out.n != 10_000_000 {
		t.Fatalf("stream: %d bytes, %v", out.n, err)
	}
	err = Exec{}.Stream(ctx, &out, "sh", "-c", "head -c 200000 /dev/zero >&2; echo 'pg_restore: error: unsupported version' >&2; exit 1")
	if !errors.As(err, &e) || e.ExitCode != 1 || len(e.Stderr) > 64<<10 || !strings.HasSuffix(e.Stderr, "unsupported version") {
		t.Fatalf("stream failure: code %d, %d bytes of stderr, %v", e.ExitCode, len(e.Stderr), err)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
