#!/usr/bin/env bash
# vm-systemd-root.sh: a minimal Debian root with systemd as PID 1, for running agentd's units
# under a real systemd in qemu (internal/storagevm/systemd_test.go): mmdebstrap from
# Debian's packages (installed with apt-get when missing), cached as a tar next to the
# kernel of scripts/vm-assets.sh. Needs root (mmdebstrap's root mode).
#
#   bash scripts/vm-systemd-root.sh    # prints the tar's path on stdout
set -euo pipefail

cache=${AGENTD_VM_CACHE:-${TMPDIR:-/tmp}/agentd-vm-cache}
# The name changes with the package list, so an older cache is never used.
tar=$cache/systemd-root-2.tar
log() { printf 'vm-systemd-root.sh: %s\n' "$*" >&2; }

if [ -f "$tar" ]; then
	printf '%s\n' "$tar"
	exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
	log "installing mmdebstrap"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q mmdebstrap >&2 || { apt-get update -q >&2 && apt-get install -y -q mmdebstrap >&2; }
fi
mkdir -p "$cache"
log "building the root (about 20 s)"
mmdebstrap --format=tar --variant=minbase --include=systemd,systemd-sysv,udev,util-linux,kmod,mount,mdadm,lvm2 \
	bookworm "$tar.part" http://deb.debian.org/debian >&2
mv "$tar.part" "$tar"
printf '%s\n' "$tar"
