package mdraid

import (
	"os"
	"path/filepath"
	"testing"
)

// The slot comes from the device's place in sysfs, as udev's by-path names it: the last
// PCI address on its path (a bridge's is not the device's), the namespace for NVMe, the
// Xen virtual block device; nothing for a device with no such place.
func TestSlot(t *testing.T) {
	sys := t.TempDir()
	link := func(dev, target string) {
		full := filepath.Join(sys, "devices", target)
		os.MkdirAll(full, 0o755)
		os.MkdirAll(filepath.Join(sys, "class", "block"), 0o755)
		if err := os.Symlink(full, filepath.Join(sys, "class", "block", dev)); err != nil {
			t.Fatal(err)
		}
	}
	link("nvme1n1", "pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme1/nvme1n1")
	link("vdc", "pci0000:00/0000:00:05.0/virtio3/block/vdc")
	link("xvdb", "vbd-51728/block/xvdb")
	link("loop0", "virtual/block/loop0")
	for dev, want := range map[string]string{
		"nvme1n1": "pci-0000:01:00.0-nvme-1",
		"vdc":     "pci-0000:00:05.0",
		"xvdb":    "xen-vbd-51728",
		"loop0":   "",
		"sdz":     "", // not there
	} {
		if got := Slot(sys, dev); got != want {
			t.Errorf("Slot(%s) = %q, want %q", dev, got, want)
		}
	}
}
