// Package agentstatus is the read-only status document agentd serves on its unix socket
// (GET /status) and the client agentctl reads it with.
package agentstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/fitsarchive/agentd/internal/storagewatch"
	"github.com/fitsarchive/agentd/queue"
)

var (
	// ErrNotRunning is returned by Fetch when no agentd answers on the socket.
	ErrNotRunning = errors.New("agentd is not running")
)

// Status is what agentd reports about itself.
type Status struct {
	Name     string                       `json:"name"`
	Version  string                       `json:"version"` // the agentd build (cli.Version)
	PID      int                          `json:"pid"`
	Role     string                       `json:"role"`
	Started  time.Time                    `json:"started"`
	Queues   []queue.QueueState           `json:"queues"`
	Lifetime map[string]map[string]uint64 `json:"lifetime_counts"`
	Events   []queue.Event                `json:"events"`
	Storage  *storagewatch.Snapshot       `json:"storage,omitempty"` // when the storage agent runs
}

// Fetch reads the status from the socket at path.
func Fetch(ctx context.Context, path string) (Status, error) {
	var st Status
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agentd/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, fmt.Errorf("%w: no answer on %s (%v)", ErrNotRunning, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status socket %s answered %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("read status from %s: %w", path, err)
	}
	return st, nil
}
