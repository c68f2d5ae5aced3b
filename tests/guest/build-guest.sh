#!/usr/bin/env bash
# Builds the integration tests' guest: the Debian kernel, an initramfs with
# busybox, the virtio-net modules, tests/guest/init and trafficcheck; plus
# the host-side tools trafficcheck and qmpcmd (static, the same binaries).
#
#   tests/guest/build-guest.sh [OUTDIR]
#
# The result is cached in $VDPA_GUEST_CACHE (default
# ~/.cache/vdpa-migrate/guest) under a key made of the kernel and busybox
# package versions and a hash of init, trafficcheck.c, qmpcmd.c and this
# script; a second run with the same inputs does nothing.  With OUTDIR the
# files are also copied there.  Packages are fetched with "apt-get download"
# and unpacked with "dpkg -x": nothing is installed.
#
# Output: OUTDIR/{vmlinuz,initramfs.gz,trafficcheck,qmpcmd}; the last line on
# stdout is the output directory.  Quiet unless something fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VDPA_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdpa-migrate/guest}
outdir=${1:-}
args=("$@")
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_pci failover net_failover virtio_net)
sources=("$here/init" "$here/trafficcheck.c" "$here/qmpcmd.c" "${BASH_SOURCE[0]}")
CC=${CC:-gcc}

die() { echo "build-guest: $*" >&2; exit 1; }

for t in apt-get apt-cache dpkg cpio gzip sha256sum "$CC"; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found (contrib/install-deps.sh test)"
done
for f in "${sources[@]}"; do [ -r "$f" ] || die "missing $f"; done

mkdir -p "$cache" || die "cannot create cache directory $cache"
log=$cache/build.log

# Refreshes the package lists, once per build (they may be missing, or so
# stale that the mirror no longer has the candidate version).
apt_update() {
	[ -z "${VDPA_GUEST_APT_UPDATED:-}" ] || return 1
	export VDPA_GUEST_APT_UPDATED=1
	echo "+ apt-get update" >>"$log"
	apt-get update -q >>"$log" 2>&1 ||
		echo "(apt-get update failed: not root, or no mirror?)" >>"$log"
}

# pkg_version PKG <<<"$(apt-cache policy ...)": the candidate version.
pkg_version() {
	awk -v p="$1:" '$1 == p { f = 1; next } /^[^ ]/ { f = 0 }
		f && $1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# One build at a time per cache (parallel CI jobs share it).
exec {lockfd}>"$cache/.lock"
command -v flock >/dev/null 2>&1 && flock "$lockfd"
[ -n "${VDPA_GUEST_APT_UPDATED:-}" ] || : >"$log"

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1 || true)
if [ -z "$kpkg" ] && apt_update; then
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1 || true)
fi
[ -n "$kpkg" ] || die "cannot tell which kernel linux-image-amd64 depends on (apt lists missing? see $log)"
policy=$(apt-cache policy "$kpkg" busybox-static 2>/dev/null || true)
kver=$(pkg_version "$kpkg" <<<"$policy")
bver=$(pkg_version busybox-static <<<"$policy")
[ -n "$kver" ] && [ -n "$bver" ] || die "no version for $kpkg or busybox-static in the apt lists"

key=$( {
	echo "$kpkg $kver busybox-static $bver"
	sha256sum "${sources[@]}" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
dest=$cache/$key
files=(vmlinuz initramfs.gz trafficcheck qmpcmd)

publish() {
	if [ -n "$outdir" ]; then
		mkdir -p "$outdir" || die "cannot create $outdir"
		if ! cmp -s "$dest/KEY" "$outdir/KEY" 2>/dev/null; then
			for f in "${files[@]}" KEY; do
				cp -f "$dest/$f" "$outdir/$f.tmp" && mv -f "$outdir/$f.tmp" "$outdir/$f" ||
					die "cannot copy $f to $outdir"
			done
		fi
		(cd "$outdir" && pwd)
	else
		echo "$dest"
	fi
}

if [ -f "$dest/KEY" ]; then
	publish
	exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- fetch and unpack --------------------------------------------------
debs=$cache/debs
mkdir -p "$debs"
# apt-get download names the file PACKAGE_VERSION_ARCH.deb, ":" as "%3a".
find_deb() {
	local f="$debs/${1}_${2//:/%3a}_amd64.deb"
	[ ! -e "$f" ] || echo "$f"
}
fetch() { # PACKAGE VERSION: sets deb to the path of its .deb
	deb=$(find_deb "$1" "$2")
	[ -z "$deb" ] || return 0
	if ! (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$1=$2") >>"$log" 2>&1; then
		# Refresh the lists and start over: the versions may change.
		if apt_update; then
			rm -rf "$work"
			exec {lockfd}>&-  # else the new run waits for our lock
			exec "${BASH_SOURCE[0]}" "${args[@]}"
		fi
		die "apt-get download $1=$2 failed; last lines of $log:$(echo; tail -n 5 "$log")"
	fi
	deb=$(find_deb "$1" "$2")
	[ -n "$deb" ] || die "downloaded $1=$2 but cannot find the .deb in $debs"
}
fetch "$kpkg" "$kver"; kdeb=$deb
fetch busybox-static "$bver"; bdeb=$deb
dpkg -x "$kdeb" "$work/k" >>"$log" 2>&1 || die "dpkg -x $kdeb failed (see $log)"
dpkg -x "$bdeb" "$work/b" >>"$log" 2>&1 || die "dpkg -x $bdeb failed (see $log)"

vmlinuz=$(ls "$work"/k/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
[ -n "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-*"
kmoddir=$(ls -d "$work"/k/lib/modules/*/ 2>/dev/null | head -n1 || true)
[ -n "$kmoddir" ] || die "$kpkg has no /lib/modules/<version>"
busybox=$work/b/bin/busybox
[ -x "$busybox" ] || die "busybox-static has no /bin/busybox"

# ---- host tools and the guest's traffic checker -------------------------
out=$work/out
mkdir -p "$out"
cflags=(-static -O2 -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla)
for p in trafficcheck qmpcmd; do
	"$CC" "${cflags[@]}" -o "$out/$p" "$here/$p.c" >>"$log" 2>&1 ||
		die "compiling $p.c failed:$(echo; tail -n 20 "$log")"
done

# ---- initramfs ----------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,run,root,etc}
cp "$busybox" "$root/bin/busybox"
# Applet links at build time (no "busybox --install" at every boot).  The
# host runs the static busybox from the package to list them.
"$busybox" --list-full >"$work/applets" 2>>"$log" || die "cannot list busybox applets"
while read -r a; do
	[ -n "$a" ] && [ "$a" != bin/busybox ] && [ ! -e "$root/$a" ] || continue
	mkdir -p "$root/$(dirname "$a")"
	ln -s /bin/busybox "$root/$a"
done <"$work/applets"
cp "$out/trafficcheck" "$root/bin/trafficcheck"
install -m 0755 "$here/init" "$root/init"
[ "$(id -u)" -eq 0 ] && mknod -m 600 "$root/dev/console" c 5 1

# Debian 12 ships its modules uncompressed; later kernels compress them (xz
# or zstd), which busybox insmod may not read, so decompress here.
builtin=$kmoddir/modules.builtin
for m in "${modules[@]}"; do
	f=$(find "$kmoddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \
		-o -name "$m.ko.gz" | head -n1)
	case "$f" in
	"") if grep -q "/$m\.ko" "$builtin" 2>/dev/null; then
		echo "$m is built in" >>"$log"
	    else
		die "module $m is neither in $kpkg nor built in"
	    fi ;;
	*.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" || die "cannot decompress $f (xz-utils)" ;;
	*.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" || die "cannot decompress $f (zstd)" ;;
	*.gz) gzip -dc "$f" >"$root/lib/modules/$m.ko" || die "cannot decompress $f" ;;
	esac
done

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet | gzip -6 >"$out/initramfs.gz") ||
	die "creating the initramfs failed"
cp "$vmlinuz" "$out/vmlinuz"
{
	echo "key $key"
	echo "kernel $kpkg $kver"
	echo "busybox-static $bver"
	sha256sum "${sources[@]}"
} >"$out/KEY"

rm -rf "$dest"
mv "$out" "$dest" || die "cannot move the result to $dest"

# Keep the 4 newest builds; drop .debs of versions no longer wanted.
ls -dt "$cache"/[0-9a-f]*/ 2>/dev/null | tail -n +5 | xargs -r rm -rf
for f in "$debs"/*.deb; do
	[ "$f" = "$kdeb" ] || [ "$f" = "$bdeb" ] || rm -f "$f"
done
publish
