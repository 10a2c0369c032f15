package swap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// script stands for wipefs, mkswap and swapon: swap on this machine's kernel is not ours to
// change (the qemu guest runs the real ones, internal/storagevm). It answers wipefs with
// its wipefs text (a swap area labelled agentd-swap once mkswap ran) and fails on any
// command it was not told to expect.
type script struct {
	t      *testing.T
	wipefs string
	allow  map[string]bool
	seen   []string
}

const oursWipefs = `{"signatures": [{"device": "nvme1n1", "offset": "0xff6", "type": "swap", "uuid": "u", "label": "agentd-swap"}]}`

func (s *script) Run(_ context.Context, name string, args ...string) ([]byte, []byte, error) {
	cmd := strings.Join(append([]string{name}, args...), " ")
	s.seen = append(s.seen, cmd)
	switch {
	case name == "wipefs":
		return []byte(s.wipefs), nil, nil
	case s.allow[name]:
		if name == "mkswap" {
			s.wipefs = oursWipefs
		}
		return nil, nil, nil
	}
	s.t.Errorf("unexpected command %q", cmd)
	return nil, nil, errors.New("unexpected")
}

// blockDevice makes a block device node (needs root) and a /proc with the given swaps.
func blockDevice(t *testing.T, swaps string) (dev, proc string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a block device node")
	}
	dir := t.TempDir()
	dev = filepath.Join(dir, "nvme1n1")
	if err := unix.Mknod(dev, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 99))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	proc = filepath.Join(dir, "proc")
	os.MkdirAll(proc, 0o755)
	os.WriteFile(filepath.Join(proc, "swaps"), []byte("Filename\tType\tSize\tUsed\tPriority\n"+swaps), 0o644)
	return dev, proc
}

// A blank device (wipefs finds nothing) becomes swap: mkswap, then swapon, through a
// symlink as /dev/disk/by-id names are.
func TestBlankDeviceBecomesSwap(t *testing.T) {
	t.Parallel()
	dev, proc := blockDevice(t, "")
	link := filepath.Join(filepath.Dir(dev), "by-id-nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1")
	os.Symlink(dev, link)
	s := &script{t: t, allow: map[string]bool{"mkswap": true, "swapon": true}}
	res, err := On(context.Background(), s, proc, link, nil)
	if err != nil || res.Device != dev || res.Already {
		t.Fatalf("%+v, %v", res, err)
	}
	wipefs := "wipefs --no-act --json " + dev
	want := wipefs + "|mkswap --label agentd-swap " + dev + "|" + wipefs + "|swapon " + dev
	if got := strings.Join(s.seen, "|"); got != want {
		t.Fatalf("commands %q, want %q", got, want)
	}
}

// A device with any signature is refused, naming it, and nothing is written.
func TestDeviceWithASignatureIsRefused(t *testing.T) {
	t.Parallel()
	dev, proc := blockDevice(t, "")
	s := &script{t: t, wipefs: `{"signatures": [{"device": "nvme1n1", "offset": "0x438", "type": "ext4", "uuid": "x", "label": ""}]}`}
	_, err := On(context.Background(), s, proc, dev, nil)
	if !errors.Is(err, ErrNotBlank) || !strings.Contains(err.Error(), "holds ext4") {
		t.Fatalf("%v; want a refusal naming ext4", err)
	}
	if len(s.seen) != 1 {
		t.Fatalf("commands %v after a refusal", s.seen)
	}
}

// A device already in use as swap is left alone; something that is not a block device is
// refused before anything runs.
func TestActiveSwapAndNotADevice(t *testing.T) {
	t.Parallel()
	dev, proc := blockDevice(t, "")
	os.WriteFile(filepath.Join(proc, "swaps"), []byte("Filename\tType\tSize\tUsed\tPriority\n"+dev+"\tpartition\t1024\t0\t-2\n"), 0o644)
	s := &script{t: t}
	if res, err := On(context.Background(), s, proc, dev, nil); err != nil || !res.Already || len(s.seen) != 0 {
		t.Fatalf("active swap: %+v, %v, commands %v", res, err, s.seen)
	}
	file := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(file, nil, 0o644)
	if _, err := On(context.Background(), s, proc, file, nil); err == nil || !strings.Contains(err.Error(), "not a block device") || len(s.seen) != 0 {
		t.Fatalf("a plain file: %v, commands %v", err, s.seen)
	}
}

// A device the storage agent may add to a mirror (its candidates' globs match it, through
// their symlinks) is never made swap.
func TestStorageCandidateIsRefused(t *testing.T) {
	t.Parallel()
	dev, proc := blockDevice(t, "")
	byID := filepath.Join(filepath.Dir(dev), "by-id")
	os.MkdirAll(byID, 0o755)
	os.Symlink(dev, filepath.Join(byID, "nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1"))
	s := &script{t: t}
	_, err := On(context.Background(), s, proc, dev, []string{filepath.Join(byID, "nvme-Amazon_EC2_NVMe_Instance_Storage_*")})
	if !errors.Is(err, ErrReserved) || len(s.seen) != 0 {
		t.Fatalf("%v, commands %v; want a refusal before any command", err, s.seen)
	}
}

// The unit's two steps: Prepare writes the swap area and turns nothing on; Activate turns
// on only a swap area of ours. A swap area of ours from an earlier boot is used again
// (Prepare has nothing to do); one labelled otherwise is refused like any signature, and
// Activate refuses a device Prepare did not make swap.
func TestPrepareThenActivate(t *testing.T) {
	t.Parallel()
	dev, proc := blockDevice(t, "")
	s := &script{t: t, allow: map[string]bool{"mkswap": true}}
	if res, err := Prepare(context.Background(), s, proc, dev, nil); err != nil || res.Already {
		t.Fatalf("prepare: %+v, %v", res, err)
	}
	if got := strings.Join(s.seen, "|"); strings.Contains(got, "swapon") || !strings.Contains(got, "mkswap") {
		t.Fatalf("prepare ran %q", got)
	}
	s.seen, s.allow = nil, map[string]bool{"swapon": true}
	if res, err := Prepare(context.Background(), s, proc, dev, nil); err != nil || !res.Already || strings.Contains(strings.Join(s.seen, "|"), "mkswap") {
		t.Fatalf("prepare again: %+v, %v, %v; want nothing to do", res, err, s.seen)
	}
	s.seen = nil
	if res, err := Activate(context.Background(), s, proc, dev, nil); err != nil || res.Already || s.seen[len(s.seen)-1] != "swapon "+dev {
		t.Fatalf("activate: %+v, %v, %v", res, err, s.seen)
	}

	blank := &script{t: t}
	if _, err := Activate(context.Background(), blank, proc, dev, nil); !errors.Is(err, ErrNotPrepared) || !strings.Contains(err.Error(), "holds nothing") {
		t.Fatalf("activate a blank device: %v; want ErrNotPrepared", err)
	}
	foreign := &script{t: t, wipefs: strings.Replace(oursWipefs, "agentd-swap", "home-swap", 1)}
	if _, err := Prepare(context.Background(), foreign, proc, dev, nil); !errors.Is(err, ErrNotBlank) || !strings.Contains(err.Error(), "swap (label home-swap)") {
		t.Fatalf("prepare over someone's swap: %v; want a refusal naming it", err)
	}
	if _, err := Activate(context.Background(), foreign, proc, dev, nil); !errors.Is(err, ErrNotPrepared) {
		t.Fatalf("activate someone's swap: %v; want ErrNotPrepared", err)
	}
}
