#!/usr/bin/env bash
# make demo: the main job of vdpa-migrate on this machine, with nothing but
# the repository (run as root; make demo installs and builds first).
#
# Two agents stand for two hosts; their ports' taps sit on one bridge in a
# network namespace of the demo's own.  Host A's port runs on an accelerator
# (vdpa-simd, the simulated one), host B's on the software path.  A VM (QEMU,
# TCG) boots on host A, UDP runs both ways, and "vdpa-migrate migrate" in
# QMP mode moves it to host B: precheck, QEMU's migration with progress, the
# switchover held until host A's agent has quiesced the device and harvested
# its dirty log, and the check that host B's rings resumed where host A's
# stopped.  Then the summary and the traffic checker's verdict.  Everything
# started is stopped.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
export VDPA_BUILD=$build
here=$(cd "$(dirname "$0")/.." && pwd)

echo "== vdpa-agentd --self-check"
rt=$(mktemp -d /tmp/vdpa-demo-check.XXXXXX)
"$build/vdpa-agentd" --self-check --runtime-dir "$rt"
rm -rf "$rt"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: the migration part needs root (network namespaces, taps); stopping here"
	exit 0
fi

# The integration test helpers do the plumbing (namespaces, QEMU, cleanup).
. "$here/tests/integration/lib.sh"
. "$here/tests/integration/agent.sh"
# QEMU 10 from Debian 12's backports suite when it can be fetched (what
# current distributions run; Debian 12's own 7.2 can lose guest writes in
# TCG migrations), else the system's QEMU.
echo "== fetching QEMU 10 from the backports suite (cached in ~/.cache/vdpa-migrate)"
if VDPA_QEMU10_DIR=$("$here/tests/qemu/fetch-qemu.sh" | tail -n1) && [ -n "$VDPA_QEMU10_DIR" ]; then
	export VDPA_QEMU=10 VDPA_QEMU10_DIR
else
	echo "   cannot fetch it: the demo runs the system's QEMU"
	export VDPA_QEMU=system
fi
echo "== preparing the test guest (cached in ~/.cache/vdpa-migrate)"
lib_init
echo "== QEMU: $QEMU_VERSION ($QEMU_BIN)"
RATE=2000 HOST_IP=10.81.0.1 GUEST_IP=10.81.0.2 MAC=52:54:00:81:00:02

NS=$(lib_unique net)
netns_create "$NS"
netns_add_bridge "$NS" br0 "$HOST_IP/24"
simd_start simA --netns "$NS" -- --wire "tap:dS$$" --queues 1
netns_bridge_port "$NS" br0 "dS$$"
agent_start A --netns "$NS" -- --port "name=vm1-net0,socket=$(agent_sock A vm1-net0),endpoint=tap:dA$$,backend=accel,device=vfio-user:$(simd_sock simA)"
agent_start B --netns "$NS" -- --port "name=vm1-net0,socket=$(agent_sock B vm1-net0),endpoint=tap:dB$$"
netns_bridge_port "$NS" br0 "dA$$"
netns_bridge_port "$NS" br0 "dB$$"

vm_on() { # NAME AGENT [QEMU ARGS]
	local name=$1 agent=$2 nic; shift 2
	mapfile -t nic < <(vu_netdev_args n0 "$(agent_sock "$agent" vm1-net0)" "$MAC")
	vm_start "$name" --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}" "$@"
}

echo "== booting the VM on host A (port on the accelerator)"
vm_on vm-a A
vm_wait_ready vm-a 90 || fail "the VM did not boot"
vm_run vm-a "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "the VM cannot reach the host"

echo "== traffic both ways, $RATE datagrams/s each"
lib_bg host-recv netns_exec "$NS" "$TRAFFICCHECK" recv --port 5101 --duration 300 --idle-exit 4 --json
recv_pid=$LIB_PID
vm_send vm-a "trafficcheck recv --port 5201 --duration 300 --idle-exit 4 --json >/tmp/recv.out 2>&1 &"
sleep 1
vm_send vm-a "trafficcheck send --dst $HOST_IP:5101 --rate $RATE --duration 240 --flow 1 >/tmp/send.out 2>&1 & echo \$! >/tmp/send.pid"
lib_bg host-send netns_exec "$NS" "$TRAFFICCHECK" send --dst "$GUEST_IP:5201" --rate $RATE --duration 240 --flow 2
send_pid=$LIB_PID
sleep 3
echo "== vdpa-migrate port show vm1-net0 (host A)"
agent_cli A port show vm1-net0

echo "== host B: QEMU waits for the VM (-incoming defer)"
vm_on vm-b B -incoming defer
vm_wait_qmp "vm-b"
echo "== vdpa-migrate migrate --qmp ... --port vm1-net0 --from A --to B"
mig_ok=0
"$VMCLI" migrate --qmp "$TEST_DIR/vm-a.qmp" --dest-qmp "$TEST_DIR/vm-b.qmp" \
	--to-uri "unix:$TEST_DIR/mig.sock" --downtime-limit 300 \
	--port vm1-net0 --from "$(agent_addr A)" --to "$(agent_addr B)" || mig_ok=$?
[ $mig_ok -eq 0 ] || echo "== vdpa-migrate migrate exited with status $mig_ok"
cur="vm-a"
# Wherever the VM runs now (even after a failed check) is where the traffic
# ends.  The destination reports "running" a moment after the source says
# the migration completed: wait for it rather than asking once.
if lib_wait_for 20 eval "qmp vm-b query-status 2>/dev/null | grep -q '\"status\": \"running\"'"; then
	vm_stop vm-a
	cur="vm-b"
	sleep 3
	echo "   host B's port now:"
	agent_cli B ports
fi

echo "== stopping the traffic"
vm_send "$cur" "kill -TERM \$(cat /tmp/send.pid)"
kill -TERM "$send_pid" 2>/dev/null || true
lib_wait_for 10 grep '^SENT ' "$TEST_DIR/host-send.log" >/dev/null || fail "host sender did not stop"
vm_run "$cur" "i=0; while ! grep TRAFFIC /tmp/recv.out >/dev/null && [ \$i -lt 40 ]; do sleep 0.5; i=\$((i+1)); done" 40 >/dev/null
g_sent=$(vm_run "$cur" "grep SENT /tmp/send.out")
g_recv=$(vm_run "$cur" "grep TRAFFIC /tmp/recv.out")
lib_wait_for 20 eval "! kill -0 $recv_pid 2>/dev/null" || true
h_sent=$(grep '^SENT ' "$TEST_DIR/host-send.log")
h_recv=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1)
echo "== traffic checker verdict"
verdict() { # NAME SENT RECV
	local sent unique corrupt dup
	sent=$(json_field "$2" sent) unique=$(json_field "$3" unique)
	corrupt=$(json_field "$3" corrupt) dup=$(json_field "$3" duplicate)
	printf '   %-14s sent %6d  received %6d  lost %4d  corrupt %d  duplicate %d  longest gap %s ms\n' \
		"$1" "$sent" "$unique" $((sent - unique)) "$corrupt" "$dup" "$(json_field "$3" max_time_gap_ms)"
	[ "$corrupt" -eq 0 ] && [ "$dup" -eq 0 ]
}
ok=$mig_ok
verdict "host -> VM" "$h_sent" "$g_recv" || ok=1
verdict "VM -> host" "$g_sent" "$h_recv" || ok=1
vm_check_console "$cur" || ok=1
vm_stop "$cur"
if [ $ok -eq 0 ]; then
	echo "== demo passed: live migration from the accelerator to software, nothing corrupt, nothing duplicated"
else
	echo "== demo FAILED; logs in $TEST_DIR"
fi
exit $ok
