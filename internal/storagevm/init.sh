#!/bin/sh
# /init of the storage agent's test VM (see vm_test.go). The kernel command line says the
# phase: create (build the mirrors, the VG and known data) or assemble / incremental (the
# boot after an instance migration: the SSDs are blank; the arrays come up degraded through
# mdadm --assemble --scan, or inactive through mdadm --incremental, and agentd repairs them).
# Everything worth checking goes to /out, written as a tar onto the disk with serial "out".
export PATH=/bin:/sbin
export MDADM_NO_UDEV=1 MDADM_NO_SYSTEMCTL=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /mnt /out /run/lock
start=$(cut -d' ' -f1 /proc/uptime)
log() { echo "VM[$(cut -d' ' -f1 /proc/uptime)]: $*" | tee -a /out/timeline.txt; }
phase=$(sed -n 's/.*phase=\([a-z-]*\).*/\1/p' /proc/cmdline)
wait_limit=$(sed -n 's/.*wait=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$wait_limit" ] || wait_limit=150

for m in $(cat /modules.order); do
	args=
	[ "$m" = md-mod ] && args=start_ro=1
	insmod "/lib/modules/$m.ko" $args 2>/dev/null || log "insmod $m failed"
done
log "phase=$phase modules loaded"

# disk finds a disk by its role: its serial is the role, or the role and a suffix (the SSDs
# of a migration carry new serials, as new hardware does).
disk() {
	for d in /sys/block/vd*; do
		case "$(cat "$d/serial" 2>/dev/null)" in
		"$1" | "$1"-*)
			echo "/dev/${d##*/}"
			return
			;;
		esac
	done
}
SSD0=$(disk ssd0)
EBS0=$(disk ebs0)
SSD1=$(disk ssd1)
EBS1=$(disk ebs1)
OUT=$(disk out)
log "SSD0=$SSD0 EBS0=$EBS0 SSD1=$SSD1 EBS1=$EBS1 OUT=$OUT"

# start_agent starts the storage agent (pid in $agent) and waits for its control socket.
start_agent() {
	/agentd --name storage --config /etc/agentd.toml --state /run/agent.db --socket /run/agentd.sock \
		--lock-dir /run/lock >/out/agentd.log 2>&1 &
	agent=$!
	n=0
	while [ ! -S /run/agentd.sock ] && [ "$n" -lt 50 ]; do
		sleep 0.2
		n=$((n + 1))
	done
}

finish() {
	cd /
	tar -cf "$OUT" out
	sync
	poweroff -f
}

case "$phase" in
create)
	# The layout, built by agentctl storage init from the four blank disks (it records the
	# slot of each SSD in the storage agent's state file, which goes to the migration boots).
	/agentctl storage init --vg vgdata --lv lvdata --fs ext4 --write-behind 256 --state /run/agent.db \
		--pair "$SSD0,$EBS0" --pair "$SSD1,$EBS1" --json >/out/init.json 2>/out/init.err
	echo $? >/out/init.rc
	mdadm --wait /dev/md0 /dev/md1 2>/dev/null
	mount -t ext4 /dev/vgdata/lvdata /mnt || log "mount failed"
	dd if=/dev/urandom of=/mnt/data bs=1M count=4 2>/dev/null
	(cd /mnt && sha256sum data) >/out/sha256
	umount /mnt
	lvm vgchange -q -an vgdata >>/out/lvm.log 2>&1
	cp /etc/mdadm/mdadm.conf /out/mdadm.conf
	cat /proc/mdstat >/out/mdstat-created
	cp /run/agent.db /out/agent.db
	# A scrub of md1 as it is, then of md0 after a write behind md's back: 1 MiB of noise
	# onto its SSD, inside the data area's last MiB (free space of the file system).
	/agentctl storage verify --array md1 --json >/out/verify-md1.json 2>/out/verify-md1.err
	echo $? >/out/verify-md1.rc
	ssd0=${SSD0#/dev/}
	at=$(($(cat /sys/block/md0/md/dev-$ssd0/offset) + $(cat /sys/block/md0/md/component_size) * 2 - 2048))
	dd if=/dev/urandom of="$SSD0" bs=512 count=2048 seek="$at" conv=notrunc 2>/dev/null
	sync
	echo 3 >/proc/sys/vm/drop_caches
	/agentctl storage verify --array md0 --json >/out/verify-md0.json 2>/out/verify-md0.err
	echo $? >/out/verify-md0.rc
	log "verified"
	mdadm --stop --scan 2>>/out/mdadm.log
	log "created"
	finish
	;;
assemble | incremental | readd)
	# What udev makes on an AWS instance: stable names saying which disks are instance storage.
	mkdir -p /dev/disk/by-id
	for s in ssd0 ssd1; do
		d=$(disk $s)
		[ -n "$d" ] && ln -s "../../${d#/dev/}" "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_$(cat "/sys/block/${d#/dev/}/serial")"
	done
	for s in ebs0 ebs1; do
		d=$(disk $s)
		[ -n "$d" ] && ln -s "../../${d#/dev/}" "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$s"
	done
	# The slots the create boot's agentd recorded while the mirrors were healthy.
	[ -f /var/lib/agent.db ] && cp /var/lib/agent.db /run/agent.db
	if [ "$phase" = readd ]; then
		# The same SSDs as before (no migration); md0's drops out, and the volume is
		# written meanwhile: it comes back stale, carrying md0's superblock, as after a
		# reboot it missed. Only the chunks written since are dirty in md0's bitmap.
		mdadm --assemble --scan 2>>/out/mdadm.log
		mdadm /dev/md0 --fail "$SSD0" --remove "$SSD0" 2>>/out/mdadm.log
		lvm vgchange -q -ay vgdata >>/out/lvm.log 2>&1
		mount -t ext4 /dev/vgdata/lvdata /mnt && dd if=/dev/urandom of=/mnt/later bs=64k count=4 2>/dev/null
		sync
		umount /mnt
		lvm vgchange -q -an vgdata >>/out/lvm.log 2>&1
		mdadm -X "$EBS0" >/out/bitmap-before 2>&1
	fi
	# agentd watches from before the arrays appear: it must notice them by itself.
	start_agent
	sleep 1
	log "agentd watching; assembling ($phase)"
	/stamp >/out/t-assemble-start
	if [ "$phase" = assemble ]; then
		mdadm --assemble --scan 2>>/out/mdadm.log
	else
		mdadm --incremental "$EBS0" 2>>/out/mdadm.log
		mdadm --incremental "$EBS1" 2>>/out/mdadm.log
	fi
	/stamp >/out/t-assembled
	cat /proc/mdstat >/out/mdstat-before
	log "arrays up ($phase)"
	n=0
	while [ "$n" -lt "$wait_limit" ]; do
		if [ "$(grep -c '\[UU\]' /proc/mdstat)" = 2 ]; then
			break
		fi
		sleep 1
		n=$((n + 1))
	done
	log "waited ${n}s"
	sleep 3 # the end of the recovery wakes agentd: let it see it and record it
	cat /proc/mdstat >/out/mdstat-after
	# The kernel's log, and one moment on both clocks (wall, and the uptime its lines carry),
	# so the test can place "recovery done" on agentd's clock.
	dmesg >/out/dmesg
	/stamp >/out/t-sync
	cut -d' ' -f1 /proc/uptime >>/out/t-sync
	for md in md0 md1; do
		for f in /sys/block/$md/md/dev-*/state; do
			[ -f "$f" ] && echo "$f: $(cat "$f")" >>/out/sysfs-after
		done
		echo "/sys/block/$md/md/degraded: $(cat /sys/block/$md/md/degraded)" >>/out/sysfs-after
	done
	/agentctl storage check --socket /run/agentd.sock >/out/check.txt 2>&1
	echo $? >/out/check.rc
	kill -TERM "$agent"
	wait "$agent"
	cp /run/agent.db /out/agent.db
	lvm vgchange -q -ay vgdata >>/out/lvm.log 2>&1
	mount -t ext4 -o ro /dev/vgdata/lvdata /mnt && (cd /mnt && sha256sum data) >/out/sha256
	umount /mnt 2>/dev/null
	log "done"
	finish
	;;
evacuate | evacuate-resume)
	# agentctl storage evacuate: the volume group moves off the mirrors onto two plain EBS
	# volumes (new0, new1; their writes throttled by qemu in the first boot, so that the move
	# is still under way when agentctl is killed and when the host goes down), while a writer
	# appends to a file on the mounted LV. The second boot is the reboot in the middle.
	mkdir -p /dev/disk/by-id /var/lib/agentd-storage
	for s in new0 new1 small used; do
		d=$(disk $s)
		[ -n "$d" ] && ln -s "../../${d#/dev/}" "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$s"
	done
	log "NEW0=$(disk new0) NEW1=$(disk new1) SMALL=$(disk small) USED=$(disk used)"
	EBS=/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store
	NEW="${EBS}_new0,${EBS}_new1"
	[ -f /var/lib/record.in ] && cp /var/lib/record.in /var/lib/agentd-storage/evacuate-vgdata.json
	mdadm --assemble --scan 2>>/out/mdadm.log
	log "assembled"
	if [ "$phase" = evacuate ]; then
		lvm vgchange -q -ay vgdata >>/out/lvm.log 2>&1
	else
		# As an initramfs activates it: nothing polls the interrupted move afterwards.
		lvm vgchange -q -ay --poll n vgdata >>/out/lvm.log 2>&1
	fi
	pct() { lvm lvs -a --noheadings -o copy_percent vgdata 2>/dev/null | tr -d ' ' | grep . | head -n 1; }
	log "activated"
	pct >/out/pct-boot
	mount -t ext4 /dev/vgdata/lvdata /mnt || log "mount failed"
	log "mounted"
	start_agent
	# The writer: numbered lines, each the last one plus one, synced every 20.
	writer() {
		i=$(tail -n 1 /mnt/log 2>/dev/null)
		[ -n "$i" ] || i=0
		while [ ! -f /tmp/stop-writer ]; do
			i=$((i + 1))
			echo "$i" >>/mnt/log
			[ $((i % 20)) = 0 ] && sync
			sleep 0.05
		done
		sync
	}
	writer &
	wpid=$!
	log "agentd and the writer at work"
	ev() { /agentctl storage evacuate --socket /run/agentd.sock --every 1s "$@"; }
	if [ "$phase" = evacuate ]; then
		ev --to "${EBS}_small" --yes >/out/small.out 2>&1
		echo $? >/out/small.rc
		log "small: exit $(cat /out/small.rc)"
		ev --to "${EBS}_used,${EBS}_new0" --yes >/out/used.out 2>&1
		echo $? >/out/used.rc
		log "used: exit $(cat /out/used.rc)"
		ev --to "$NEW" </dev/null >/out/noyes.out 2>&1
		echo $? >/out/noyes.rc
		log "noyes: exit $(cat /out/noyes.rc)"
		ev --to "$NEW" --dry-run >/out/dryrun.out 2>&1
		echo $? >/out/dryrun.rc
		log "dryrun: exit $(cat /out/dryrun.rc)"
		ev --to "$NEW" --yes --json >/out/evac1.json 2>/out/evac1.err &
		evac=$!
		n=0
		p=
		while [ "$n" -lt 600 ] && kill -0 "$evac" 2>/dev/null; do
			p=$(pct)
			[ -n "$p" ] && [ "${p%%.*}" -ge 3 ] && break
			sleep 0.2
			n=$((n + 1))
		done
		echo "$p" >/out/pct-kill
		kill -9 "$evac"
		log "agentctl killed at $p %"
		sleep 5
		pct >/out/pct-after-kill
		lvm lvs -a --reportformat json --units b --nosuffix -o lv_name,vg_name,lv_attr,lv_size,move_pv,copy_percent,devices vgdata \
			>/out/lvs-moving.json 2>>/out/lvm.log
		lvm pvs --reportformat json --units b --nosuffix -o pv_name,vg_name,pv_attr,pv_size,pv_free,dev_size \
			>/out/pvs-moving.json 2>>/out/lvm.log
		lvm vgs --reportformat json --units b --nosuffix -o vg_name,vg_attr,vg_size,vg_free,vg_extent_size,pv_count,lv_count vgdata \
			>/out/vgs-moving.json 2>>/out/lvm.log
		cat /proc/mdstat >/out/mdstat-moving
		cp /var/lib/agentd-storage/evacuate-vgdata.json /out/record.json
		touch /tmp/stop-writer
		wait "$wpid"
		tail -n 1 /mnt/log >/out/log-last
		log "going down in the middle of the move at $(pct) %"
		# A hard stop: no unmount, no deactivation, the move's poller still at work.
		finish
	fi
	ev --to "$NEW" --yes --json >/out/evac2.json 2>/out/evac2.err
	echo $? >/out/evac2.rc
	log "evacuate rerun: exit $(cat /out/evac2.rc)"
	touch /tmp/stop-writer
	wait "$wpid"
	cp /mnt/log /out/log
	(cd /mnt && sha256sum data) >/out/sha256
	cp /etc/mdadm/mdadm.conf /out/mdadm.conf
	cat /proc/mdstat >/out/mdstat-after
	lvm pvs --noheadings -o pv_name,vg_name >/out/pvs 2>&1
	for d in "$SSD0" "$EBS0" "$SSD1" "$EBS1"; do
		mdadm --examine "$d" >>/out/examine 2>&1
	done
	[ -e /var/lib/agentd-storage/evacuate-vgdata.json ] && echo "record left" >/out/record-left
	ev --to "$NEW" --yes >/out/evac3.out 2>&1
	echo $? >/out/evac3.rc
	umount /mnt
	lvm vgchange -q -an vgdata >>/out/lvm.log 2>&1
	kill -TERM "$agent"
	wait "$agent"
	# What the next boot would do: the mirrors are gone for good, the volume is whole.
	mdadm --assemble --scan >>/out/mdadm.log 2>&1
	cat /proc/mdstat >/out/mdstat-reassembled
	lvm vgchange -q -ay vgdata >>/out/lvm.log 2>&1
	mount -t ext4 -o ro /dev/vgdata/lvdata /mnt && (cd /mnt && sha256sum data) >/out/sha256-reboot
	umount /mnt 2>/dev/null
	log "done"
	finish
	;;
*)
	log "unknown phase '$phase'"
	finish
	;;
esac
