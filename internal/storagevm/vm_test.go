// Package storagevm tests the storage agent end to end on a real kernel: Debian's own, with
// md and device-mapper, booted under qemu (TCG: KVM does not work on the machines we test
// on), with four small virtual disks (two SSD, two EBS), a fifth that brings the results
// out, and our static agentd in the initramfs. The assets come from scripts/vm-assets.sh.
package storagevm

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// vm is what the boots share: the unpacked Debian packages, the built agentd and the
// initramfs staging folder.
type vm struct {
	cache, kver, agentd, agentctl, stamp, work string
}

// setup gathers the assets; without qemu the test is skipped loudly, except under CI.
func setup(t testing.TB) *vm {
	t.Helper()
	if testing.Short() {
		t.Skip("the qemu suite is skipped with -short")
	}
	out, err := exec.Command("bash", "../../scripts/vm-assets.sh").Output()
	if err != nil {
		msg := fmt.Sprintf("qemu, the kernel or the md/LVM tools cannot be had here: %v", err)
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED LOUDLY: " + msg)
	}
	v := &vm{cache: strings.TrimSpace(string(out)), work: t.TempDir()}
	kver, err := os.ReadFile(filepath.Join(v.cache, "kver"))
	if err != nil {
		t.Fatal(err)
	}
	v.kver = strings.TrimSpace(string(kver))
	v.agentd = filepath.Join(v.work, "agentd")
	build := exec.Command("go", "build", "-o", v.agentd, "../../agentd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static agentd: %v\n%s", err, out)
	}
	v.agentctl = filepath.Join(v.work, "agentctl")
	build = exec.Command("go", "build", "-o", v.agentctl, "../../agentctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static agentctl: %v\n%s", err, out)
	}
	v.stamp = filepath.Join(v.work, "stamp")
	build = exec.Command("go", "build", "-o", v.stamp, "./stamp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build stamp: %v\n%s", err, out)
	}
	return v
}

// modules returns the .ko files the guest needs, dependencies first, read from each
// module's .modinfo section (no depmod needed).
func (v *vm) modules(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(v.cache, "root", "lib", "modules", v.kver)
	byName := map[string]string{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			byName[strings.ReplaceAll(strings.TrimSuffix(filepath.Base(p), ".ko"), "-", "_")] = p
		}
		return nil
	})
	var order []string
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] {
			return
		}
		seen[name] = true
		path, ok := byName[name]
		if !ok {
			return // built into the kernel
		}
		for _, dep := range modDepends(t, path) {
			visit(dep)
		}
		order = append(order, path)
	}
	for _, m := range []string{"virtio_pci", "virtio_blk", "md_mod", "raid1", "dm_mod", "dm_mirror", "crc32c_generic", "ext4"} {
		visit(m)
	}
	return order
}

func modDepends(t testing.TB, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil
	}
	data, _ := sec.Data()
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok && len(v) > 0 {
			return strings.Split(string(v), ",")
		}
	}
	return nil
}

// initramfs writes the guest's root: busybox, mdadm, lvm, mke2fs, wipefs and their
// libraries, the modules, /init, agentd and its config, and the files of extra.
func (v *vm) initramfs(t testing.TB, name string, extra map[string]string) string {
	t.Helper()
	root := filepath.Join(v.work, name+"-root")
	os.RemoveAll(root)
	mk := func(p string) string {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		return full
	}
	copyFile(t, filepath.Join(v.cache, "root", "bin", "busybox"), mk("bin/busybox"), 0o755)
	// Only the applets the script uses: busybox's own mke2fs must not shadow the real one.
	for _, a := range []string{"sh", "mount", "umount", "mkdir", "cat", "sed", "grep", "ln", "dd", "sha256sum", "cp",
		"tar", "sync", "poweroff", "sleep", "kill", "echo", "insmod", "cut", "tee", "ls", "rm", "dmesg", "tail", "head", "tr", "touch"} {
		os.Symlink("busybox", mk("bin/"+a))
	}
	bins := map[string]string{
		filepath.Join(v.cache, "root", "sbin", "mdadm"): "sbin/mdadm",
		filepath.Join(v.cache, "root", "sbin", "lvm"):   "sbin/lvm",
		"/usr/sbin/mke2fs": "sbin/mke2fs",
		"/usr/sbin/wipefs": "sbin/wipefs",
	}
	libPath := filepath.Join(v.cache, "root", "lib", "x86_64-linux-gnu") + ":" + filepath.Join(v.cache, "root", "usr", "lib", "x86_64-linux-gnu")
	libs := map[string]bool{}
	for src, dst := range bins {
		copyFile(t, src, mk(dst), 0o755)
		cmd := exec.Command("ldd", src)
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+libPath)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", src, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				libs[f[2]] = true
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				libs[f[0]] = true // the loader
			}
		}
	}
	for lib := range libs {
		dst := "lib/x86_64-linux-gnu/" + filepath.Base(lib)
		if strings.Contains(lib, "ld-linux") {
			dst = "lib64/" + filepath.Base(lib)
		}
		copyFile(t, lib, mk(dst), 0o755)
	}
	var order []string
	for _, m := range v.modules(t) {
		base := strings.TrimSuffix(filepath.Base(m), ".ko")
		copyFile(t, m, mk("lib/modules/"+base+".ko"), 0o644)
		order = append(order, base)
	}
	os.WriteFile(mk("modules.order"), []byte(strings.Join(order, "\n")+"\n"), 0o644)
	copyFile(t, "init.sh", mk("init"), 0o755)
	copyFile(t, v.agentd, mk("agentd"), 0o755)
	copyFile(t, v.agentctl, mk("agentctl"), 0o755)
	copyFile(t, v.stamp, mk("stamp"), 0o755)
	os.WriteFile(mk("etc/lvm/lvm.conf"), []byte(`devices {
	obtain_device_list_from_udev = 0
	external_device_info_source = "none"
}
activation {
	udev_sync = 0
	udev_rules = 0
	monitoring = 0
}
global {
	use_lvmpolld = 0
	event_activation = 0
}
`), 0o644)
	for p, content := range extra {
		os.WriteFile(mk(p), []byte(content), 0o644)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "mnt"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	img := filepath.Join(v.work, name+".cpio.gz")
	cmd := exec.Command("sh", "-c", `cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"`, "sh", root, img)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	return img
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// disk makes a sparse disk image.
func disk(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	return path
}

// boot runs the guest until it powers off and returns the files it wrote to /out.
func (v *vm) boot(t testing.TB, initrd, phase string, disks map[string]string, timeout time.Duration, cmdline string) map[string][]byte {
	t.Helper()
	return v.bootThrottled(t, initrd, phase, disks, timeout, cmdline, nil)
}

// bootThrottled is boot with the writes to some disks held to a rate (bytes per second, by
// role): qemu's own I/O throttling, as an EBS volume's throughput limit.
func (v *vm) bootThrottled(t testing.TB, initrd, phase string, disks map[string]string, timeout time.Duration, cmdline string,
	writeBps map[string]int64) map[string][]byte {
	t.Helper()
	outImg := disk(t, filepath.Join(v.work, phase+"-out.img"), 64<<20)
	args := []string{"-accel", "tcg", "-m", "512", "-smp", "1", "-display", "none", "-serial", "stdio", "-monitor", "none",
		"-no-reboot", "-kernel", filepath.Join(v.cache, "root", "boot", "vmlinuz-"+v.kver), "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet phase=" + phase + " " + cmdline)}
	serials := make([]string, 0, len(disks)+1)
	for s := range disks {
		serials = append(serials, s)
	}
	sort.Strings(serials)
	disks = maps.Clone(disks) // the caller's map stays as it was: it may boot again
	disks["out"] = outImg
	serials = append(serials, "out")
	// Each disk in a fixed PCI slot by its place in that order: an SSD with a new serial
	// (new hardware) sits where the old one sat, as the slots of an instance type do.
	for i, s := range serials {
		throttle := ""
		if bps := writeBps[s]; bps > 0 {
			throttle = fmt.Sprintf(",throttling.bps-write=%d", bps)
		}
		args = append(args, "-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=%s%s", disks[s], s, throttle),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=%s,serial=%s,addr=0x%x", s, s, 0x10+i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	err := cmd.Run()
	t.Logf("boot %s: %.1f s", phase, time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("qemu (%s): %v\nconsole:\n%s", phase, err, console.String())
	}
	dir := filepath.Join(v.work, phase+"-out")
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("tar", "-xf", outImg, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("read the guest's results (%s): %v %s\nconsole:\n%s", phase, err, out, console.String())
	}
	files := map[string][]byte{}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, "out", e.Name()))
		files[e.Name()] = b
	}
	if len(files) == 0 {
		t.Fatalf("the guest wrote nothing (%s); console:\n%s", phase, console.String())
	}
	files["console"] = console.Bytes()
	return files
}
