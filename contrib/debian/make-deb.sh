#!/usr/bin/env bash
# Builds vdpa-migrate's Debian packages ("make deb"): copies the source tree
# to a temporary directory, contrib/debian to its debian/ (the repository's
# root keeps no debian/), runs dpkg-buildpackage there and lintian on the
# result, and leaves the .deb files, .changes and .buildinfo in OUTDIR.
# Installs the packaging tools and build dependencies that are missing, as
# contrib/install-deps.sh does (root or sudo).  Not copied into debian/.
#
#   contrib/debian/make-deb.sh OUTDIR
#
# DEB_JOBS (default 1) is dpkg-buildpackage's -j; KEEP_TREE=1 keeps the
# build tree; DEB_BUILD_OPTIONS=nocheck skips the unit tests.
set -euo pipefail

out=${1:?usage: make-deb.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
jobs=${DEB_JOBS:-1}
say() { printf 'make-deb: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- tools and build dependencies ------------------------------------------
sudo=()
as_root() {
	if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "need root to install: $*"
		sudo=(sudo)
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" "$@"
}
log=$out/apt.log
mkdir -p "$out"
: >"$log"
# apt_get ARGS...: apt-get, once more after "apt-get update" when it fails
# (lists missing or stale on a fresh machine).
apt_get() {
	as_root apt-get -y -q --no-install-recommends "$@" >>"$log" 2>&1 && return 0
	as_root apt-get update -q >>"$log" 2>&1 || true
	as_root apt-get -y -q --no-install-recommends "$@" >>"$log" 2>&1 ||
		{ tail -n 15 "$log" >&2; die "apt-get $* failed (log: $log)"; }
}

tools=(dpkg-dev debhelper lintian)
missing=()
for p in "${tools[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	apt_get install "${missing[@]}"
fi

# ---- the build tree ----------------------------------------------------------
ver_h=$(sed -n 's/^#define VDPA_MIGRATE_VERSION "\(.*\)"$/\1/p' "$top/agent/common/version.h")
ver_deb=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
[ "${ver_deb%-*}" = "$ver_h" ] ||
	die "contrib/debian/changelog is at $ver_deb but agent/common/version.h at $ver_h: add a changelog entry (dch -v $ver_h-1)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdpa-deb.XXXXXX")
[ "${KEEP_TREE:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
tree=$tmp/vdpa-migrate-$ver_h
mkdir -p "$tree"
# The working tree as it is (uncommitted edits included), without build/
# output or ignored files; a tree that is not a git checkout is copied whole.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -xf - -C "$tree"
else
	(cd "$top" && tar --exclude=./build --exclude=./.git -cf - .) | tar -xf - -C "$tree"
fi
rm -rf "$tree/debian"
cp -r "$here" "$tree/debian"
rm -f "$tree/debian/make-deb.sh"

# Build dependencies from debian/control, as apt resolves them.
if ! (cd "$tree" && dpkg-checkbuilddeps) >>"$log" 2>&1; then
	say "installing the build dependencies of debian/control"
	apt_get build-dep "$tree"
	(cd "$tree" && dpkg-checkbuilddeps) || die "build dependencies still unmet"
fi

# ---- build ---------------------------------------------------------------------
say "dpkg-buildpackage -b -j$jobs in $tree (log: $out/build.log)"
if ! (cd "$tree" && dpkg-buildpackage -b -us -uc -j"$jobs") >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	die "dpkg-buildpackage failed (log: $out/build.log)"
fi
rm -f "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
changes=$(cd "$tmp" && ls ./*.changes)
mv "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/
mv "$tmp"/*.ddeb "$out"/ 2>/dev/null || true
changes=$out/${changes#./}

# ---- lintian -------------------------------------------------------------------
# Every error and warning fails the build; info and pedantic tags are
# shown.  The one tag a package outside the archive cannot avoid is
# overridden, with the reason, in contrib/debian/*.lintian-overrides.
say "lintian $changes"
rc=0
lintian --fail-on error,warning --display-info --pedantic "$changes" >"$out/lintian.log" 2>&1 || rc=$?
grep -v '^running with root privileges' "$out/lintian.log" >&2 || true
[ $rc -eq 0 ] || die "lintian found errors or warnings (above; $out/lintian.log)"

for d in "$out"/*.deb; do say "built $d"; done
