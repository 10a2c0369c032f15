package mdraid

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fitsarchive/agentd/internal/hostexec"
)

// Mdadm carries out decisions with mdadm. Its only writes are --add, --re-add and --run:
// it never zeroes a superblock, never fails or removes a member, never wipes a device.
type Mdadm struct {
	Run hostexec.Runner
}

func devPath(array string) string {
	if strings.HasPrefix(array, "/") {
		return array
	}
	return filepath.Join("/dev", array)
}

// Add adds device to the array as a normal member (never write-mostly: the SSD serves the
// reads; the EBS member keeps its flags). It returns mdadm's message ("mdadm: added …").
func (m Mdadm) Add(ctx context.Context, array, device string) (string, error) {
	_, msg, err := m.Run.Run(ctx, "mdadm", devPath(array), "--add", device)
	if err != nil {
		return "", fmt.Errorf("add %s to %s: %w", device, array, err)
	}
	return Message(string(msg)), nil
}

// ReAdd puts the array's own member back; the write-intent bitmap makes the resync short.
func (m Mdadm) ReAdd(ctx context.Context, array, device string) (string, error) {
	_, msg, err := m.Run.Run(ctx, "mdadm", devPath(array), "--re-add", device)
	if err != nil {
		return "", fmt.Errorf("re-add %s to %s: %w", device, array, err)
	}
	return Message(string(msg)), nil
}

// Start runs an inactive array with the members it has (degraded).
func (m Mdadm) Start(ctx context.Context, array string) (string, error) {
	_, msg, err := m.Run.Run(ctx, "mdadm", "--run", devPath(array))
	if err != nil {
		return "", fmt.Errorf("start %s: %w", array, err)
	}
	return Message(string(msg)), nil
}

// Message is mdadm's status output on one line ("mdadm: added /dev/vdc"), for the event log.
func Message(stderr string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// Examine reads a member's superblock. A device without one gives Superblock false and no
// error (mdadm exits 1 for it).
func (m Mdadm) Examine(ctx context.Context, device string) Examine {
	out, stderr, err := m.Run.Run(ctx, "mdadm", "--examine", devPath(device))
	text := string(out) + "\n" + string(stderr)
	if err != nil {
		text += "\n" + err.Error()
	}
	return ParseExamine(filepath.Base(device), text)
}

// Detail reads `mdadm --detail` of an array (read-only).
func (m Mdadm) Detail(ctx context.Context, array string) (Detail, error) {
	out, _, err := m.Run.Run(ctx, "mdadm", "--detail", devPath(array))
	if err != nil {
		return Detail{}, fmt.Errorf("detail of %s: %w", array, err)
	}
	return ParseDetail(string(out)), nil
}
