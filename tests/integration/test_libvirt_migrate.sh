#!/usr/bin/env bash
# libvirt mode of "vdpa-migrate migrate", end to end: a real live migration
# between two libvirtds on this one machine, each with its own vdpa-agentd
# and the hook installed.
#
#   host "src": the domain's vhost-user interface is served by an accel port
#               (the hook's prepare creates it on the agent, backend=accel on
#               a vdpa-simd whose wire is a tap on the test's bridge);
#   host "dst": the hook's configuration says backend=sw, the port's wire is
#               another tap on the same bridge.
#
# Two migrations, each must exit 0:
#
#   vdpa-migrate migrate DOM --connect SRC_URI --to DST_URI --to-backend sw \
#                --socket-dir DST_SOCKDIR      (the CLI rewrites the XML)
#   vdpa-migrate migrate DOM --connect DST_URI --to SRC_URI
#                                              (src's hook rewrites it)
#
# and after each: the domain runs on the destination (persistent) and is
# gone from the source; its XML there has the interface in the
# destination's socket directory; the destination's port (created by its
# hook on "prepare begin") runs, on the engine that host serves (sw, accel),
# with QEMU connected; the source's port was deleted by the source's hook on
# "release end"; the guest answers ping, the requests and replies crossing
# the destination's wire (the source's port is gone).  At the end the guest
# has booted once and its console shows no virtio or kernel errors.
#
# Two libvirtds on one host: libvirt refuses a migration between two that
# share a host UUID (older ones: also a hostname), so each runs in its
# own mount, UTS (hostname vdpa-lvm-NAME) and PID namespace
# (this script again, VDPA_LVM_INSTANCE=NAME, as PID 1 there) with its own
# /etc/libvirt (libvirtd.conf: host_uuid; qemu.conf: root, no security
# driver, stdio_handler = "file" so no virtlogd, and migration_address /
# migration_host: its own address on the test's bridge, as libvirt refuses
# loopback ones), its own /run/libvirt and /var/log/libvirt (bind mounts of
# directories in the test's log directory, so the test reaches each
# libvirtd's socket as qemu+unix:///system?socket=DIR/run/libvirt-sock and
# keeps the QEMU logs), /var/lib/libvirt and /var/cache/libvirt (tmpfs).
# Both share the test's network namespace (the QEMUs' migration stream, the
# bridge, the taps) and the file system outside those directories (the
# guest kernel, the agents' sockets).  Ending a namespace's PID 1 ends
# everything in it, QEMU included; the mount points /run/libvirt,
# /var/lib/libvirt, ... are created when missing and removed afterwards.
set -euo pipefail

. "$(dirname "$0")/libvirt.sh"

# ---- one libvirtd, inside its namespaces (PID 1) --------------------------------
if [ -n "${VDPA_LVM_INSTANCE:-}" ]; then
	dir=$VDPA_LVM_DIR
	hostname "vdpa-lvm-$VDPA_LVM_INSTANCE"
	mount --bind "$dir/etc" /etc/libvirt
	mount --bind "$dir/run" /run/libvirt
	mount --bind "$dir/log" /var/log/libvirt
	mount -t tmpfs -o mode=0755 vdpa-lvm /var/lib/libvirt
	mount -t tmpfs -o mode=0755 vdpa-lvm /var/cache/libvirt
	libvirt_libvirtd "$dir" /run/libvirt/libvirtd.pid </dev/null &
	lvpid=$!
	# PID 1 gets only the signals it handles; TERM stops libvirtd, and
	# when this shell ends the kernel ends the rest of the namespace.
	trap 'kill -TERM $lvpid 2>/dev/null' TERM
	wait $lvpid || wait $lvpid || true
	exit 0
fi

# ---- the test -------------------------------------------------------------------
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

for t in libvirtd virsh unshare ip busybox qemu-system-x86_64; do
	command -v "$t" >/dev/null 2>&1 ||
		{ echo "SKIP: $t is not installed (contrib/install-deps.sh)"; exit 77; }
done
libvirt_qemu_user || fail "no user libvirt-qemu"
lib_on_cleanup libvirt_remove_mount_points
libvirt_mount_points || fail "cannot make the mount points"

HOST_IP=10.86.0.1 GUEST_IP=10.86.0.2 MAC=52:54:00:86:00:02
declare -A LV_IP=([src]=10.86.0.11 [dst]=10.86.0.12)
declare -A LV_UUID=([src]=8a3c1f52-6d2e-4b7a-9f10-5c1d2e3f4a01 [dst]=8a3c1f52-6d2e-4b7a-9f10-5c1d2e3f4a02)
PORT=lvm-net0
DOM=vdpa-lvm-$$

NS=$(lib_unique net)
netns_create "$NS"
netns_add_bridge "$NS" br0 "$HOST_IP/24"
for inst in src dst; do ip -n "$NS" addr add "${LV_IP[$inst]}/24" dev br0; done

# The wires, all ports of one bridge: src's accelerator (vdpa-simd) and
# dst's port.  dst's tap exists before the hook creates the port (the agent
# attaches to it), so it is on the bridge when the guest arrives.
TAP_SIMD=lvx$$ TAP_DST=lvd$$
simd_start sim --netns "$NS" -- --wire "tap:$TAP_SIMD"
netns_bridge_port "$NS" br0 "$TAP_SIMD"
netns_add_tap "$NS" "$TAP_DST"
netns_bridge_port "$NS" br0 "$TAP_DST"
agent_start src --netns "$NS"
agent_start dst --netns "$NS"
SRC_RT=$(agent_rt src) DST_RT=$(agent_rt dst)

# ---- the two libvirtds ------------------------------------------------------------
lv_dir() { echo "$TEST_DIR/$1.lv"; }
lv_uri() { echo "qemu+unix:///system?socket=$(lv_dir "$1")/run/libvirt-sock"; }
lv() { local inst=$1; shift; libvirt_virsh "$(lv_uri "$inst")" "$@"; }
declare -A LV_PID=()

lv_setup() { # NAME HOOK_CONFIG
	local inst=$1 d
	d=$(lv_dir "$inst")
	mkdir -p "$d/run" "$d/log"
	libvirt_instance_setup "$d/etc" "$2" 'stdio_handler = "file"' \
		"migration_address = \"${LV_IP[$inst]}\"" "migration_host = \"${LV_IP[$inst]}\""
	echo "host_uuid = \"${LV_UUID[$inst]}\"" >"$d/etc/libvirtd.conf"
}

lv_start() { # NAME
	local inst=$1 d pid
	d=$(lv_dir "$inst")
	VDPA_LVM_INSTANCE=$inst VDPA_LVM_DIR=$d VDPA_BUILD=$VDPA_BUILD \
		ip netns exec "$NS" unshare --mount --uts --pid --fork --kill-child --mount-proc \
		--propagation private -- bash "$0" >"$d/libvirtd.log" 2>&1 </dev/null &
	pid=$!
	LV_PID[$inst]=$pid
	lib_on_cleanup lv_stop "$inst"
	libvirt_wait_up "libvirtd $inst" "$pid" "$d" "$(lv_uri "$inst")"
	log "libvirtd $inst: up (unshare pid $pid, $(lv "$inst" hostname))"
}

# Destroys the domain there (if any), then ends the namespace: TERM to its
# PID 1 (the shell above stops libvirtd and returns), KILL to unshare after
# 5 s, which KILLs that PID 1 and so everything in the namespace.
lv_stop() { # NAME
	local inst=$1 pid=${LV_PID[$1]} init
	lv "$inst" destroy "$DOM" >/dev/null 2>&1 || true
	lv "$inst" undefine "$DOM" >/dev/null 2>&1 || true
	init=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null) || true
	init=${init%% *}
	[ -z "$init" ] || kill -TERM "$init" 2>/dev/null || true
	lib_wait_for 5 eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

lv_setup src "agent = unix:$SRC_RT/control.sock
socket-dir = $SRC_RT
backend = accel
device = vfio-user:$(simd_sock sim)"
lv_setup dst "agent = unix:$DST_RT/control.sock
socket-dir = $DST_RT
backend = sw
endpoint = tap:$TAP_DST"
lv_start src
lv_start dst

# ---- the domain, on src ------------------------------------------------------------
libvirt_domain_xml --console-append "$DOM" "$MAC" "$PORT" "$SRC_RT/$PORT.sock" \
	"$TEST_DIR/console.log" "vdpa.ip=$GUEST_IP/24" >"$TEST_DIR/$DOM.xml"

port_json() { agent_cli "$1" -j port show "$PORT" 2>&1 | tr -d ' \n'; }
port_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$1" | head -n1; }
wire_stat() { # TAP rx_packets|tx_packets: the tap's counter (rx: from the guest)
	netns_exec "$NS" cat "/sys/class/net/$1/statistics/$2"
}
running_on() { [ "$(port_field "$(port_json "$1")" state)" = running ]; }

libvirt_define_start "$(lv_uri src)" "$TEST_DIR/$DOM.xml" "$DOM" "$(lv_dir src)/log/qemu" src
libvirt_wait_guest "$TEST_DIR/console.log"
lib_wait_for 20 running_on src || fail "src port $PORT does not run: $(port_json src)"
src_port=$(port_json src)
[ "$(port_field "$src_port" engine)" = accel ] ||
	fail "src port $PORT is not on the accelerator: $src_port"
agent_cli dst port show "$PORT" >/dev/null 2>&1 && fail "dst has port $PORT before the migration"
netns_exec "$NS" busybox ping -c 1 -W 5 "$GUEST_IP" >/dev/null ||
	fail "the guest does not answer ping before the migration"
log "ok: $DOM runs on src, port $PORT on the accelerator, the guest answers ping"

# ---- the migrations ------------------------------------------------------------------
declare -A ENGINE=([src]=accel [dst]=sw) RT=([src]=$SRC_RT [dst]=$DST_RT) \
	WIRE=([src]=$TAP_SIMD [dst]=$TAP_DST)

# lv_migrate FROM TO [ARGS...]: vdpa-migrate migrate, libvirt mode, from
# FROM's libvirtd to TO's; must exit 0.
lv_migrate() {
	local from=$1 to=$2 t0 rc=0 dt; shift 2
	t0=$(lib_now_cs)
	"$VMCLI" migrate "$DOM" --connect "$(lv_uri "$from")" --to "$(lv_uri "$to")" "$@" \
		>"$TEST_DIR/migrate-$from-$to.out" 2>"$TEST_DIR/migrate-$from-$to.err" || rc=$?
	dt=$(( $(lib_now_cs) - t0 ))
	sed 's/^/    | /' "$TEST_DIR/migrate-$from-$to.err" >&2
	if [ $rc -ne 0 ]; then
		tail -n 5 "$(lv_dir "$from")/log/qemu/$DOM.log" "$(lv_dir "$to")/log/qemu/$DOM.log" \
			"$(lv_dir "$from")/libvirtd-errors.log" "$(lv_dir "$to")/libvirtd-errors.log" >&2 2>/dev/null || true
		fail "vdpa-migrate migrate $from -> $to exited $rc"
	fi
	log "ok: vdpa-migrate migrate $from -> $to exited 0 after $((dt / 100)).$(printf %02d $((dt % 100))) s"
}

# lv_check_moved FROM TO: the domain and its port are on TO, gone from FROM,
# and the guest answers through TO's port.
lv_check_moved() {
	local from=$1 to=$2 show conns out tap to_guest from_guest
	# The domain: running and persistent on TO, gone from FROM.
	[ "$(lv "$to" domstate "$DOM")" = running ] ||
		fail "$DOM is not running on $to: $(lv "$to" domstate "$DOM" 2>&1)"
	lv "$to" dominfo "$DOM" | grep -q '^Persistent: *yes' || fail "$DOM is not persistent on $to"
	if lv "$from" domstate "$DOM" >/dev/null 2>&1; then
		fail "$DOM is still on $from: $(lv "$from" domstate "$DOM")"
	fi
	lv "$to" dumpxml "$DOM" >"$TEST_DIR/$to.xml"
	grep -q "<source type='unix' path='${RT[$to]}/$PORT.sock' mode='client'/>" "$TEST_DIR/$to.xml" ||
		fail "on $to the interface is not on ${RT[$to]}/$PORT.sock: $(grep -A4 '<interface' "$TEST_DIR/$to.xml")"
	log "ok: $DOM runs on $to (persistent) with its interface in $to's socket directory, and is gone from $from"

	# TO's port: made by TO's hook (prepare begin), on TO's engine, QEMU
	# connected, running.
	lib_wait_for 10 running_on "$to" || fail "$to's port $PORT does not run: $(port_json "$to")"
	show=$(port_json "$to")
	[ "$(port_field "$show" engine)" = "${ENGINE[$to]}" ] ||
		fail "$to's port $PORT is not on the ${ENGINE[$to]} engine: $show"
	grep -q "\"mac\":\"$MAC\"" <<<"$show" || fail "$to's port $PORT has not the domain's mac: $show"
	conns=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<<"$show")
	expect "QEMU connections to $to's port" "${conns:-0}" -ge 1
	log "ok: $to's port $PORT runs on the ${ENGINE[$to]} engine"

	# FROM's port: deleted by FROM's hook (release end).
	lib_wait_for 10 eval "! agent_cli $from port show $PORT >/dev/null 2>&1" ||
		fail "$from's hook did not delete port $PORT: $(port_json "$from")"
	out=$(agent_cli "$from" port show "$PORT" 2>&1) || true
	grep -q "no port named" <<<"$out" || fail "$from: port show $PORT: $out"
	log "ok: $from's port $PORT deleted on release"

	# The guest answers through TO's port (FROM's is gone): the host pings
	# it over the bridge, and TO's wire (the tap of its port or of its
	# accelerator) carries the requests to the guest and the replies back.
	tap=${WIRE[$to]}
	to_guest=$(wire_stat "$tap" tx_packets) from_guest=$(wire_stat "$tap" rx_packets)
	out=$(netns_exec "$NS" busybox ping -c 5 -W 5 "$GUEST_IP" 2>&1) ||
		fail "the guest does not answer ping on $to: $out"
	log "ok: the guest answers on $to: $(grep -m1 'packets transmitted' <<<"$out")"
	to_guest=$(( $(wire_stat "$tap" tx_packets) - to_guest ))
	from_guest=$(( $(wire_stat "$tap" rx_packets) - from_guest ))
	expect "frames to the guest on $to's wire $tap during the ping" "$to_guest" -ge 5
	expect "frames from the guest on $to's wire $tap during the ping" "$from_guest" -ge 5
}

# src (accel) -> dst (sw): the CLI rewrites the interface for dst.
lv_migrate src dst --to-backend sw --socket-dir "$DST_RT"
grep -q "with the rewritten domain XML" "$TEST_DIR/migrate-src-dst.err" ||
	fail "--to-backend sw did not pass a rewritten XML"
lv_check_moved src dst
# The persistent definition moved rewritten too (VIR_MIGRATE_PARAM_PERSIST_XML):
# dst's next start uses its own socket directory, not src's.
grep -q "and persistent definition" "$TEST_DIR/migrate-src-dst.err" ||
	fail "--to-backend sw did not pass a rewritten persistent definition"
lv dst dumpxml --inactive "$DOM" >"$TEST_DIR/dst-inactive.xml"
grep -q "<source type='unix' path='$DST_RT/$PORT.sock' mode='client'/>" "$TEST_DIR/dst-inactive.xml" ||
	fail "dst's persistent definition is not on $DST_RT/$PORT.sock: $(grep -A4 '<interface' "$TEST_DIR/dst-inactive.xml")"
log "ok: dst's persistent definition has the interface in dst's socket directory"

# dst (sw) -> src (accel), the XML as it is: src's hook (migrate begin)
# moves the interface into src's socket directory, its prepare makes the
# accel port on the simulated accelerator again.
lv_migrate dst src
grep -q "with the rewritten domain XML" "$TEST_DIR/migrate-dst-src.err" &&
	fail "without --to-backend the CLI rewrote the XML"
lv_check_moved dst src

# One boot: the guest moved, it was not started again.
boots=$(grep -c '^VDPA-GUEST-READY' "$TEST_DIR/console.log" || true)
expect "boots on the guest's console" "$boots" -eq 1
# As vm_check_console; "PCI INT A: no GSI" is how this guest boots in
# libvirt's q35 layout (test_libvirtd.sh's console has it too).
bad=$(tr -d '\r' <"$TEST_DIR/console.log" | grep -v 'PCI INT A: no GSI' |
	grep -E '^\[ *[0-9]+\.[0-9]+\] .*(virtio|BUG|WARNING|Oops|Call Trace|panic|failover)|VDPA-GUEST-ERROR|VDPA-GUEST-SHELL-RESTART' || true)
[ -z "$bad" ] || fail "errors on the guest's console: $bad"

agent_check_alive src
agent_check_alive dst
log "PASS"
