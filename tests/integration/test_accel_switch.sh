#!/usr/bin/env bash
# A live port moves between its accelerator and software while traffic runs
# both ways (vdpa-migrate switch, each way), then the accelerator dies
# (vdpa-simd killed) and the port falls back to software by itself.  Traffic
# goes on throughout: 0 corrupt, 0 duplicate, bounded loss.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

RATE=2000
HOST_IP=10.82.0.1 GUEST_IP=10.82.0.2 MAC=52:54:00:82:00:02

NS=$(lib_unique net)
netns_create "$NS"
netns_add_bridge "$NS" br0 "$HOST_IP/24"
simd_start sim --netns "$NS" -- --wire "tap:s$$"
netns_bridge_port "$NS" br0 "s$$"
agent_start A --netns "$NS" -- \
	--port "name=p0,socket=$(agent_sock A p0),endpoint=tap:t$$,backend=accel,device=vfio-user:$(simd_sock sim)"
netns_bridge_port "$NS" br0 "t$$"

mapfile -t nic < <(vu_netdev_args n0 "$(agent_sock A p0)" "$MAC")
vm_start g --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}"
vm_wait_ready g 90 || fail "guest did not boot"
vm_run g "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"

engine() { agent_cli A -j port show p0 | tr -d ' \n' | sed -n 's/.*"engine":"\([a-z]*\)".*/\1/p'; }
field() { agent_cli A -j port show p0 | tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
[ "$(engine)" = accel ] || fail "the port does not run on the accelerator: $(engine)"

lib_bg host-recv netns_exec "$NS" "$TRAFFICCHECK" recv --port 5101 --duration 300 --idle-exit 4 --json
vm_send g "trafficcheck recv --port 5201 --duration 300 --idle-exit 4 --json >/tmp/recv.out 2>&1 &"
sleep 1
vm_send g "trafficcheck send --dst $HOST_IP:5101 --rate $RATE --duration 240 --flow 1 >/tmp/send.out 2>&1 & echo \$! >/tmp/send.pid"
lib_bg host-send netns_exec "$NS" "$TRAFFICCHECK" send --dst "$GUEST_IP:5201" --rate $RATE --duration 240 --flow 2
sleep 3

host_received() {
	local line v
	pkill -USR1 -f "trafficcheck recv --port 5101" || true
	sleep 0.3
	line=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1 || true)
	v=$(printf '%s' "$line" | sed -n 's/.*"received":\([0-9]*\).*/\1/p')
	echo "${v:-0}"
}
flowing() { # WHAT: the host hears the guest within 10 s
	local before
	before=$(host_received)
	lib_wait_for 10 eval "[ \$(host_received) -gt $((before + RATE)) ]" ||
		fail "traffic stopped $1"
	log "ok: traffic flows $1"
}
flowing "on the accelerator"

out=$(agent_cli A switch p0 --to sw) || fail "switch to sw failed: $out"
log "switch to software: $out"
[ "$(engine)" = sw ] || fail "not on software after the switch"
flowing "after the switch to software"

out=$(agent_cli A switch p0 --to accel) || fail "switch to accel failed: $out"
log "switch to the accelerator: $out"
[ "$(engine)" = accel ] || fail "not on the accelerator after the switch"
flowing "after the switch back to the accelerator"

log "killing vdpa-simd"
kill -KILL "${SIMD_PID[sim]}"
lib_wait_for 10 eval '[ "$(engine)" = sw ]' || fail "the port did not fall back: $(engine)"
expect "fallbacks" "$(field fallbacks)" -ge 1
grep 'falling back to software' "$TEST_DIR/agent-A.log" >/dev/null || fail "the fallback is not logged"
flowing "after the accelerator died"

vm_send g "kill -TERM \$(cat /tmp/send.pid)"
pkill -TERM -f "trafficcheck send --dst $GUEST_IP:5201" || true
lib_wait_for 10 grep '^SENT ' "$TEST_DIR/host-send.log" >/dev/null || fail "host sender did not stop"
vm_run g "i=0; while ! grep TRAFFIC /tmp/recv.out >/dev/null && [ \$i -lt 40 ]; do sleep 0.5; i=\$((i+1)); done" 40 ||
	fail "guest shell does not answer"
g_recv=$(vm_run g "grep TRAFFIC /tmp/recv.out") || fail "guest receiver did not finish"
lib_wait_for 20 eval "! pgrep -f 'trafficcheck recv --port 5101' >/dev/null" || true
h_recv=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1)
log "host -> guest: $g_recv"
log "guest -> host: $h_recv"
for r in "$g_recv" "$h_recv"; do
	expect "corrupt" "$(json_field "$r" corrupt)" -eq 0
	expect "duplicate" "$(json_field "$r" duplicate)" -eq 0
	# Three switches: at most a second of traffic each.
	expect "lost" "$(json_field "$r" lost)" -le $((3 * RATE))
done
vm_check_console g || fail "errors on the guest console"
agent_check_alive A
vm_stop g
log "PASS"
