// Package agentstatus is agentd's control socket as agentctl sees it: the status document
// (GET /status), the recent events (GET /events), drain and resume (POST /drain, /resume),
// and the client that asks for them.
package agentstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fitsarchive/agentd/internal/spot"
	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/queue"
)

var (
	// ErrNotRunning is returned when no agentd answers on the socket.
	ErrNotRunning = errors.New("agentd is not running")
	// ErrPermission is returned when the socket, or the agent behind it, refuses the caller.
	ErrPermission = errors.New("permission denied")
)

// Status is what agentd reports about itself.
type Status struct {
	Name     string                       `json:"name"`
	Version  string                       `json:"version"` // the agentd build (cli.Version)
	PID      int                          `json:"pid"`
	Role     string                       `json:"role"`
	Started  time.Time                    `json:"started"`
	Database string                       `json:"database,omitempty"` // ok, connecting, unreachable (…); absent without queues
	Drained  *Drain                       `json:"drained"`            // null when claiming
	Queues   []queue.QueueState           `json:"queues"`
	Lifetime map[string]map[string]uint64 `json:"lifetime_counts"`
	Events   []queue.Event                `json:"events"`
	Storage  *storagewatch.Snapshot       `json:"storage,omitempty"` // when the storage agent runs
	Spot     *spot.Status                 `json:"spot,omitempty"`    // on a spot (EC2) host
}

// Drain says since when, and at whose request, the agent claims nothing new.
type Drain struct {
	Since time.Time `json:"since"`
	By    string    `json:"by,omitempty"`
}

// Client talks to one agentd's control socket.
type Client struct {
	Path string
}

// Fetch reads the status from the socket at path.
func Fetch(ctx context.Context, path string) (Status, error) {
	var st Status
	return st, Client{Path: path}.do(ctx, http.MethodGet, "/status", &st)
}

// Events reads up to n recent events, oldest first.
func (c Client) Events(ctx context.Context, n int) ([]queue.Event, error) {
	var out struct {
		Events []queue.Event `json:"events"`
	}
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/events?n=%d", n), &out)
	return out.Events, err
}

// Drained is the answer to Drain and Resume.
type Drained struct {
	Drained bool      `json:"drained"`
	Since   time.Time `json:"since,omitzero"`
	By      string    `json:"by,omitempty"`
}

// Drain stops the agent's new claims (kept across its restarts until Resume).
func (c Client) Drain(ctx context.Context) (Drained, error) {
	var d Drained
	return d, c.do(ctx, http.MethodPost, "/drain", &d)
}

// Resume lets the agent claim again.
func (c Client) Resume(ctx context.Context) (Drained, error) {
	var d Drained
	return d, c.do(ctx, http.MethodPost, "/resume", &d)
}

// PauseStorage holds the storage agent's actions on arrays for d (an operator's command at
// work on them: renew it before it lapses); by says who.
func (c Client) PauseStorage(ctx context.Context, arrays []string, d time.Duration, by string) error {
	q := url.Values{"arrays": {strings.Join(arrays, ",")}, "for": {d.String()}, "by": {by}}
	var out map[string]any
	return c.do(ctx, http.MethodPost, "/storage/pause?"+q.Encode(), &out)
}

// ResumeStorage lets the storage agent act on arrays again.
func (c Client) ResumeStorage(ctx context.Context, arrays []string) error {
	var out map[string]any
	return c.do(ctx, http.MethodPost, "/storage/resume?"+url.Values{"arrays": {strings.Join(arrays, ",")}}.Encode(), &out)
}

func (c Client) do(ctx context.Context, method, endpoint string, into any) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Path)
		},
	}, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, method, "http://agentd"+endpoint, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w on %s: add yourself to the socket's group (agentd's socket_group, default agentd), then log in again", ErrPermission, c.Path)
	case err != nil:
		return fmt.Errorf("%w: no answer on %s (%v)", ErrNotRunning, c.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s from %s: %w", endpoint, c.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("%w: %s: add yourself to the socket's group, then log in again", ErrPermission, e.Error)
		}
		return fmt.Errorf("control socket %s answered %s: %s", c.Path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("read %s from %s: %w", endpoint, c.Path, err)
	}
	return nil
}
