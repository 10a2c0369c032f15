// Package swap makes a spot host's instance-store SSD its swap at boot ([spot] swap_device,
// agentctl swap-on, run by the agentd-swap unit): some previews need more memory than a
// small spot host has, and the SSD is blank at each launch.
//
// # Caveats
//
// A device that carries any signature (a file system, a RAID member, a partition table, a
// swap area not labelled agentd-swap) is refused: the same blank proof as the storage
// agent's, so a wrong device name can never destroy data. A swap area of ours (from an
// earlier boot of the same instance) is used again, and one in use is left as it is.
//
// Making the swap is two steps, Prepare (checks and mkswap: the agentd-swap unit runs it
// in its sandbox) and Activate (swapon: in the system's own mount namespace, see Activate).
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

// Label is the label of the swap areas this package makes: a device holding exactly one
// swap signature with this label is ours, disposable, and may be activated again.
const Label = "agentd-swap"

// Result says what On, Prepare or Activate did.
type Result struct {
	Device  string `json:"device"`  // the kernel's name, symlinks resolved
	Already bool   `json:"already"` // nothing to do: it was swap (prepared, or active) already
}

// ErrReserved is returned for a device the storage agent may add to a mirror.
var ErrReserved = errors.New("the device is the storage agent's")

// ErrNotPrepared is returned by Activate for a device that holds no swap area of ours.
var ErrNotPrepared = errors.New("the device holds no swap area of agentd's")

// On makes device swap: Prepare, then Activate.
func On(ctx context.Context, run hostexec.Runner, procRoot, device string, reserved []string) (Result, error) {
	prep, err := Prepare(ctx, run, procRoot, device, reserved)
	if err != nil {
		return prep, err
	}
	act, err := Activate(ctx, run, procRoot, device, reserved)
	act.Already = act.Already && prep.Already
	return act, err
}

// Prepare writes a swap area on device, labelled Label: it must be a block device, none of
// reserved (glob patterns of the storage agent's candidates, when it runs here: the SSD is
// either a mirror's or swap, never both), and blank (wipefs finds no signature) or holding
// a swap area of ours already (left as it is). procRoot is /proc. It writes to the device
// but needs no more than that, so the agentd-swap unit runs it in its sandbox.
func Prepare(ctx context.Context, run hostexec.Runner, procRoot, device string, reserved []string) (Result, error) {
	res, active, err := check(procRoot, device, reserved)
	if err != nil || active {
		return res, err
	}
	sigs := (mdraid.Discovery{Run: run}).Probe(ctx, res.Device)
	if ours(sigs) {
		res.Already = true
		return res, nil
	}
	if len(sigs) > 0 {
		return res, fmt.Errorf("%w: %s (%s) holds %s; refusing to make it swap (wipefs it first if it really is the instance-store SSD)",
			ErrNotBlank, device, res.Device, describe(sigs))
	}
	if _, _, err := run.Run(ctx, "mkswap", "--label", Label, res.Device); err != nil {
		return res, fmt.Errorf("mkswap %s: %w", res.Device, err)
	}
	return res, nil
}

// Activate turns on the swap area Prepare made on device (swapon), unless it is on already.
// It runs in the system's own mount namespace (the unit's unsandboxed step): a swap turned
// on inside a private mount namespace is listed under a path nobody else can resolve (the
// kernel says /vdb, not /dev/vdb), so systemd cannot turn it off at shutdown.
func Activate(ctx context.Context, run hostexec.Runner, procRoot, device string, reserved []string) (Result, error) {
	res, active, err := check(procRoot, device, reserved)
	if err != nil || active {
		return res, err
	}
	if sigs := (mdraid.Discovery{Run: run}).Probe(ctx, res.Device); !ours(sigs) {
		what := "nothing"
		if len(sigs) > 0 {
			what = describe(sigs)
		}
		return res, fmt.Errorf("%w: %s (%s) holds %s; run agentctl swap-on --prepare first", ErrNotPrepared, device, res.Device, what)
	}
	if _, _, err := run.Run(ctx, "swapon", res.Device); err != nil {
		return res, fmt.Errorf("swapon %s: %w", res.Device, err)
	}
	return res, nil
}

// check resolves device, refuses what is not a block device or is the storage agent's,
// and says whether it is in use as swap already (then res.Already is set).
func check(procRoot, device string, reserved []string) (res Result, active bool, err error) {
	path, err := filepath.EvalSymlinks(device)
	if err != nil {
		return Result{}, false, fmt.Errorf("swap device %s: %w", device, err)
	}
	res = Result{Device: path}
	fi, err := os.Stat(path)
	if err != nil {
		return res, false, fmt.Errorf("swap device %s: %w", device, err)
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return res, false, fmt.Errorf("swap device %s (%s) is not a block device", device, path)
	}
	for _, pattern := range reserved {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if real, err := filepath.EvalSymlinks(m); err == nil && real == path {
				return res, false, fmt.Errorf("%w: %s (%s) matches the storage agent's candidates (%s); a mirror's SSD is never swap",
					ErrReserved, device, path, pattern)
			}
		}
	}
	swaps, err := activeSwaps(procRoot)
	if err != nil {
		return res, false, err
	}
	res.Already = swaps[path]
	return res, res.Already, nil
}

// ours says whether the signatures are exactly one swap area labelled Label.
func ours(sigs []mdraid.Signature) bool {
	return len(sigs) == 1 && sigs[0].Type == "swap" && sigs[0].Label == Label
}

func describe(sigs []mdraid.Signature) string {
	var parts []string
	for _, s := range sigs {
		if s.Label != "" {
			parts = append(parts, s.Type+" (label "+s.Label+")")
		} else {
			parts = append(parts, s.Type)
		}
	}
	return strings.Join(parts, ", ")
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
