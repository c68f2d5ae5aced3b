#!/bin/bash
# Runs inside the Debian 12 system that tests/debian/test_debian.sh boots
# (systemd as PID 1), from the payload disk mounted on /payload, which also
# holds the packages under test (debs/).  Each check writes "ok: ..." or
# "FAIL: ..." to /payload/result; the last line is PASS or FAIL.  The host
# reads the file after the system powered off.
set -u
P=/payload
R=$P/result
: >"$R"
say() { echo "$*" >>"$R"; echo "vdpa-debian: $*" >/dev/console; sync; }
ok() { say "ok: $*"; }
fail() {
	say "FAIL: $*"
	{ echo "--- journal of vdpa-agentd"; journalctl -b -u vdpa-agentd -u vdpa-agentd.socket --no-pager | tail -n 60
	  echo "--- journal of libvirtd"; journalctl -b -u libvirtd --no-pager | tail -n 40; } >"$P/journal.txt" 2>&1
	say FAIL
	exit 1
}
# wait_for SECS CMD...: until CMD succeeds (a bound for a system gone
# wrong, not a deadline the product must meet).
wait_for() {
	local n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}
show() { systemctl show -p "$2" --value "$1"; }
cli() { vdpa-migrate "$@"; }

# ---- the system ----------------------------------------------------------------
[ "$(ps -o comm= -p 1)" = systemd ] || fail "PID 1 is $(ps -o comm= -p 1), not systemd"
state=$(timeout 600 systemctl is-system-running --wait 2>/dev/null)
ok "systemd is PID 1, system $state ($(systemctl --version | head -n1))"
[ -z "$(systemctl list-units --failed --plain --no-legend)" ] ||
	say "note: failed units before the install: $(systemctl list-units --failed --plain --no-legend | tr '\n' ' ')"

# Users of the permission checks, and the domain libvirtd will start,
# before the snapshot of the file system the purge must return to.
useradd -m alice
useradd -m bob
systemctl start libvirtd.service || fail "libvirtd does not start"
virsh -q define "$P/domain.xml" >/dev/null || fail "virsh define failed"
snapshot() {
	{ snapshot_unsorted; } | LC_ALL=C sort
}
snapshot_unsorted() {
	find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /var/tmp \
		-o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/apt \
		-o -path /var/lib/systemd/timers -o -path /var/lib/systemd/random-seed \
		-o -path /var/lib/systemd/catalog -o -path /var/lib/libvirt -o -path /etc/libvirt/qemu \
		-o -path /payload -o -path /home -o -path /root -o -path /lost+found \) -prune -o -print
	find /run -path /run/udev -prune -o -path /run/systemd -prune -o -path /run/log -prune \
		-o -path /run/libvirt -prune -o -path /run/user -prune -o -name '*vdpa*' -print
}
snapshot >/tmp/before

# ---- install -------------------------------------------------------------------
debs=("$P"/debs/vdpa-migrate_*.deb "$P"/debs/vdpa-simd_*.deb)
if ! apt-get install -y -q "${debs[@]}" >"$P/apt.log" 2>&1; then
	fail "apt-get install of $(basename -a "${debs[@]}" | tr '\n' ' ')failed: $(tail -n 3 "$P/apt.log" | tr '\n' ' ')"
fi
ok "installed $(dpkg-query -W -f='${Package} ${Version} ' vdpa-migrate vdpa-simd)"
getent group vdpa-agent >/dev/null || fail "no group vdpa-agent after the install"
ok "group vdpa-agent exists"
for u in vdpa-agentd.socket vdpa-agentd.service; do
	[ "$(systemctl is-enabled "$u")" = enabled ] || fail "$u is $(systemctl is-enabled "$u"), not enabled"
done
wait_for 60 systemctl is-active --quiet vdpa-agentd.service ||
	fail "vdpa-agentd is $(systemctl is-active vdpa-agentd.service) after the install"
[ "$(show vdpa-agentd Type)" = notify ] || fail "the unit is not Type=notify"
ok "vdpa-agentd.service active (Type=notify: it said READY), status: $(show vdpa-agentd StatusText)"
# The snapshot sees what the packages install (so that the purge check can fail).
snapshot >/tmp/installed
n=$(LC_ALL=C comm -13 /tmp/before /tmp/installed | grep -c -x -e /usr/sbin/vdpa-agentd -e /etc/vdpa-agentd.conf \
	-e /etc/libvirt/hooks/vdpa-migrate.conf -e /run/vdpa-agent -e /usr/lib/systemd/system/vdpa-agentd.service)
[ "$n" -eq 5 ] || fail "the file system snapshot misses what the packages installed ($n of 5 paths): $(LC_ALL=C comm -13 /tmp/before /tmp/installed | tr '\n' ' ')"

# ---- the sandbox, as systemd rates it (the unit's hardening must not erode) ----
exposure=$(systemd-analyze security vdpa-agentd.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for vdpa-agentd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure level $exposure (more than 2.0): the unit's sandbox got weaker"
ok "systemd-analyze security: exposure $exposure"

# ---- the watchdog: a shorter period, and the agent is still the same process ----
mkdir -p /etc/systemd/system/vdpa-agentd.service.d
printf '[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/vdpa-agentd.service.d/test-watchdog.conf
systemctl daemon-reload
systemctl restart vdpa-agentd.service || fail "restart with WatchdogSec=3s failed"
pid=$(show vdpa-agentd MainPID) restarts=$(show vdpa-agentd NRestarts)
t0=$(show vdpa-agentd WatchdogTimestampMonotonic)
sleep 10   # more than three periods: without pings systemd kills it after one
[ "$(show vdpa-agentd MainPID)" = "$pid" ] && [ "$(show vdpa-agentd NRestarts)" = "$restarts" ] ||
	fail "the agent was restarted under WatchdogSec=3s (pid $pid -> $(show vdpa-agentd MainPID)): no watchdog pings"
t1=$(show vdpa-agentd WatchdogTimestampMonotonic)
[ "${t1:-0}" -gt "${t0:-0}" ] || fail "no watchdog ping recorded in 10 s (WatchdogTimestamp $t0 -> $t1)"
ok "watchdog: WatchdogSec=3s, same pid $pid after 10 s, last ping $(((t1 - t0) / 1000)) ms after the first seen"
rm -rf /etc/systemd/system/vdpa-agentd.service.d
systemctl daemon-reload

# ---- the control socket: root and the group vdpa-agent, nobody else -------------
perm=$(stat -c '%A %U %G' /run/vdpa-agent/control.sock)
[ "$perm" = "srw-rw---- root vdpa-agent" ] || fail "control socket is $perm"
if out=$(runuser -u alice -- vdpa-migrate ports 2>&1); then
	fail "alice (not in vdpa-agent) may use the control socket: $out"
fi
grep -qi 'permission denied' <<<"$out" || fail "alice is refused without saying why: $out"
ok "alice is refused: $out"
usermod -a -G vdpa-agent bob
out=$(runuser -u bob -- vdpa-migrate ports 2>&1) || fail "bob (in vdpa-agent) is refused: $out"
ok "bob (in vdpa-agent) lists the ports"

# ---- reload: a port added to the configuration file -----------------------------
pid=$(show vdpa-agentd MainPID)
cat >>/etc/vdpa-agentd.conf <<'EOF'

[port cfg0]
socket = /run/vdpa-agent/cfg0.sock
socket-group = libvirt-qemu
socket-mode = 0660
endpoint = null
EOF
systemctl reload vdpa-agentd.service || fail "systemctl reload failed"
wait_for 30 eval 'vdpa-migrate ports | grep -qw cfg0' || fail "reload did not add port cfg0: $(vdpa-migrate ports 2>&1)"
[ "$(show vdpa-agentd MainPID)" = "$pid" ] || fail "reload restarted the agent"
ok "systemctl reload added port cfg0 (same pid $pid)"

# ---- a port's socket for libvirt's QEMU user -------------------------------------
s=/run/vdpa-agent/cfg0.sock
perm=$(stat -c '%A %U %G' "$s")
[ "$perm" = "srw-rw---- root libvirt-qemu" ] || fail "cfg0's socket is $perm"
runuser -u libvirt-qemu -- socat -u OPEN:/dev/null "UNIX-CONNECT:$s" 2>"$P/socat.err" ||
	fail "libvirt-qemu cannot connect to $s: $(cat "$P/socat.err")"
runuser -u alice -- socat -u OPEN:/dev/null "UNIX-CONNECT:$s" 2>/dev/null &&
	fail "alice can connect to $s"
ok "libvirt-qemu connects to $s, alice cannot"

# ---- libvirtd: a domain whose port the hook creates --------------------------------
[ -L /etc/libvirt/hooks/qemu.d/50-vdpa-migrate ] || fail "the hook is not installed"
# libvirtd looks for hooks when it starts (and on SIGHUP).
systemctl restart libvirtd.service || fail "libvirtd does not restart"
vdpa-migrate ports | grep -qw lv0 && fail "port lv0 exists before the domain starts"
if ! virsh -q start vdpa-debian-dom >"$P/virsh.log" 2>&1; then
	fail "virsh start failed: $(cat "$P/virsh.log"; tail -n 5 /var/log/libvirt/qemu/vdpa-debian-dom.log 2>/dev/null)"
fi
ok "libvirtd started the domain"
vdpa-migrate ports | grep -qw lv0 || fail "the hook did not create port lv0: $(vdpa-migrate ports 2>&1)"
perm=$(stat -c '%A %U %G' /run/vdpa-agent/lv0.sock)
[ "$perm" = "srw-rw---- root libvirt-qemu" ] ||
	fail "lv0's socket is $perm (the hook's configuration not applied?)"
wait_for 60 eval 'vdpa-migrate -j port show lv0 | grep -q "\"connections\":[1-9]"' ||
	fail "QEMU did not connect to lv0: $(vdpa-migrate port show lv0 2>&1 | head -n 20)"
qpid=$(cat /run/libvirt/qemu/vdpa-debian-dom.pid)
quser=$(ps -o user= -p "$qpid")
[ "$quser" = libvirt-qemu ] || fail "QEMU runs as $quser"
ok "QEMU (pid $qpid, user $quser) connected to port lv0 (state $(vdpa-migrate -j port show lv0 | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'))"
virsh -q destroy vdpa-debian-dom >/dev/null || fail "virsh destroy failed"
wait_for 30 eval '! vdpa-migrate ports | grep -qw lv0' || fail "the hook did not delete port lv0 on release"
ok "destroying the domain deleted port lv0"

# ---- stop keeps the ports added at run time ---------------------------------------
cli port add name=rt0,socket=/run/vdpa-agent/rt0.sock,endpoint=null >/dev/null || fail "port add rt0 failed"
systemctl stop vdpa-agentd.service || fail "systemctl stop failed"
grep -qw rt0 /var/lib/vdpa-agent/ports 2>/dev/null || fail "the state file does not keep rt0 after stop: $(cat /var/lib/vdpa-agent/ports 2>&1)"
ok "systemctl stop left the state file with rt0"
systemctl start vdpa-agentd.service || fail "systemctl start failed"
vdpa-migrate ports | grep -qw rt0 || fail "rt0 is not served again after a start"
ok "rt0 served again after a start"

# ---- purge: nothing left behind ---------------------------------------------------
if ! apt-get purge -y -q vdpa-migrate vdpa-simd >"$P/purge.log" 2>&1; then
	fail "apt-get purge failed: $(tail -n 3 "$P/purge.log" | tr '\n' ' ')"
fi
[ -z "$(dpkg-query -W -f='${Package} ${Status}\n' 'vdpa-*' 2>/dev/null | grep -v not-installed)" ] ||
	fail "dpkg still knows: $(dpkg-query -W 'vdpa-*')"
pgrep -x vdpa-agentd >/dev/null && fail "vdpa-agentd still runs after the purge"
snapshot >/tmp/after
if ! diff /tmp/before /tmp/after >"$P/purge.diff"; then
	fail "the purge left the system different: $(head -n 20 "$P/purge.diff" | tr '\n' ' ')"
fi
left=$(systemctl list-unit-files --no-legend 'vdpa-agentd*' | wc -l)
[ "$left" -eq 0 ] || fail "unit files left: $(systemctl list-unit-files --no-legend 'vdpa-agentd*')"
ok "apt-get purge left nothing behind ($(wc -l </tmp/before) paths as before; the group vdpa-agent stays, as documented)"
say PASS
