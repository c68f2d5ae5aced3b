#!/usr/bin/env bash
# Builds the Debian 12 system that tests/debian/test_debian.sh boots: a
# minimal root file system made by mmdebstrap with systemd as init, the
# Debian kernel, libvirt's daemon and QEMU (run as libvirt-qemu, as on any
# Debian host), socat, and the libraries vdpa-migrate's packages need, so
# that they install without a network.  vdpa-migrate itself is not in it:
# the test installs the packages of the tree under test at each run.
#
#   tests/debian/build-rootfs.sh
#
# Cached in $VDPA_DEBIAN_CACHE (default ~/.cache/vdpa-migrate/debian) under a
# key made of this script, the package list, the apt sources and the files
# copied into the image: a second run with the same inputs does nothing.  The mirror is
# the one the system's own apt sources name.  Needs root (mmdebstrap's root
# mode keeps owners and file capabilities) and mmdebstrap, mkfs.ext4.
#
# Output, in the cache entry: root.img (ext4, raw), vmlinuz, initrd.img; the
# last line on stdout is the entry's directory.  Quiet unless it fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VDPA_DEBIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdpa-migrate/debian}

die() { echo "build-rootfs: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap's root mode)"
for t in mmdebstrap mkfs.ext4 sha256sum; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found (contrib/install-deps.sh test)"
done

# What a Debian host running vdpa-migrate under libvirt has, and no more:
# init and udev, the kernel (its initramfs finds the virtio disk), libvirt
# with its QEMU driver and QEMU, and what the test itself uses (socat to
# connect as another user, iproute2, procps).  The libraries are
# vdpa-migrate's Depends, so that dpkg -i needs no network.
pkgs=(systemd-sysv udev dbus linux-image-amd64
	libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
	socat iproute2 procps adduser util-linux e2fsprogs
	libjson-c5 libsystemd0 libvirt0 libxml2 zlib1g)

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ "$codename" = bookworm ] || die "this image is Debian 12 (bookworm); the host is '$codename'"
. "$here/../helpers/apt-source.sh"
sources=()
for suite in "$codename" "$codename-updates" "$codename-security"; do
	src=$(system_source "$suite" | head -n1)
	if [ -z "$src" ]; then
		[ "$suite" = "$codename" ] && die "no apt source for $codename in /etc/apt"
		continue
	fi
	uri=${src% *} key=${src#* }
	opts=""
	[ "$key" = - ] || opts="[signed-by=$key] "
	sources+=("deb $opts$uri $suite main")
done

key=$( {
	printf '%s\n' "${pkgs[@]}" "${sources[@]}"
	sha256sum "${BASH_SOURCE[0]}" "$here/vdpa-payload" "$here/vdpa-payload.service" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
dest=$cache/$key
if [ -s "$dest/root.img" ] && [ -s "$dest/vmlinuz" ] && [ -s "$dest/initrd.img" ]; then
	echo "$dest"
	exit 0
fi

mkdir -p "$cache" || die "cannot create $cache"
exec {lockfd}>"$cache/.lock"
command -v flock >/dev/null 2>&1 && flock "$lockfd"
if [ -s "$dest/root.img" ]; then echo "$dest"; exit 0; fi   # built while we waited

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$cache/build.log
: >"$log"

inc=$(IFS=,; echo "${pkgs[*]}")
# The hooks run outside the chroot with the root directory as $1.
# vdpa-payload.service starts vdpa-payload once the system is up: it mounts
# the test's payload disk, runs its script and powers off.  Timers that would
# wake during a test (apt, man-db, e2scrub) are masked; the root password
# is empty for a look at the console after a failure.
{
	echo "+ mmdebstrap --variant=minbase bookworm"
	printf '  source: %s\n' "${sources[@]}"
} >>"$log"
printf '%s\n' "${sources[@]}" |
	mmdebstrap --variant=minbase --include="$inc" \
		--customize-hook='install -m 0755 '"$here"'/vdpa-payload "$1/usr/local/sbin/vdpa-payload"' \
		--customize-hook='install -m 0644 '"$here"'/vdpa-payload.service "$1/etc/systemd/system/"' \
		--customize-hook='chroot "$1" systemctl enable vdpa-payload.service >/dev/null 2>&1' \
		--customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true' \
		--customize-hook='chroot "$1" passwd -d root >/dev/null' \
		--customize-hook='echo vdpa-debian >"$1/etc/hostname"' \
		--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
		bookworm "$work/root" - >>"$log" 2>&1 ||
	die "mmdebstrap failed (see $log)"

vml=$(ls "$work"/root/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
ird=$(ls "$work"/root/boot/initrd.img-* 2>/dev/null | sort -V | tail -n1)
[ -n "$vml" ] && [ -n "$ird" ] || die "no kernel or initramfs in the root file system (see $log)"
mkdir -p "$work/out"
cp "$vml" "$work/out/vmlinuz"
cp "$ird" "$work/out/initrd.img"
mb=$(du -sm "$work/root" | cut -f1)
# Room for the packages, the logs and libvirt's files of a test run.
size=$((mb + mb / 4 + 512))
truncate -s "${size}M" "$work/out/root.img"
mkfs.ext4 -q -F -L vdparoot -d "$work/root" "$work/out/root.img" >>"$log" 2>&1 ||
	die "mkfs.ext4 failed (see $log)"
rm -rf "$dest"
mv "$work/out" "$dest"
# Older images (other inputs) take about 1 GiB each: only the newest stays.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name '.build.*' -exec rm -rf {} +
echo "$dest"
