package mdraid

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrBusy is returned by StartCheck for an array that is resyncing, recovering or checking
// already: a scrub never competes with a recovery.
var ErrBusy = errors.New("the array is busy")

// SyncState is what sysfs says of an array's background work.
type SyncState struct {
	Action   string `json:"action"` // sync_action: idle, check, repair, recover, resync, frozen…
	Done     int64  `json:"done_sectors"`
	Total    int64  `json:"total_sectors"`
	Mismatch int64  `json:"mismatch_cnt"`
}

// ReadSync reads sync_action, sync_completed ("done / total" in sectors, or "none") and
// mismatch_cnt of array under sysRoot.
func ReadSync(sysRoot, array string) (SyncState, error) {
	dir := filepath.Join(sysRoot, "block", array, "md")
	b, err := os.ReadFile(filepath.Join(dir, "sync_action"))
	if err != nil {
		return SyncState{}, fmt.Errorf("%s: %w", array, err)
	}
	s := SyncState{Action: strings.TrimSpace(string(b))}
	if b, err := os.ReadFile(filepath.Join(dir, "sync_completed")); err == nil {
		if done, total, ok := strings.Cut(strings.TrimSpace(string(b)), " / "); ok {
			s.Done, _ = strconv.ParseInt(done, 10, 64)
			s.Total, _ = strconv.ParseInt(total, 10, 64)
		}
	}
	s.Mismatch = readInt(filepath.Join(dir, "mismatch_cnt"))
	return s, nil
}

// StartCheck starts a scrub of array (sync_action "check": md reads every member and counts
// the sectors that differ in mismatch_cnt; it repairs nothing). It refuses an array whose
// sync_action is not idle.
func StartCheck(sysRoot, array string) error {
	s, err := ReadSync(sysRoot, array)
	if err != nil {
		return err
	}
	if s.Action != "idle" {
		return fmt.Errorf("%w: %s is in %q; a scrub waits for it to finish", ErrBusy, array, s.Action)
	}
	return writeAction(sysRoot, array, "check")
}

// StopCheck interrupts a scrub (sync_action "idle"); what it found so far stays in
// mismatch_cnt.
func StopCheck(sysRoot, array string) error {
	return writeAction(sysRoot, array, "idle")
}

func writeAction(sysRoot, array, action string) error {
	path := filepath.Join(sysRoot, "block", array, "md", "sync_action")
	if err := os.WriteFile(path, []byte(action), 0); err != nil {
		return fmt.Errorf("%s: write %q to %s: %w", array, action, path, err)
	}
	return nil
}

// ScrubSchedule says how the host already scrubs its arrays (Debian's mdadm package ships
// one): the systemd timers mdcheck_start/mdcheck_continue (bookworm), or the cron job that
// runs checkarray (older releases). "" when none is found. root is "/" on a live host.
func ScrubSchedule(root string) string {
	var found []string
	for _, p := range []string{"etc/systemd/system/timers.target.wants/mdcheck_start.timer",
		"etc/systemd/system/mdadm.service.wants/mdcheck_start.timer"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			found = append(found, "mdcheck_start.timer is enabled (Debian's mdadm: a check started on the first Sunday of each month, continued by mdcheck_continue.timer)")
			break
		}
	}
	if len(found) == 0 {
		for _, p := range []string{"lib/systemd/system/mdcheck_start.timer", "usr/lib/systemd/system/mdcheck_start.timer"} {
			if _, err := os.Stat(filepath.Join(root, p)); err == nil {
				found = append(found, "mdcheck_start.timer is installed (Debian's mdadm; systemctl is-enabled mdcheck_start.timer says whether it runs)")
				break
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/cron.d/mdadm")); err == nil && strings.Contains(string(b), "checkarray") {
		found = append(found, "/etc/cron.d/mdadm runs checkarray (Debian's monthly check)")
	}
	return strings.Join(found, "; ")
}
