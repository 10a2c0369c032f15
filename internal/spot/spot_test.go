package spot

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/aemmtest"
)

// collect runs the watcher until want notices came or timeout, returning them and the
// errors reported.
func collect(t *testing.T, w *Watcher, want int, timeout time.Duration) ([]Notice, []error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var mu sync.Mutex
	var notices []Notice
	var errs []error
	w.Run(ctx, func(n Notice) {
		mu.Lock()
		notices = append(notices, n)
		if len(notices) == want {
			cancel()
		}
		mu.Unlock()
	}, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	return notices, errs
}

// AEMM (the real metadata mock, its own process) with no notice configured yet: 404 is no
// notice and no error; the instance is on "EC2".
func TestNoNoticeIsNoError(t *testing.T) {
	t.Parallel()
	url := aemmtest.StartWith(t, "", "spot", "--mock-delay-sec", "3600", "--rebalance-delay-sec", "3600")
	w := &Watcher{Endpoint: url, Poll: 100 * time.Millisecond}
	if id, ok := w.OnEC2(context.Background(), 5*time.Second); !ok || !strings.HasPrefix(id, "i-") {
		t.Fatalf("on EC2: %q, %v", id, ok)
	}
	notices, errs := collect(t, w, 1, time.Second)
	if len(notices) != 0 || len(errs) != 0 {
		t.Fatalf("notices %v, errors %v; want neither", notices, errs)
	}
}

// A rebalance recommendation, then an interruption notice a few seconds after AEMM starts:
// each reported once, in that order, the interruption with its action and time; also in
// IMDSv2-only mode (tokens required).
func TestRebalanceThenInterruption(t *testing.T) {
	t.Parallel()
	for _, v2 := range []bool{false, true} {
		args := []string{"spot", "--mock-delay-sec", "2", "--rebalance-delay-sec", "0", "--action", "terminate"}
		if v2 {
			args = append([]string{"--imdsv2"}, args...)
		}
		url := aemmtest.StartWith(t, "", args...)
		w := &Watcher{Endpoint: url, Poll: 100 * time.Millisecond}
		notices, errs := collect(t, w, 2, 20*time.Second)
		if len(errs) != 0 {
			t.Errorf("imdsv2=%v: errors %v", v2, errs)
		}
		if len(notices) != 2 || notices[0].Kind != Rebalance || notices[1].Kind != Interruption ||
			notices[1].Action != "terminate" || notices[1].Time.IsZero() {
			t.Fatalf("imdsv2=%v: notices %+v; want a rebalance, then a terminate with its time", v2, notices)
		}
	}
}

// Off EC2 (nothing listens where the metadata should be) OnEC2 says so within its timeout.
func TestNotOnEC2(t *testing.T) {
	t.Parallel()
	w := &Watcher{Endpoint: "http://127.0.0.1:1"}
	start := time.Now()
	if _, ok := w.OnEC2(context.Background(), 2*time.Second); ok {
		t.Fatal("on EC2 with no metadata service")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v to say no", took)
	}
}

// Garbage where a notice should be is an error reported (and retried), never a notice; the
// service failing now and then likewise. (A local HTTP server plays the broken metadata
// service: AEMM always answers well-formed documents.)
func TestGarbageIsReportedNotActedOn(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut: // IMDSv2 token
			w.Write([]byte("token"))
		case strings.HasSuffix(r.URL.Path, "spot/instance-action"):
			w.Write([]byte(`{"action": "terminate", "time": "soon"}`))
		default:
			http.Error(w, "boom", http.StatusBadRequest) // not retried by the SDK: our backoff shows
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	w := &Watcher{Endpoint: "http://" + ln.Addr().String(), Poll: 50 * time.Millisecond}
	notices, errs := collect(t, w, 1, 2*time.Second)
	if len(notices) != 0 {
		t.Fatalf("acted on garbage: %+v", notices)
	}
	var garbage, broken bool
	for _, e := range errs {
		garbage = garbage || strings.Contains(e.Error(), "without a valid action and time")
		broken = broken || strings.Contains(e.Error(), "events/recommendations/rebalance")
	}
	if !garbage || !broken {
		t.Fatalf("errors %v; want the bad document and the failing path reported", errs)
	}
}

// The documents' parser takes any bytes without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"action":"terminate","time":"2026-12-02T01:02:03Z"}`))
	f.Add([]byte(`{"noticeTime":"2026-12-02T01:02:03Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range []string{Interruption, Rebalance} {
			n, err := Parse(k, b)
			if err == nil && (n.Kind != k || n.Time.IsZero() && k == Interruption) {
				t.Fatalf("%s: accepted %q as %+v", k, b, n)
			}
		}
	})
}
