// Package spot watches the EC2 instance metadata (IMDSv2) of a spot host for what AWS says
// before it takes the instance back: a rebalance recommendation (the instance is at elevated
// risk: stop taking work) and an interruption notice (it will be stopped or terminated at a
// given time, two minutes ahead). agentd acts on them; this package only reads and reports.
//
// # Caveats
//
// A 404 means "no notice": the normal state. Any other failure (the service unreachable for
// a moment, garbage in a notice) is retried with backoff and reported, never fatal: a host
// must not stop working because its metadata service hiccuped. A notice never goes away
// once given.
package spot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kinds of notice.
const (
	Rebalance    = "rebalance"    // a rebalance recommendation
	Interruption = "interruption" // an interruption notice: Action at Time
)

// Notice is what the metadata said.
type Notice struct {
	Kind   string    `json:"kind"`
	Action string    `json:"action,omitempty"` // terminate, stop, hibernate (interruption)
	Time   time.Time `json:"time"`             // when the action happens (interruption) or when AWS noticed (rebalance)
}

// Status is what an agent knows of its spot instance.
type Status struct {
	InstanceID   string  `json:"instance_id"`
	Rebalance    *Notice `json:"rebalance,omitempty"`
	Interruption *Notice `json:"interruption,omitempty"`
	LastError    string  `json:"last_error,omitempty"` // the metadata service's last failure
}

// Watcher polls the instance metadata for notices.
type Watcher struct {
	Endpoint string        // "" = the real service (169.254.169.254)
	Poll     time.Duration // between looks (default 5 s; AWS advises every 5 s)
	Logger   *slog.Logger

	client *imds.Client
}

func (w *Watcher) init() {
	if w.client == nil {
		opt := imds.Options{}
		if w.Endpoint != "" {
			opt.Endpoint = w.Endpoint
		}
		w.client = imds.New(opt)
	}
	if w.Poll <= 0 {
		w.Poll = 5 * time.Second
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
}

// OnEC2 reports whether an instance metadata service answers (asking for the instance id,
// for at most timeout): off EC2 there is nothing to watch.
func (w *Watcher) OnEC2(ctx context.Context, timeout time.Duration) (instanceID string, ok bool) {
	w.init()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := w.get(ctx, "instance-id")
	if err != nil || id == "" {
		return "", false
	}
	return strings.TrimSpace(id), true
}

// Run looks every Poll until ctx ends, calling on once for each kind of notice when it first
// appears. Errors other than "no notice" are reported (onError, may be nil) and retried with
// backoff up to a minute apart.
func (w *Watcher) Run(ctx context.Context, on func(Notice), onError func(error)) {
	w.init()
	seen := map[string]bool{}
	backoff := w.Poll
	for {
		failed := false
		for _, kind := range []string{Rebalance, Interruption} { // a rebalance comes first when both are there
			if seen[kind] {
				continue
			}
			n, err := w.look(ctx, kind)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				failed = true
				if onError != nil {
					onError(err)
				}
			case n != nil:
				seen[kind] = true
				on(*n)
			}
		}
		wait := w.Poll
		if failed {
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, time.Minute)
		} else {
			backoff = w.Poll
		}
		if seen[Interruption] && seen[Rebalance] {
			return // nothing more can come
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// look asks for one kind of notice: nil when there is none (404).
func (w *Watcher) look(ctx context.Context, kind string) (*Notice, error) {
	path := "spot/instance-action"
	if kind == Rebalance {
		path = "events/recommendations/rebalance"
	}
	lookCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := w.get(lookCtx, path)
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("instance metadata %s: %w", path, err)
	}
	n, err := Parse(kind, []byte(body))
	if err != nil {
		return nil, fmt.Errorf("instance metadata %s: %w", path, err)
	}
	return &n, nil
}

// Parse reads a notice document: spot/instance-action ({"action": "terminate", "time":
// "2026-12-02T01:02:03Z"}) or events/recommendations/rebalance ({"noticeTime": "…"}).
func Parse(kind string, body []byte) (Notice, error) {
	switch kind {
	case Interruption:
		var v struct {
			Action string `json:"action"`
			Time   string `json:"time"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return Notice{}, fmt.Errorf("not an instance-action document: %w (%q)", err, excerpt(body))
		}
		t, err := time.Parse(time.RFC3339, v.Time)
		if err != nil || v.Action == "" {
			return Notice{}, fmt.Errorf("an instance-action without a valid action and time: %q", excerpt(body))
		}
		return Notice{Kind: Interruption, Action: v.Action, Time: t}, nil
	case Rebalance:
		var v struct {
			NoticeTime string `json:"noticeTime"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return Notice{}, fmt.Errorf("not a rebalance document: %w (%q)", err, excerpt(body))
		}
		t, err := time.Parse(time.RFC3339, v.NoticeTime)
		if err != nil {
			return Notice{}, fmt.Errorf("a rebalance recommendation without a valid noticeTime: %q", excerpt(body))
		}
		return Notice{Kind: Rebalance, Time: t}, nil
	}
	return Notice{}, fmt.Errorf("unknown kind of notice %q", kind)
}

func excerpt(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

func (w *Watcher) get(ctx context.Context, path string) (string, error) {
	res, err := w.client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer res.Content.Close()
	b, err := io.ReadAll(io.LimitReader(res.Content, 64<<10))
	return string(b), err
}
