package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/aemmtest"
	"github.com/fitsarchive/agentd/internal/agentstatus"
	"github.com/fitsarchive/agentd/internal/hostexec/hostexectest"
)

// spotConfig writes a config whose [spot] section reads the instance metadata at endpoint.
func spotConfig(t *testing.T, b testBundle, endpoint string, extra string) string {
	t.Helper()
	cfg := filepath.Join(b.dir, "spot.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[spot]\nmetadata_endpoint = %q\n%s", endpoint, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// An interruption notice (AEMM, the real metadata mock in its own process: a rebalance
// recommendation after 8 s, a terminate notice after 10 s, two minutes ahead) stops new
// claims and stops the agent so that it is done interruption_margin before the notice's
// time: here 105 s of the 120, less the pool's 10 s cleanup, so running items get about
// 5 s although --grace is 10 minutes. Each item (16 GiB to read) needs far longer: the
// running ones are cut and released (pending, no attempt charged), the agent exits 0 well
// before the deadline, nothing lost; status showed both notices.
func TestSpotInterruptionStopsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.bigFiles(t, 4, 16<<30) // sparse, but each takes tens of seconds to read: running when the notice comes
	b.enqueue(t)
	// AEMM counts its delays from its own start: they leave the agent time to start and claim
	// under a loaded CI machine (a delay of 1 s once let the recommendation come first, so
	// nothing ran, and the agent stopped between two polls of its status).
	url := aemmtest.StartWith(t, "", "spot", "--mock-delay-sec", "10", "--rebalance-delay-sec", "8", "--action", "terminate")
	cfg := spotConfig(t, b, url, "interruption_margin = \"105s\"\n")
	// A grace of ten minutes: only the notice's deadline can make the stop this quick.
	a := b.start(t, "spot", "--config", cfg, "--queue", "ingest:2", "--grace", "10m")
	a.waitStatus(t, 8*time.Second, func(st agentstatus.Status) bool {
		if st.Spot != nil && st.Spot.Rebalance != nil {
			t.Fatalf("the rebalance recommendation came before the agent claimed anything; stderr:\n%s", a.stderr)
		}
		return busy(st)
	})
	st := a.waitStatus(t, 30*time.Second, func(st agentstatus.Status) bool {
		return st.Spot != nil && st.Spot.Interruption != nil && st.Spot.Rebalance != nil
	})
	if !strings.HasPrefix(st.Spot.InstanceID, "i-") || st.Spot.Interruption.Action != "terminate" {
		t.Fatalf("spot status %+v", st.Spot)
	}
	noticed := time.Now()
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d after the interruption notice, want 0:\n%s", code, a.stderr)
	}
	if took := time.Since(noticed); took > 20*time.Second {
		t.Fatalf("stopped %v after the notice; the margin left about 5 s and 10 s of cleanup", took)
	}
	if n := b.count(t, `SELECT count(*) FROM diskfile`); n != 0 {
		t.Fatalf("%d items finished: the stop did not cut the running ones", n)
	}
	for _, want := range []string{"spot rebalance recommendation", "spot interruption notice: stopping"} {
		if !strings.Contains(a.stderr.String(), want) {
			t.Errorf("stderr says nothing of %q:\n%s", want, a.stderr)
		}
	}
	b.assertReleasedClean(t, 4)
}

// A rebalance recommendation alone stops claims for rebalance_resume, then the agent claims
// again and finishes (--empty); off EC2 (no metadata answers) spot handling is off.
func TestSpotRebalanceThenResume(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.sampleQueued(t)
	url := aemmtest.StartWith(t, "", "spot", "--mock-delay-sec", "3600", "--rebalance-delay-sec", "0")
	cfg := spotConfig(t, b, url, "rebalance_resume = \"3s\"\n")
	start := time.Now()
	a := b.start(t, "reb", "--config", cfg, "--queue", "ingest:2", "--empty")
	if code := a.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, a.stderr)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("done in %v: the rebalance recommendation held nothing back", took)
	}
	for _, want := range []string{"spot rebalance recommendation", "no interruption notice followed the rebalance recommendation: claiming again"} {
		if !strings.Contains(a.stderr.String(), want) {
			t.Errorf("stderr says nothing of %q:\n%s", want, a.stderr)
		}
	}
	b.assertExactlyOnce(t, len(m.Ingestable))

	off := b.start(t, "off", "--config", spotConfig(t, b, "http://127.0.0.1:1", ""), "--queue", "ingest", "--empty")
	if code := off.wait(t, 30*time.Second); code != 0 || !strings.Contains(off.stderr.String(), "not on EC2") {
		t.Fatalf("off EC2: exit %d\n%s", code, off.stderr)
	}
}

// The host's systemctl is faked in the one test that asks for a power-off: powering off the
// test machine is the one effect we cannot let happen here (the qemu guest shows the real
// one). Any other command fails the test.
func TestPowerOffAsksSystemd(t *testing.T) {
	t.Parallel()
	r := hostexectest.New(t).On(hostexectest.Reply{}, "systemctl", "poweroff")
	powerOff(context.Background(), r, discardLogger())
	if c := r.Calls(); len(c) != 1 {
		t.Fatalf("power off: commands %v", c)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
