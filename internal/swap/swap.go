// Package swap makes a spot host's instance-store SSD its swap at boot ([spot] swap_device,
// agentctl swap-on, run by the agentd-swap unit): some previews need more memory than a
// small spot host has, and the SSD is blank at each launch.
//
// # Caveats
//
// A device that carries any signature (a file system, a RAID member, a partition table, a
// swap signature from an earlier boot of the same instance) is refused: the same blank
// proof as the storage agent's, so a wrong device name can never destroy data. A device
// already in use as swap is left as it is.
package swap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
	"github.com/fitsarchive/agentd/mdraid"
)

// ErrNotBlank is returned for a device that holds something.
var ErrNotBlank = errors.New("the device is not blank")

// Result says what On did.
type Result struct {
	Device  string `json:"device"`  // the kernel's name, symlinks resolved
	Already bool   `json:"already"` // it was swap already: nothing done
}

// ErrReserved is returned for a device the storage agent may add to a mirror.
var ErrReserved = errors.New("the device is the storage agent's")

// On makes device swap: it must be a block device, not in use, none of reserved (glob
// patterns of the storage agent's candidates, when it runs here: the SSD is either a
// mirror's or swap, never both), and blank (wipefs finds no signature); then mkswap and
// swapon, through the one exec runner. procRoot is /proc.
func On(ctx context.Context, run hostexec.Runner, procRoot, device string, reserved []string) (Result, error) {
	path, err := filepath.EvalSymlinks(device)
	if err != nil {
		return Result{}, fmt.Errorf("swap device %s: %w", device, err)
	}
	res := Result{Device: path}
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("swap device %s: %w", device, err)
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return res, fmt.Errorf("swap device %s (%s) is not a block device", device, path)
	}
	for _, pattern := range reserved {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if real, err := filepath.EvalSymlinks(m); err == nil && real == path {
				return res, fmt.Errorf("%w: %s (%s) matches the storage agent's candidates (%s); a mirror's SSD is never swap",
					ErrReserved, device, path, pattern)
			}
		}
	}
	active, err := activeSwaps(procRoot)
	if err != nil {
		return res, err
	}
	if active[path] {
		res.Already = true
		return res, nil
	}
	if sigs := (mdraid.Discovery{Run: run}).Signatures(ctx, path); len(sigs) > 0 {
		return res, fmt.Errorf("%w: %s (%s) holds %s; refusing to make it swap (wipefs it first if it really is the instance-store SSD)",
			ErrNotBlank, device, path, strings.Join(sigs, ", "))
	}
	if _, _, err := run.Run(ctx, "mkswap", "--label", "agentd-swap", path); err != nil {
		return res, fmt.Errorf("mkswap %s: %w", path, err)
	}
	if _, _, err := run.Run(ctx, "swapon", path); err != nil {
		return res, fmt.Errorf("swapon %s: %w", path, err)
	}
	return res, nil
}

// activeSwaps reads the devices in use as swap (/proc/swaps).
func activeSwaps(procRoot string) (map[string]bool, error) {
	f, err := os.Open(filepath.Join(procRoot, "swaps"))
	if err != nil {
		return nil, fmt.Errorf("read the active swaps: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && strings.HasPrefix(fields[0], "/") {
			out[fields[0]] = true
		}
	}
	return out, sc.Err()
}
