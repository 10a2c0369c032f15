package storagevm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fitsarchive/agentd/internal/aemmtest"
	"github.com/fitsarchive/agentd/internal/pgtest"
	"github.com/fitsarchive/agentd/internal/sample"
	"github.com/fitsarchive/agentd/systemd"
)

// mkmirrorsScript runs in the guest before the storage unit: it builds the archive's
// layout on four virtio disks (two mirrors, each an SSD and a write-mostly EBS volume, LVM
// over them), then does what a move to new hardware does to an instance-store SSD: md0's
// SSD comes back blank and md0 runs degraded.
const mkmirrorsScript = `#!/bin/sh
set -e
disk() { for d in /sys/block/vd*; do if [ "$(cat "$d/serial")" = "$1" ]; then echo "/dev/${d##*/}"; fi; done; }
SSD0=$(disk ssd0); EBS0=$(disk ebs0); SSD1=$(disk ssd1); EBS1=$(disk ebs1)
mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --bitmap=internal --write-behind=256 "$SSD0" --write-mostly "$EBS0"
mdadm --create /dev/md1 --run --level=1 --raid-devices=2 --bitmap=internal --write-behind=256 "$SSD1" --write-mostly "$EBS1"
mdadm --wait /dev/md0 /dev/md1 || true
lvm pvcreate -q /dev/md0 /dev/md1
lvm vgcreate -q vgdata /dev/md0 /dev/md1
lvm lvcreate -q -y -l 100%FREE -n lvdata vgdata
mdadm /dev/md0 --fail "$SSD0"
mdadm /dev/md0 --remove "$SSD0"
mdadm --zero-superblock "$SSD0"
wipefs -a "$SSD0"
cat /proc/mdstat
`

// probeScript runs in the guest once the units are up and reports on the console between
// markers:
//   - a queue service whose database is unreachable (agentd@nodb), then the same service
//     after SIGSTOP wedges it (the watchdog), then after a clean stop;
//   - the storage unit's repair of md0;
//   - a queue service with a reachable database (agentd@probe, through qemu's user network)
//     emptying the ingest queue, and its clean stop;
//   - the swap the swap unit made.
//
// Then it enqueues the second night with agentctl and starts the spot unit, which ingests
// it and, the queue empty, exits 0: SuccessAction=poweroff ends the guest. The probe's
// ExecStop (run by that shutdown) reports the spot unit's end.
const probeScript = `#!/bin/sh
show() { echo "== $1"; systemctl show -p ActiveState,SubState,Result,NRestarts,StatusText,ExecMainStatus "$2"; }
for i in $(seq 1 120); do
	systemctl show -p StatusText agentd@nodb | grep -q 'db unreachable' && break
	sleep 1
done
show running agentd@nodb
pid=$(systemctl show -p MainPID --value agentd@nodb)
kill -STOP "$pid"
for i in $(seq 1 60); do
	[ "$(systemctl show -p NRestarts --value agentd@nodb)" = 1 ] && [ "$(systemctl show -p SubState --value agentd@nodb)" = running ] && break
	sleep 1
done
show restarted agentd@nodb
systemctl stop agentd@nodb
show stopped agentd@nodb
echo "== journal"; journalctl -u agentd@nodb -o cat --no-pager > /tmp/j; grep -m 1 -i "watchdog timeout" /tmp/j; grep -m 1 "database unreachable" /tmp/j

for i in $(seq 1 90); do
	grep -A 2 '^md0' /proc/mdstat | grep -q '\[UU\]' && ! grep -q recovery /proc/mdstat && break
	sleep 1
done
show storage agentd-storage
echo "== mdstat"; cat /proc/mdstat
echo "== md0 members"; grep . /sys/block/md0/md/dev-*/state
echo "== storagejournal"; journalctl -u agentd-storage -o cat --no-pager | tail -n 20

for i in $(seq 1 90); do
	systemctl show -p StatusText agentd@probe | grep -q '(0 busy), 0 pending' && break
	sleep 1
done
show ingest agentd@probe
systemctl stop agentd@probe
show ingeststopped agentd@probe

show swap agentd-swap
echo "== swaps"; cat /proc/swaps
echo "== swapjournal"; journalctl -u agentd-swap -o cat --no-pager | tail -n 5

echo "== enqueue"; agentctl enqueue ingest --config /etc/agentd/agentd.toml --path 2020/20200102 --json 2>&1
echo "== spot starting"
systemctl start --no-block agentd-spot
# Should the spot unit not end the guest, say so and end it here (the test fails on it).
(sleep 150; echo "== spot did not power off"; systemctl show -p ActiveState,StatusText agentd-spot; systemctl poweroff) &
`

// probeStop is the probe's ExecStop: the shutdown that the spot unit's SuccessAction
// started runs it, and it says how the spot unit ended.
const probeStop = `#!/bin/sh
echo "== spot"; systemctl show -p Result,ExecMainStatus,NRestarts agentd-spot
echo "== spotjournal"; journalctl -u agentd-spot -o cat --no-pager | tail -n 12
echo "== end"
`

// The units, installed in a Debian root with systemd as PID 1 under qemu (see
// docs/vm-systemd.md), each doing its work inside its own sandbox:
//   - a queue service with its database unreachable is active with STATUS= saying so
//     (READY=1 came without the database; user agentd from the sysusers.d entry, its runtime
//     and state directories); SIGSTOP wedges it and systemd's watchdog restarts it;
//     systemctl stop ends it cleanly;
//   - the storage unit re-adds md0's blank SSD (mdadm, sysfs and LVM's mirrors as the
//     sandbox leaves them), and the EBS member stays write-mostly;
//   - a queue service reaches the host's PostgreSQL through qemu's user network and ingests
//     the first night; agentctl in the guest enqueues the second;
//   - the spot unit ingests it, sees EC2's instance metadata (the AEMM mock on the host:
//     there is no EC2 here), and, the queue empty, exits 0: SuccessAction=poweroff ends the
//     guest by itself;
//   - the swap unit makes a blank disk swap.
func TestUnitsUnderSystemd(t *testing.T) {
	v := setup(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacks a Debian root and chroots into it for depmod")
	}
	out, err := exec.Command("bash", "../../scripts/vm-systemd-root.sh").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the systemd root cannot be built here: %v", err)
		}
		t.Skipf("SKIPPED LOUDLY: the systemd root cannot be built here: %v", err)
	}
	root := filepath.Join(v.work, "sysroot")
	os.MkdirAll(root, 0o755)
	if out, err := exec.Command("tar", "-xf", strings.TrimSpace(string(out)), "-C", root).CombinedOutput(); err != nil {
		t.Fatalf("unpack the root: %v %s", err, out)
	}
	mods := filepath.Join(root, "lib", "modules")
	os.MkdirAll(mods, 0o755)
	if out, err := exec.Command("cp", "-a", filepath.Join(v.cache, "root", "lib", "modules", v.kver), mods).CombinedOutput(); err != nil {
		t.Fatalf("copy the modules: %v %s", err, out)
	}
	if out, err := exec.Command("chroot", root, "depmod", v.kver).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v %s", err, out)
	}
	agentctl := filepath.Join(v.work, "agentctl")
	build := exec.Command("go", "build", "-o", agentctl, "../../agentctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static agentctl: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "usr", "local", "bin")
	os.MkdirAll(bin, 0o755)
	copyFile(t, v.agentd, filepath.Join(bin, "agentd"), 0o755)
	copyFile(t, agentctl, filepath.Join(bin, "agentctl"), 0o755)

	// The archive database on the host, reached from the guest through a TCP proxy (qemu's
	// user network takes the guest's 10.0.2.2 to the host's loopback); the first night is
	// enqueued here, the second by agentctl in the guest.
	dbURL := pgtest.NewDB(t)
	_, proxied := pgtest.NewProxy(t, dbURL)
	guestURL := strings.Replace(proxied, "host=127.0.0.1", "host=10.0.2.2", 1)
	fitsRoot := filepath.Join(root, "srv", "fits")
	m, err := sample.Tree(fitsRoot, sample.Options{Nights: 2})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(agentctl, "enqueue", "ingest", "--database-url", dbURL, "--storage-root", fitsRoot,
		"--path", "2020/20200101").CombinedOutput(); err != nil {
		t.Fatalf("enqueue the first night: %v\n%s", err, out)
	}
	// EC2's instance metadata, for the spot unit: AEMM on the host (no notice pending).
	metadata := strings.Replace(aemmtest.StartWith(t, "", "spot", "--mock-delay-sec", "3600", "--rebalance-delay-sec", "3600"),
		"127.0.0.1", "10.0.2.2", 1)

	files, err := systemd.Units(systemd.UnitOptions{Binary: "/usr/local/bin/agentd", Config: "/etc/agentd/agentd.toml"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel, content string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		write(f.Path, f.Content, 0o644)
	}
	write("etc/agentd/agentd.toml", fmt.Sprintf("role = \"archive\"\ndatabase_url = %q\nstorage_root = \"/srv/fits\"\n"+
		"[agentd.queues.ingest]\nworkers = 2\n"+
		"[storage]\ngrace = \"2s\"\n"+
		"[spot]\nmetadata_endpoint = %q\nswap_device = \"/dev/disk/by-id/virtio-swap\"\n", guestURL, metadata), 0o644)
	write("etc/agentd/nodb.env", "AGENTD_QUEUES=ingest:1\nDATABASE_URL=postgres://agentd@127.0.0.1:1/none?connect_timeout=1\n", 0o644)
	write("etc/agentd/probe.env", "AGENTD_QUEUES=ingest:2\n", 0o644)
	// A short watchdog; the stopped agent cannot act on systemd's SIGABRT, so SIGKILL follows
	// after TimeoutAbortSec.
	write("etc/systemd/system/agentd@nodb.service.d/watchdog.conf", "[Service]\nWatchdogSec=6s\nTimeoutAbortSec=5s\n", 0o644)
	write("etc/fstab", "\n", 0o644)
	// The names udev gives the disks on AWS, which say which are instance storage (a fake at
	// the AWS boundary: there is no instance storage here), as the storage agent's default
	// candidates expect them.
	write("etc/udev/rules.d/60-aws-names.rules",
		`KERNEL=="vd*", ATTR{serial}=="ssd*", SYMLINK+="disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_$attr{serial}"`+"\n"+
			`KERNEL=="vd*", ATTR{serial}=="ebs*", SYMLINK+="disk/by-id/nvme-Amazon_Elastic_Block_Store_$attr{serial}"`+"\n", 0o644)
	write("etc/systemd/network/10-guest.network", "[Match]\nName=en* eth*\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n", 0o644)
	write("usr/local/bin/mkmirrors", mkmirrorsScript, 0o755)
	write("etc/systemd/system/mkmirrors.service", "[Unit]\nDefaultDependencies=no\nWants=systemd-udev-settle.service\n"+
		"After=systemd-udev-settle.service systemd-udevd.service\nBefore=agentd-storage.service\n"+
		"[Service]\nType=oneshot\nRemainAfterExit=yes\nStandardOutput=tty\nTTYPath=/dev/ttyS0\nExecStart=/usr/local/bin/mkmirrors\n"+
		"[Install]\nWantedBy=multi-user.target\n", 0o644)
	write("usr/local/bin/probe", probeScript, 0o755)
	write("usr/local/bin/probe-stop", probeStop, 0o755)
	write("etc/systemd/system/probe.service", "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nRemainAfterExit=yes\n"+
		"StandardOutput=tty\nTTYPath=/dev/ttyS0\nExecStart=/usr/local/bin/probe\nExecStop=/usr/local/bin/probe-stop\n"+
		"[Install]\nWantedBy=multi-user.target\n", 0o644)
	// No getty on the console: it would hang the probe's terminal up.
	os.Symlink("/dev/null", filepath.Join(root, "etc", "systemd", "system", "serial-getty@ttyS0.service"))
	os.Symlink("/dev/null", filepath.Join(root, "etc", "systemd", "system", "getty@tty1.service"))
	wants := filepath.Join(root, "etc", "systemd", "system", "multi-user.target.wants")
	os.MkdirAll(wants, 0o755)
	for link, target := range map[string]string{"agentd@nodb.service": "../agentd@.service", "agentd@probe.service": "../agentd@.service",
		"agentd-swap.service": "../agentd-swap.service", "agentd-storage.service": "../agentd-storage.service",
		"mkmirrors.service": "../mkmirrors.service", "probe.service": "../probe.service",
		"systemd-networkd.service": "/lib/systemd/system/systemd-networkd.service"} {
		os.Symlink(target, filepath.Join(wants, link))
	}

	img := filepath.Join(v.work, "sysroot.img")
	disk(t, img, 1<<30)
	if out, err := exec.Command("mke2fs", "-q", "-t", "ext4", "-d", root, "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v %s", err, out)
	}
	initrd := v.systemdInitramfs(t)
	args := []string{"-accel", "tcg", "-m", "768", "-smp", "1", "-display", "none",
		"-serial", "stdio", "-monitor", "none", "-no-reboot",
		"-kernel", filepath.Join(v.cache, "root", "boot", "vmlinuz-"+v.kver), "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet",
		"-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0",
		"-drive", "file=" + img + ",format=raw,if=none,id=root", "-device", "virtio-blk-pci,drive=root,serial=root"}
	for _, name := range []string{"swap", "ssd0", "ebs0", "ssd1", "ebs1"} {
		d := disk(t, filepath.Join(v.work, name+".img"), 64<<20)
		args = append(args, "-drive", "file="+d+",format=raw,if=none,id="+name, "-device", "virtio-blk-pci,drive="+name+",serial="+name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	if err := cmd.Run(); err != nil {
		t.Fatalf("qemu: %v (the guest did not power itself off)\nconsole:\n%s", err, console.String())
	}
	t.Logf("boot under systemd, to the spot unit's poweroff: %.1f s", time.Since(start).Seconds())
	text := console.String()
	section := func(name string) string {
		m := regexp.MustCompile(`(?s)== ` + regexp.QuoteMeta(name) + `\r?\n(.*?)\r?\n== `).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %q section on the console:\n%s", name, text)
		}
		return m[1]
	}
	if strings.Contains(text, "== spot did not power off") {
		t.Errorf("the spot unit did not power the guest off")
	}
	for _, c := range []struct{ section, want string }{
		{"running", "ActiveState=active"},
		{"running", "SubState=running"},
		{"running", "StatusText=queues: waiting for the database; db unreachable (retrying in"},
		{"restarted", "NRestarts=1"},
		{"restarted", "ActiveState=active"},
		{"stopped", "ActiveState=inactive"},
		{"stopped", "Result=success"},
		{"journal", "Watchdog timeout"},
		{"journal", "database unreachable; retrying"},
		{"storage", "ActiveState=active"},
		{"storage", "NRestarts=0"},
		{"storagejournal", "add-issued"},
		{"ingest", "ActiveState=active"},
		{"ingest", "db ok"},
		{"ingeststopped", "Result=success"},
		{"swap", "Result=success"},
		{"swaps", "partition\t65532"}, // the 64 MiB disk
		{"swaps", "\n/dev/vd"},        // under its real path: swapon ran outside the sandbox's mount namespace
		{"spot", "Result=success"},
		{"spot", "ExecMainStatus=0"},
		{"spotjournal", "on EC2: watching for spot"},
	} {
		if got := section(c.section); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q not in\n%s", c.section, c.want, got)
		}
	}
	if strings.Contains(text, "control socket: cannot give it to group") {
		t.Errorf("a unit could not give its control socket to its group")
	}
	if strings.Contains(text, "Failed deactivating swap") {
		t.Errorf("systemd could not turn the swap off at shutdown")
	}
	// md0 is whole again: the blank SSD a plain member, the EBS volume still write-mostly.
	if md := section("mdstat"); !regexp.MustCompile(`md0 : active raid1 .*\n.*\[UU\]`).MatchString(md) {
		t.Errorf("md0 not repaired:\n%s", md)
	}
	members := section("md0 members")
	if strings.Count(members, "in_sync,write_mostly") != 1 || strings.Count(members, "in_sync\n")+strings.Count(members, "in_sync\r\n") != 1 {
		t.Errorf("want one plain and one write-mostly in-sync member:\n%s", members)
	}
	// Both nights ingested exactly once: the first by agentd@probe, the second by the spot unit.
	db := pgtest.Conn(t, dbURL)
	count := func(q string) int {
		var n int
		if err := db.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM diskfile WHERE present`); n != len(m.Ingestable) {
		t.Errorf("%d files ingested, want %d", n, len(m.Ingestable))
	}
	if n := count(`SELECT count(*) FROM (SELECT filename, path FROM diskfile GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d files ingested more than once", n)
	}
	if n := count(`SELECT count(*) FROM ingestqueue`); n != 0 {
		t.Errorf("%d ingest queue rows left", n)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("console:\n%s", text)
	}
}

// systemdInitramfs is the small initramfs that loads the virtio, md and ext4 modules and
// switches to the root on /dev/vda with systemd as PID 1.
func (v *vm) systemdInitramfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(v.work, "sysinit")
	for _, d := range []string{"bin", "mods", "proc", "sys", "dev", "newroot"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	copyFile(t, filepath.Join(v.cache, "root", "bin", "busybox"), filepath.Join(dir, "bin", "busybox"), 0o755)
	for i, m := range v.modules(t) {
		copyFile(t, m, filepath.Join(dir, "mods", fmt.Sprintf("%03d-%s", i, filepath.Base(m))), 0o644)
	}
	init := `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in /mods/*.ko; do /bin/busybox insmod $m 2>/dev/null; done
/bin/busybox mount -t ext4 /dev/vda /newroot || /bin/busybox poweroff -f
/bin/busybox umount /proc /sys
/bin/busybox mount --move /dev /newroot/dev
exec /bin/busybox switch_root /newroot /lib/systemd/systemd
`
	if err := os.WriteFile(filepath.Join(dir, "init"), []byte(init), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(v.work, "sysinit.cpio.gz")
	cmd := exec.Command("sh", "-c", "find . | cpio -H newc -o 2>/dev/null | gzip > "+out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initramfs: %v %s", err, b)
	}
	return out
}
