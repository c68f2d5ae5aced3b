#!/usr/bin/env bash
# The systemd files as "make install" puts them (systemd/, vdpa-agentd(8)
# "Running under systemd"):
#  - Debian's layout for PREFIX=/usr, ExecStart= naming the installed agent;
#  - systemd-analyze verify is silent on the units (any line it prints is a
#    failure: it exits 0 on an unknown directive), and does complain about
#    a copy with a misspelt directive, so this check can fail;
#  - sysusers.d creates the group the agent and the socket unit name;
#    tmpfiles.d creates an /etc/vdpa-agentd.conf the agent accepts, and
#    leaves an existing one alone;
#  - the socket unit's path, mode and group are the agent's defaults;
#  - the agent runs with nothing but the unit's CapabilityBoundingSet and
#    no-new-privileges, socket-activated as the units do it, with a tap
#    port; without CAP_NET_ADMIN that port is not served (the capability is
#    needed) and the agent goes on without it.
# systemd is not PID 1 here: the sandboxing directives themselves are not
# exercised, only checked by verify.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

W=$TEST_DIR/units
rm -rf "$W"
mkdir -p "$W"
install_to() { # DESTDIR PREFIX [HOOKDIR]
	make -C "$REPO_DIR" --no-print-directory BUILD="$VDPA_BUILD" install \
		DESTDIR="$1" PREFIX="$2" ${3:+HOOKDIR="$3"} >"$W/install.log" 2>&1 ||
		fail "make install DESTDIR=$1 PREFIX=$2 failed: $(tail -5 "$W/install.log")"
}

# ---- Debian layout ----------------------------------------------------------
D=$W/destdir
install_to "$D" /usr
for f in /lib/systemd/system/vdpa-agentd.service /lib/systemd/system/vdpa-agentd.socket \
	/usr/lib/tmpfiles.d/vdpa-agentd.conf /usr/lib/sysusers.d/vdpa-agentd.conf \
	/usr/share/bash-completion/completions/vdpa-migrate \
	/usr/share/doc/vdpa-migrate/vdpa-agentd.conf /usr/sbin/vdpa-agentd /usr/bin/vdpa-migrate; do
	[ -f "$D$f" ] || fail "make install PREFIX=/usr did not install $f"
done
grep -qx 'ExecStart=/usr/sbin/vdpa-agentd --config /etc/vdpa-agentd.conf' \
	"$D/lib/systemd/system/vdpa-agentd.service" || fail "ExecStart= is not the Debian path"
log "ok: Debian layout"

# ---- systemd-analyze verify --------------------------------------------------
# Installed with PREFIX inside the test directory so that ExecStart= names a
# binary that exists; MANPATH lets verify check Documentation= against the
# pages just installed.
P=$W/prefix/usr
# HOOKDIR too: without a DESTDIR the hook would go into this host's /etc.
install_to "" "$P" "$W/prefix/hooks"
U=$P/lib/systemd/system
grep -qx "ExecStart=$P/sbin/vdpa-agentd --config /etc/vdpa-agentd.conf" "$U/vdpa-agentd.service" ||
	fail "ExecStart= does not follow PREFIX: $(grep ExecStart= "$U/vdpa-agentd.service")"
# verify_units DIR: verify DIR's two units; prints what verify said; status 1
# when it said anything or failed.
verify_units() {
	local out rc=0
	out=$(cd "$W" && MANPATH=$P/share/man SYSTEMD_LOG_COLOR=0 \
		systemd-analyze verify "$1/vdpa-agentd.socket" "$1/vdpa-agentd.service" 2>&1) || rc=$?
	printf '%s' "$out"
	[ $rc -eq 0 ] && [ -z "$out" ]
}
out=$(verify_units "$U") || fail "systemd-analyze verify: $out"
log "ok: systemd-analyze verify is silent"

# The same check on a copy with one misspelt directive must fail.
B=$W/broken
mkdir -p "$B"
cp "$U/vdpa-agentd.socket" "$B/"
sed 's/^WatchdogSec=/WatchdogSecs=/' "$U/vdpa-agentd.service" >"$B/vdpa-agentd.service"
if out=$(verify_units "$B"); then
	fail "verify passed a unit with a misspelt directive"
fi
[[ $out == *"WatchdogSecs"* ]] || fail "verify failed, but not on the typo: $out"
log "ok: a typo fails verify: $out"

# ---- sysusers.d, tmpfiles.d ---------------------------------------------------
R=$W/root
mkdir -p "$R/etc"
systemd-sysusers --root="$R" "$D/usr/lib/sysusers.d/vdpa-agentd.conf" >"$W/sysusers.log" 2>&1 ||
	fail "systemd-sysusers: $(cat "$W/sysusers.log")"
grep -q '^vdpa-agent:x:[0-9]*:$' "$R/etc/group" || fail "sysusers did not create group vdpa-agent"
systemd-tmpfiles --root="$R" --create "$D/usr/lib/tmpfiles.d/vdpa-agentd.conf" >"$W/tmpfiles.log" 2>&1 ||
	fail "systemd-tmpfiles: $(cat "$W/tmpfiles.log")"
[ "$(stat -c '%a' "$R/etc/vdpa-agentd.conf")" = 644 ] || fail "the created config is not 0644"
out=$("$AGENTD" --check-config --config "$R/etc/vdpa-agentd.conf") ||
	fail "the agent refuses the config tmpfiles.d creates: $out"
out=$("$AGENTD" --check-config --config "$D/usr/share/doc/vdpa-migrate/vdpa-agentd.conf") ||
	fail "the agent refuses the example config: $out"
printf '[agent]\nlog-level = debug\n' >"$R/etc/vdpa-agentd.conf"
systemd-tmpfiles --root="$R" --create "$D/usr/lib/tmpfiles.d/vdpa-agentd.conf" >/dev/null 2>&1
grep -q debug "$R/etc/vdpa-agentd.conf" || fail "tmpfiles.d overwrote an existing config"
log "ok: sysusers.d group, tmpfiles.d config"

# ---- the units agree with the agent --------------------------------------------
key() { sed -n "s/^$1=//p" "$U/$2"; }
[ "$(key ListenStream vdpa-agentd.socket)" = /run/vdpa-agent/control.sock ] ||
	fail "ListenStream= is not the agent's default control socket"
"$AGENTD" --help | grep -q '(default /run/vdpa-agent)' || fail "the agent's default runtime dir moved"
[ "$(key RuntimeDirectory vdpa-agentd.service)" = vdpa-agent ] || fail "RuntimeDirectory= differs"
[ "$(key SocketMode vdpa-agentd.socket)" = 0660 ] || fail "SocketMode= is not 0660"
[ "$(key SocketGroup vdpa-agentd.socket)" = vdpa-agent ] || fail "SocketGroup= is not vdpa-agent"
grep -q '^#define CTL_GROUP "vdpa-agent"' "$REPO_DIR/agent/daemon/ctl_server.h" || fail "CTL_GROUP changed"
log "ok: socket path, mode and group match the agent"

# ---- capabilities ---------------------------------------------------------------
caps=$(key CapabilityBoundingSet vdpa-agentd.service)
[ -n "$caps" ] || fail "no CapabilityBoundingSet="
bset=-all
for c in $caps; do
	c=${c#CAP_}
	bset+=",+${c,,}"
done
NS=$(lib_unique ns)
netns_create "$NS"
# A group for QEMU's user, as libvirt-qemu is on a libvirt host.
QGROUP=vdpaq$$
groupadd "$QGROUP" || fail "groupadd $QGROUP"
lib_on_cleanup groupdel "$QGROUP"
QGID=$(getent group "$QGROUP" | cut -d: -f3)
# run_capped NAME BSET: the agent socket-activated (as vdpa-agentd.socket
# does) with a tap port and a port with the socket group and mode a libvirt
# host needs, bounding set BSET, no new privileges, umask 0077 (UMask=).
run_capped() {
	local rt=$TEST_DIR/$1.rt
	mkdir -p "$rt"
	lib_bg "$1" ip netns exec "$NS" systemd-socket-activate -l "$rt/control.sock" \
		setpriv --no-new-privs --bounding-set "$2" --inh-caps -all -- \
		sh -c 'umask 0077 && exec "$@"' sh \
		"$AGENTD" --runtime-dir "$rt" --state-dir "$rt" \
		--port "name=t0,socket=$rt/t0.sock,endpoint=tap:vt$$" \
		--port "name=q0,socket=$rt/q0.sock,socket-group=$QGROUP,socket-mode=0660"
}
run_capped capped "$bset"
pid=$LIB_PID
rt=$TEST_DIR/capped.rt
lib_wait_for 5 test -S "$rt/control.sock" || fail "systemd-socket-activate did not listen"
out=$("$VMCLI" --agent "unix:$rt/control.sock" ports 2>&1) ||
	fail "the agent with bounding set $bset does not answer: $out; $(tail -5 "$TEST_DIR/capped.log")"
printf '%s\n' "$out" | grep -qE "^t0 +listening +sw +tap:vt$$" || fail "unexpected ports: $out"
ip -n "$NS" link show "vt$$" >/dev/null || fail "no tap vt$$ in $NS"
# socket-group under the unit's capabilities: QEMU's group may connect.
[ "$(stat -c '%g %a' "$rt/q0.sock")" = "$QGID 660" ] ||
	fail "q0.sock is $(stat -c '%G(%g) %a' "$rt/q0.sock"), expected $QGROUP($QGID) 660: $(tail -5 "$TEST_DIR/capped.log")"
[ "$(stat -c '%a' "$rt/t0.sock")" = 700 ] || fail "t0.sock is not 0700 under umask 0077"
# ip netns exec, systemd-socket-activate (without --accept) and setpriv
# each exec the next: the agent has the pid lib_bg started.
apid=$pid
[ "$(cat "/proc/$apid/comm")" = vdpa-agentd ] || fail "pid $apid is $(cat "/proc/$apid/comm"), not the agent"
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$apid/status")
nnp=$(awk '/^NoNewPrivs/ { print $2 }' "/proc/$apid/status")
log "agent pid $apid: CapBnd $bnd, NoNewPrivs $nnp"
[ "$nnp" = 1 ] || fail "no-new-privileges is not set"
want=0
for c in $caps; do
	case $c in
	CAP_CHOWN) n=0 ;;
	CAP_NET_ADMIN) n=12 ;;
	*) fail "the unit names $c: teach this test its number (capability.h)" ;;
	esac
	want=$((want | (1 << n)))
done
[ $((0x$bnd)) -eq $want ] || fail "bounding set is $bnd, not $caps ($(printf %x $want))"
lib_kill "$pid"
log "ok: the agent works with $caps alone"

run_capped nocaps -all
pid=$LIB_PID
lib_wait_for 5 test -S "$TEST_DIR/nocaps.rt/control.sock" || fail "systemd-socket-activate did not listen"
# The first connection starts the agent; the tap port cannot be served
# and is skipped (the agent itself keeps serving, see vdpa-agentd(8)).
out=$("$VMCLI" --agent "unix:$TEST_DIR/nocaps.rt/control.sock" ports 2>&1) ||
	fail "the agent without capabilities does not answer: $out; $(tail -5 "$TEST_DIR/nocaps.log")"
printf '%s\n' "$out" | grep -q '^t0 ' && fail "the agent served a tap port without CAP_NET_ADMIN: $out"
lib_wait_for 5 grep -q 'TUNSETIFF: Operation not permitted' "$TEST_DIR/nocaps.log" ||
	fail "no TUNSETIFF refusal without CAP_NET_ADMIN: $(tail -5 "$TEST_DIR/nocaps.log")"
grep -q -- '--port name=t0: not served: ' "$TEST_DIR/nocaps.log" ||
	fail "the skipped port is not logged: $(tail -5 "$TEST_DIR/nocaps.log")"
lib_kill "$pid"
log "ok: without CAP_NET_ADMIN the tap port fails"

# Without CAP_CHOWN (the unit before it had it) the socket-group port is
# not served: the mechanism is what makes libvirt's QEMU reach its port.
run_capped nochown -all,+net_admin
pid=$LIB_PID
lib_wait_for 5 test -S "$TEST_DIR/nochown.rt/control.sock" || fail "systemd-socket-activate did not listen"
out=$("$VMCLI" --agent "unix:$TEST_DIR/nochown.rt/control.sock" ports 2>&1) ||
	fail "the agent without CAP_CHOWN does not answer: $out"
printf '%s\n' "$out" | grep -q '^q0 ' && fail "a socket-group port was served without CAP_CHOWN: $out"
grep -q -- "--port name=q0: not served: socket .*chown to group $QGROUP: Operation not permitted" \
	"$TEST_DIR/nochown.log" || fail "no chown refusal without CAP_CHOWN: $(tail -5 "$TEST_DIR/nochown.log")"
lib_kill "$pid"
log "ok: without CAP_CHOWN the socket-group port fails"
log "PASS"
