#!/usr/bin/env bash
# The packages of "make deb" on a real Debian 12 that boots with systemd as
# PID 1 (make check-debian): the image of build-rootfs.sh boots under QEMU
# (TCG) with a payload disk holding the packages and inside.sh, which
# installs them with apt, then checks the service (Type=notify, watchdog,
# reload, stop), the control socket's and a port socket's permissions,
# libvirtd starting a domain whose port the hook creates and whose QEMU
# (as libvirt-qemu) connects, and that apt-get purge leaves nothing behind.
#
#   tests/debian/test_debian.sh [DEB_DIR]      (default build/deb)
#
# Logs in build/debian/: console.log (the system's serial console),
# result, inside.log, journal.txt (on failure), apt.log, purge.diff.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
debdir=${1:-$top/build/deb}
out=${VDPA_DEBIAN_OUT:-$top/build/debian}
qemu=${VDPA_DEBIAN_QEMU:-qemu-system-x86_64}

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mmdebstrap's root mode)"; exit 77; }
for t in "$qemu" mkfs.ext4 debugfs; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found (contrib/install-deps.sh test)"
done
main=$(ls "$debdir"/vdpa-migrate_*_amd64.deb 2>/dev/null | tail -n1)
simd=$(ls "$debdir"/vdpa-simd_*_amd64.deb 2>/dev/null | tail -n1)
[ -n "$main" ] && [ -n "$simd" ] || die "no packages in $debdir (make deb)"

t=$SECONDS
img=$("$here/build-rootfs.sh" | tail -n1) || die "no Debian image"
log "Debian 12 image $img ($((SECONDS - t)) s, cached after the first build)"

rm -rf "$out"
mkdir -p "$out/payload/debs"
cp "$main" "$simd" "$out/payload/debs/"
cp "$here/inside.sh" "$here/domain.xml" "$out/payload/"
truncate -s 256M "$out/payload.img"
mkfs.ext4 -q -F -L payload -d "$out/payload" "$out/payload.img" || die "cannot make the payload disk"

log "booting Debian under QEMU (TCG, systemd as PID 1); console in $out/console.log"
t=$SECONDS
# The bound is for a system gone wrong (an install or a boot that hangs),
# not a deadline for the product.
rc=0
timeout 1800 "$qemu" -machine q35 -accel tcg -m 2048 -smp 2 -no-reboot \
	-display none -vga none -monitor none -serial "file:$out/console.log" -nic none \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 panic=-1" \
	-drive "file=$img/root.img,format=raw,if=virtio,snapshot=on" \
	-drive "file=$out/payload.img,format=raw,if=virtio" || rc=$?
[ $rc -eq 0 ] || log "QEMU exited with $rc (124: did not power off within 30 min)"
log "the system powered off after $((SECONDS - t)) s"

for f in result inside.log journal.txt apt.log purge.log purge.diff; do
	debugfs -R "cat /$f" "$out/payload.img" >"$out/$f" 2>/dev/null || true
	[ -s "$out/$f" ] || rm -f "$out/$f"
done
[ -s "$out/result" ] || die "no result from inside (see $out/console.log)"
sed 's/^/  /' "$out/result"
[ "$(tail -n1 "$out/result")" = PASS ] || die "inside Debian (see $out/inside.log, $out/journal.txt)"
log "PASS"
