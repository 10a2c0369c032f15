package storagewatch

import (
	"bytes"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ueventSocket listens to the kernel's uevents (NETLINK_KOBJECT_UEVENT, the kernel's own
// multicast group, which udev also reads): an md array that appears inactive — what
// `mdadm --incremental` does at boot, udev's path — raises no /proc/mdstat change event,
// and neither does a new disk, so without this the agent would meet them only at the
// rescan. It is read without blocking, from the watcher's poll.
type ueventSocket struct {
	f *os.File
}

func openUevents() (*ueventSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &ueventSocket{f: os.NewFile(uintptr(fd), "uevents")}, nil
}

func (u *ueventSocket) fd() int32 { return int32(u.f.Fd()) }

// drain reads every pending uevent and says whether one was about a block device (an
// array, or a disk that may be a candidate).
func (u *ueventSocket) drain() bool {
	block := false
	buf := make([]byte, 16<<10)
	for {
		n, _, err := unix.Recvfrom(int(u.f.Fd()), buf, unix.MSG_DONTWAIT)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return block // EAGAIN: drained (ENOBUFS: some were lost; a look covers them)
		}
		if isBlockUevent(buf[:n]) {
			block = true
		}
	}
}

// isBlockUevent says whether a kernel uevent ("ACTION@DEVPATH\0KEY=VALUE\0…") is about a
// block device.
func isBlockUevent(msg []byte) bool {
	for _, field := range bytes.Split(msg, []byte{0}) {
		if bytes.Equal(field, []byte("SUBSYSTEM=block")) {
			return true
		}
	}
	return false
}

func (u *ueventSocket) close() { u.f.Close() }
