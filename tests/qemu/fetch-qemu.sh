#!/usr/bin/env bash
# Fetches QEMU 10 from Debian 12's backports suite into a private cache, for
# the tests' strict lane (VDPA_QEMU=10).  Why a second QEMU: Debian 12's own
# QEMU 7.2 can lose guest stores from its migration dirty bitmap under TCG
# (fixed upstream in 9.0, "physmem: Fix migration dirty bitmap coherency with
# TCG memory access"), so a migration under load may leave guest pages
# different with no vhost backend involved at all; QEMU 10 does not, so only
# it can prove that a migration lost nothing.  docs/architecture.md has the
# measurements.
#
#   tests/qemu/fetch-qemu.sh            prints the lane's directory (last line)
#
# The directory holds bin/qemu-system-x86_64, a wrapper that runs the
# extracted binary with its own firmware and modules, and VERSION.  Nothing
# is installed or upgraded system-wide but the ordinary Debian 12 shared
# libraries the binary links (it was built for bookworm); the packages come
# with "apt-get download" through an apt configuration of our own under the
# cache that names the backports suite at the mirror the system's apt
# sources already use, and are unpacked with "dpkg -x".
#
# Cache: $VDPA_QEMU_CACHE (default ~/.cache/vdpa-migrate/qemu), one folder per
# version; a second run with the same candidate version does nothing.  With
# no network the newest complete folder is used.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VDPA_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdpa-migrate/qemu}
want=${VDPA_QEMU10_VERSION_GLOB:-1:10.*}   # the candidate must match
pkgs=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

die() { echo "fetch-qemu: $*" >&2; exit 1; }

for t in apt-get apt-cache dpkg dpkg-deb ldd awk; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found"
done
mkdir -p "$cache" || die "cannot create $cache"
exec {lockfd}>"$cache/.lock"
command -v flock >/dev/null 2>&1 && flock "$lockfd"
log=$cache/fetch.log
: >"$log"

# ---- the mirror, from the system's own apt sources ----------------------
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"

. "$here/../helpers/apt-source.sh"

src=$(system_source "$codename" | head -n1)
[ -n "$src" ] || die "no apt source for $codename in /etc/apt (cannot tell which mirror to use)"
uri=${src% *} key=${src#* }
opts=""
[ "$key" = - ] || opts="[signed-by=$key] "

apt=$cache/apt
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc" "$apt/debs"
printf 'deb %s%s %s-backports main\n' "$opts" "$uri" "$codename" >"$apt/etc/sources.list"
aptopts=(-o "Dir::Etc::sourcelist=$apt/etc/sources.list" -o "Dir::Etc::sourceparts=$apt/etc/none"
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Dir::Cache::archives=$apt/archives"
	-o APT::Sandbox::User=root -q)

newest_cached() {
	ls -dt "$cache"/v-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/VERSION" ] && { echo "${d%/}"; break; }
	done
}

echo "+ apt-get update ($codename-backports)" >>"$log"
if ! apt-get "${aptopts[@]}" update >>"$log" 2>&1; then
	d=$(newest_cached)
	[ -n "$d" ] || die "apt-get update of $codename-backports failed and nothing is cached; last lines of $log:$(echo; tail -n 5 "$log")"
	echo "fetch-qemu: apt-get update failed; using the cached $(cat "$d/VERSION")" >&2
	echo "$d"
	exit 0
fi

candidate() { # PKG: the backports candidate version
	apt-cache "${aptopts[@]}" policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}
ver=$(candidate qemu-system-x86)
[ -n "$ver" ] || die "no qemu-system-x86 in $codename-backports"
# shellcheck disable=SC2053
[[ $ver == $want ]] || die "$codename-backports has qemu-system-x86 $ver, not $want"
dest=$cache/v-${ver//[:~+]/_}
if [ -f "$dest/VERSION" ] && "$dest/bin/qemu-system-x86_64" --version >/dev/null 2>&1; then
	echo "$dest"
	exit 0
fi

# ---- download and unpack ------------------------------------------------
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debs=()
for p in "${pkgs[@]}"; do
	v=$(candidate "$p")
	[ -n "$v" ] || die "no candidate for $p in $codename-backports"
	# apt-get download names it PKG_VERSION_ARCH.deb, ":" as "%3a".
	f=$(ls "$apt/debs/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		(cd "$apt/debs" && apt-get "${aptopts[@]}" download "$p=$v") >>"$log" 2>&1 ||
			die "apt-get download $p=$v failed; last lines of $log:$(echo; tail -n 5 "$log")"
		f=$(ls "$apt/debs/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	fi
	[ -s "$f" ] || die "downloaded $p=$v but cannot find its .deb in $apt/debs"
	debs+=("$f")
	dpkg -x "$f" "$work/root" >>"$log" 2>&1 || die "dpkg -x $f failed"
done
bin=$work/root/usr/bin/qemu-system-x86_64
[ -x "$bin" ] || die "qemu-system-x86 $ver has no usr/bin/qemu-system-x86_64"

# ---- the Debian 12 libraries it links -----------------------------------
# Its Depends name the shared-library packages; those missing here come
# from the system's own suites (bookworm), as any library would.
libs=$(dpkg-deb -f "${debs[0]}" Depends | tr ',' '\n' |
	sed -n 's/^ *\(lib[a-z0-9.+-]*\).*/\1/p' | sort -u)
missing=()
for l in $libs; do
	st=$(dpkg-query -W -f='${Status}' "$l" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$l")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "fetch-qemu: installing Debian $codename libraries QEMU $ver links: ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >>"$log" 2>&1 ||
		die "apt-get install ${missing[*]} failed; last lines of $log:$(echo; tail -n 5 "$log")"
fi
if ldd "$bin" | grep -q 'not found'; then
	die "QEMU $ver still misses libraries: $(ldd "$bin" | grep 'not found' | tr -s ' \t\n' ' ')"
fi

# ---- the wrapper --------------------------------------------------------
# Firmware (bios-256k.bin from this seabios, linuxboot_dma.bin, ...) and the
# modules (accelerators and devices built as .so) are looked up in the
# extracted tree first; option ROMs it does not ship (ipxe) fall back to
# the system's paths compiled into the binary.
mkdir -p "$work/bin"
cat >"$work/bin/qemu-system-x86_64" <<'EOF'
#!/bin/sh
# QEMU from the backports suite, unpacked by tests/qemu/fetch-qemu.sh.
d=$(cd "$(dirname "$0")/.." && pwd)
QEMU_MODULE_DIR=$d/root/usr/lib/x86_64-linux-gnu/qemu
export QEMU_MODULE_DIR
exec "$d/root/usr/bin/qemu-system-x86_64" -L "$d/root/usr/share/seabios" \
	-L "$d/root/usr/share/qemu" "$@"
EOF
chmod 0755 "$work/bin/qemu-system-x86_64"
"$work/bin/qemu-system-x86_64" --version >>"$log" 2>&1 ||
	die "the extracted QEMU does not run: $(tail -n 3 "$log")"
echo "$ver" >"$work/VERSION"
rm -rf "$dest"
mv "$work" "$dest" || die "cannot move the result to $dest"
trap - EXIT
# Keep the two newest versions.
ls -dt "$cache"/v-*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
echo "$dest"
