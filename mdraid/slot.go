package mdraid

import (
	"path/filepath"
	"regexp"
	"strings"
)

var (
	pciAddress = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$`)
	xenVBD     = regexp.MustCompile(`^vbd-[0-9]+$`)
	nvmeNS     = regexp.MustCompile(`^nvme[0-9]+n([0-9]+)$`)
)

// Slot names where a block device sits, by something that survives a move of the instance
// to new hardware: its controller's PCI address (and namespace, for NVMe), as udev's
// /dev/disk/by-path names it — "pci-0000:00:1f.0-nvme-1", "pci-0000:00:04.0",
// "xen-vbd-51712". Never the serial (by-id names carry it, and it changes with the
// hardware) nor the kernel name (on Nitro nvme0n1 is often the root EBS volume). It reads
// the device's sysfs path; "" when it cannot tell.
func Slot(sysRoot, dev string) string {
	if sysRoot == "" {
		sysRoot = "/sys"
	}
	real, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "class", "block", dev))
	if err != nil {
		return ""
	}
	slot := ""
	for _, part := range strings.Split(filepath.ToSlash(real), "/") {
		switch {
		case pciAddress.MatchString(part):
			slot = "pci-" + part
		case xenVBD.MatchString(part):
			slot = "xen-" + part
		}
	}
	if slot == "" {
		return ""
	}
	if m := nvmeNS.FindStringSubmatch(dev); m != nil {
		slot += "-nvme-" + m[1]
	}
	return slot
}
