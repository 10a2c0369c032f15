package state

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/event"
)

func TestJournalSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "agentd.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	items := []Claim{{Token: "t1", Label: "a.fits"}, {Token: "t2", Label: "b.fits"}}
	if err := s.Claimed("ingest", items); err != nil {
		t.Fatal(err)
	}
	if err := s.Ended("ingest", []End{{Token: items[0].Token, Outcome: "completed"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // twice is fine

	s, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Outstanding("ingest")
	if err != nil || len(got) != 1 || got[0] != "t2" {
		t.Fatalf("Outstanding = %v, %v; want [t2]", got, err)
	}
	if other, _ := s.Outstanding("calcache"); len(other) != 0 {
		t.Fatalf("calcache journal = %v, want empty", other)
	}
	c, err := s.Counters("ingest")
	if err != nil || c["completed"] != 1 {
		t.Fatalf("Counters = %v, %v", c, err)
	}
}

// A run's owner recorded by Began for a queue outlives the process (the file is
// reopened) until Finished forgets it.
func TestRunsSurviveAReopenUntilFinished(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "agentd.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"run-a", "run-b"} {
		if err := s.Began("ingest", o); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(path, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Runs("ingest"); err != nil || len(got) != 2 || got[0] != "run-a" || got[1] != "run-b" {
		t.Fatalf("Runs after reopen = %v, %v; want [run-a run-b]", got, err)
	}
	if got, err := s.Runs("calcache"); err != nil || len(got) != 0 {
		t.Fatalf("calcache runs = %v, %v; want none (runs are kept per queue)", got, err)
	}
	if err := s.Finished("ingest", []string{"run-a"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Runs("ingest"); err != nil || len(got) != 1 || got[0] != "run-b" {
		t.Fatalf("Runs after Finished(run-a) = %v, %v; want [run-b]", got, err)
	}
}

func TestSecondOpenerGetsErrLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "agentd.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if _, err := Open(path, 200*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("second Open waited far past its timeout")
	}
}

func TestEventsAreTrimmed(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "agentd.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < MaxEvents+20; i++ {
		if err := s.AddEvent(event.Event{Kind: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(MaxEvents * 2)
	if err != nil || len(evs) != MaxEvents {
		t.Fatalf("kept %d events, %v; want %d", len(evs), err, MaxEvents)
	}
	if evs[len(evs)-1].Kind != fmt.Sprint(MaxEvents+19) || evs[0].Kind != "20" {
		t.Fatalf("events run %s..%s, want 20..%d", evs[0].Kind, evs[len(evs)-1].Kind, MaxEvents+19)
	}
}

// A drain is kept across a reopen until it is cleared.
func TestDrainSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Drained(); err != nil || d != nil {
		t.Fatalf("a fresh store is drained: %v, %v", d, err)
	}
	since := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	if err := s.SetDrain(&Drain{Since: since, By: "uid 0 (root)"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := s.Drained(); err != nil || d == nil || !d.Since.Equal(since) || d.By != "uid 0 (root)" {
		t.Fatalf("after reopen: %+v, %v", d, err)
	}
	if err := s.SetDrain(nil); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Drained(); d != nil {
		t.Fatalf("resumed, still drained: %+v", d)
	}
}

// Journal writes from many goroutines at once are group-committed: every one lands, once,
// and a write that fails (here: an empty token, which bbolt refuses as a key) fails alone,
// not the writes that shared its transaction.
func TestGroupCommitKeepsEveryWriteAndFailsOnlyTheBadOne(t *testing.T) {
	t.Parallel()
	s, err := Open(filepath.Join(t.TempDir(), "agentd.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				tok := fmt.Sprintf("w%d-%d", w, i)
				if err := s.Claimed("ingest", []Claim{{Token: tok, Label: tok + ".fits"}}); err != nil {
					errs <- err
				}
				if i%2 == 0 {
					if err := s.Ended("ingest", []End{{Token: tok, Outcome: "completed"}}); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	bad := make(chan error, 1)
	go func() { bad <- s.Claimed("ingest", []Claim{{Token: "", Label: "bad"}}) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-bad; err == nil {
		t.Error("a claim with an empty token was journaled")
	}
	left, err := s.Outstanding("ingest")
	if err != nil || len(left) != writers*each/2 {
		t.Fatalf("outstanding %d, %v; want %d", len(left), err, writers*each/2)
	}
	c, err := s.Counters("ingest")
	if err != nil || c["completed"] != writers*each/2 {
		t.Fatalf("completed %d, %v; want %d", c["completed"], err, writers*each/2)
	}
}
