#!/usr/bin/env bash
# vm-assets.sh: gather what the storage agent's end-to-end test boots under qemu (Debian's
# own kernel with md and device-mapper, busybox, mdadm, lvm2), without installing any of it
# on the host: the packages are downloaded with apt-get download and unpacked into a cache
# folder. Installs qemu-system-x86 and cpio with apt-get when they are missing.
#
#   bash scripts/vm-assets.sh     # prints the cache folder on stdout
#
# The cache is ${AGENTD_VM_CACHE:-${TMPDIR:-/tmp}/agentd-vm-cache}; delete it to start over.
set -euo pipefail

cache=${AGENTD_VM_CACHE:-${TMPDIR:-/tmp}/agentd-vm-cache}
log() { printf 'vm-assets.sh: %s\n' "$*" >&2; }

need_apt=()
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v cpio >/dev/null || need_apt+=(cpio)
command -v mke2fs >/dev/null || need_apt+=(e2fsprogs)
if ((${#need_apt[@]})); then
	log "installing ${need_apt[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${need_apt[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${need_apt[@]}" >&2; }
fi

if [ -f "$cache/ready" ]; then
	printf '%s\n' "$cache"
	exit 0
fi
rm -rf "$cache"
mkdir -p "$cache/debs" "$cache/root"
# The kernel image package that linux-image-amd64 points at today.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { log "cannot tell Debian's current kernel package (apt-cache depends linux-image-amd64)"; exit 1; }
pkgs=("$kpkg" busybox-static mdadm lvm2 dmsetup libdevmapper1.02.1 libdevmapper-event1.02.1 libaio1 libedit2)
log "downloading ${pkgs[*]}"
(cd "$cache/debs" && apt-get download "${pkgs[@]}" >&2 2>/dev/null) ||
	{ apt-get update -q >&2 && (cd "$cache/debs" && apt-get download "${pkgs[@]}" >&2); }
for deb in "$cache"/debs/*.deb; do
	dpkg-deb -x "$deb" "$cache/root"
done
kver=${kpkg#linux-image-}
# No depmod needed: the test reads each module's dependencies from its .modinfo section.
printf '%s\n' "$kver" >"$cache/kver"
touch "$cache/ready"
log "ready in $cache (kernel $kver)"
printf '%s\n' "$cache"
