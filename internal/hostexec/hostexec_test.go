package hostexec

import (
	"context"
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
