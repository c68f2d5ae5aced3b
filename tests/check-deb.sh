#!/usr/bin/env bash
# Checks the packages "make deb" left in DIR without installing them: what
# each ships where, the conffile, the maintainer scripts' order (the group
# exists before the units start; an upgrade does not stop the agent; a
# purge removes the state) and the hardening of every program (fortify,
# relro, bindnow, PIE).  Any difference is a failure, one line each.
#
#   tests/check-deb.sh DIR        (default build/deb)
set -u
dir=${1:-build/deb}
rc=0
fail() { printf 'check-deb: %s\n' "$*" >&2; rc=1; }

deb_of() { # PACKAGE: the one .deb of PACKAGE in $dir
	local f=("$dir/$1"_*_*.deb)
	if [ ${#f[@]} -ne 1 ] || [ ! -f "${f[0]}" ]; then
		fail "no single $1 package in $dir"
		return 1
	fi
	printf '%s\n' "${f[0]}"
}
main=$(deb_of vdpa-migrate) || exit 1
simd=$(deb_of vdpa-simd) || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- contents ----------------------------------------------------------------
# has DEB PATH...: each PATH is in DEB (as a file, or "PATH -> TARGET").
has() {
	local deb=$1 p list
	shift
	list=$(dpkg-deb -c "$deb" | awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +\./, ""); print }')
	for p in "$@"; do
		grep -qxF -- "$p" <<<"$list" || fail "$(basename "$deb") lacks $p"
	done
}
has "$main" /usr/sbin/vdpa-agentd /usr/bin/vdpa-migrate \
	/lib/systemd/system/vdpa-agentd.service /lib/systemd/system/vdpa-agentd.socket \
	/usr/lib/sysusers.d/vdpa-agentd.conf /etc/vdpa-agentd.conf /etc/libvirt/hooks/vdpa-migrate.conf \
	/usr/libexec/vdpa-migrate/libvirt-hook \
	"/etc/libvirt/hooks/qemu.d/50-vdpa-migrate -> /usr/libexec/vdpa-migrate/libvirt-hook" \
	/usr/share/man/man8/vdpa-agentd.8.gz /usr/share/man/man8/vdpa-migrate.8.gz \
	/usr/share/man/man5/vdpa-agentd.conf.5.gz /usr/share/man/man7/vdpa-migrate-json.7.gz \
	/usr/share/bash-completion/completions/vdpa-migrate \
	/usr/share/doc/vdpa-migrate/vdpa-agentd.conf /usr/share/doc/vdpa-migrate/vdpa-migrate-hook.conf
has "$simd" /usr/bin/vdpa-simd /usr/share/man/man8/vdpa-simd.8.gz
list_m=$(dpkg-deb -c "$main")
list_s=$(dpkg-deb -c "$simd")
grep -q 'tmpfiles\.d' <<<"$list_m" && fail "vdpa-migrate ships a tmpfiles.d snippet (the config is a conffile)"
grep -q 'vdpa-simd' <<<"$list_m" && fail "vdpa-migrate ships vdpa-simd"
grep -q '/sbin/' <<<"$list_s" && fail "vdpa-simd ships something in sbin"

# ---- control files -------------------------------------------------------------
dpkg-deb -e "$main" "$tmp/ctl"
[ "$(sort "$tmp/ctl/conffiles" 2>/dev/null | tr '\n' ' ')" = "/etc/libvirt/hooks/vdpa-migrate.conf /etc/vdpa-agentd.conf " ] ||
	fail "conffiles are not exactly /etc/vdpa-agentd.conf and /etc/libvirt/hooks/vdpa-migrate.conf: $(tr '\n' ' ' <"$tmp/ctl/conffiles" 2>/dev/null)"
dpkg-deb --fsys-tarfile "$main" | tar -xOf - ./etc/libvirt/hooks/vdpa-migrate.conf 2>/dev/null |
	grep -qx 'socket-group = libvirt-qemu' || fail "the hook's conffile does not give the sockets to libvirt-qemu"
grep -q '^Depends:.*\badduser\b' "$tmp/ctl/control" || fail "vdpa-migrate does not depend on adduser (postinst's addgroup)"
# line FILE REGEX: the number of FILE's first line matching REGEX, or 0.
line() { grep -n -m1 -E "$2" "$1" | cut -d: -f1 || true; }
pi=$tmp/ctl/postinst
g=$(line "$pi" '^[[:space:]]*systemd-sysusers ')
a=$(line "$pi" '^[[:space:]]*addgroup --system')
s=$(line "$pi" 'deb-systemd-invoke start')
if [ -z "$g" ] || [ -z "$a" ] || [ -z "$s" ]; then
	fail "postinst lacks systemd-sysusers, addgroup or the units' start"
elif [ "$g" -gt "$s" ] || [ "$a" -gt "$s" ]; then
	fail "postinst starts the units (line $s) before it creates the group (lines $g, $a)"
fi
grep -q 'vdpa-agentd\.socket' "$pi" || fail "postinst does not handle vdpa-agentd.socket"
# prerm stops the units on remove only, never on upgrade.
grep -q 'deb-systemd-invoke stop' "$tmp/ctl/prerm" || fail "prerm does not stop the units on remove"
# shellcheck disable=SC2016 # the literal test in the script
grep -q '\[ "$1" = remove \]' "$tmp/ctl/prerm" || fail "prerm stops the units on more than remove"
grep -Eq 'deb-systemd-invoke (try-)?restart|_dh_action=(try-)?restart' "$tmp/ctl/postinst" && fail "postinst restarts the agent on upgrade"
grep -q 'rm -rf /var/lib/vdpa-agent' "$tmp/ctl/postrm" || fail "postrm purge leaves /var/lib/vdpa-agent"

# ---- hardening -------------------------------------------------------------------
for deb in "$main" "$simd"; do
	rm -rf "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x"
	for b in "$tmp"/x/usr/sbin/* "$tmp"/x/usr/bin/*; do
		[ -f "$b" ] || continue
		n=${b#"$tmp"/x}
		readelf -d "$b" | grep -q 'FLAGS.*BIND_NOW' || fail "$n: no bindnow"
		readelf -d "$b" | grep -q 'FLAGS_1.*PIE' || fail "$n: not PIE"
		readelf -lW "$b" | grep -q GNU_RELRO || fail "$n: no relro"
		nm -D "$b" | grep -q '__[a-z_]*_chk@' || fail "$n: no fortified function (no _FORTIFY_SOURCE?)"
	done
done

[ $rc -eq 0 ] && echo "check-deb: $(basename "$main") and $(basename "$simd") as documented"
exit $rc
