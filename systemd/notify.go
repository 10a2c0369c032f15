// Package systemd is agentd's side of systemd: sd_notify messages (readiness, status,
// stopping) through go-systemd, a supervisor that pings the watchdog only while every loop
// it watches is turning, a log handler for journald, and the unit files as data (rendered
// by agentctl install-units, verified by systemd-analyze in the tests).
//
// # Caveats
//
// Without NOTIFY_SOCKET (not started by systemd, or Type=simple) every notification is a
// no-op and the supervisor never pings: agentd runs as it would anywhere.
package systemd

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify messages to the service manager. The zero value is not usable;
// NewNotifier reads the environment once.
type Notifier struct {
	mu         sync.Mutex
	lastStatus string
	watchdog   time.Duration // 0: no watchdog asked for this process
	send       func(state string) (bool, error)
}

// NewNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the environment of the
// process) and returns a Notifier for them.
func NewNotifier() *Notifier {
	n := &Notifier{send: func(state string) (bool, error) { return daemon.SdNotify(false, state) }}
	if d, err := daemon.SdWatchdogEnabled(false); err == nil {
		n.watchdog = d
	}
	return n
}

// Watchdog is the watchdog interval systemd asked for (WatchdogSec=), 0 when none.
func (n *Notifier) Watchdog() time.Duration { return n.watchdog }

// Ready says the service is up: READY=1 with its first status line.
func (n *Notifier) Ready(status string) error {
	n.mu.Lock()
	n.lastStatus = status
	n.mu.Unlock()
	return n.notify(daemon.SdNotifyReady + "\nSTATUS=" + oneLine(status))
}

// Status sets the status line `systemctl status` shows; an unchanged line is not resent.
func (n *Notifier) Status(status string) error {
	n.mu.Lock()
	same := status == n.lastStatus
	n.lastStatus = status
	n.mu.Unlock()
	if same {
		return nil
	}
	return n.notify("STATUS=" + oneLine(status))
}

// Stopping says the service is shutting down: STOPPING=1 and why.
func (n *Notifier) Stopping(why string) error {
	return n.notify(daemon.SdNotifyStopping + "\nSTATUS=" + oneLine(why))
}

// Ping is one watchdog keep-alive: WATCHDOG=1.
func (n *Notifier) Ping() error { return n.notify(daemon.SdNotifyWatchdog) }

func (n *Notifier) notify(state string) error {
	if _, err := n.send(state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.SplitN(state, "\n", 2)[0], err)
	}
	return nil
}

// oneLine keeps a status to one line (a newline would start another assignment).
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
