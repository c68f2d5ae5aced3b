#!/usr/bin/env bash
# lanes: system 10
# A live port moves between its accelerator and software while traffic runs
# both ways (vdpa-migrate switch, each way), then the accelerator dies
# (vdpa-simd killed) and the port falls back to software by itself.  Traffic
# goes on throughout: 0 corrupt, bounded loss, 0 duplicate through the
# switches and at most a transmit ring's worth resent after the death.
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

traffic_start g "$NS" "$HOST_IP" "$GUEST_IP" "$RATE"
sleep 3

flowing() { # WHAT: the host hears a second's worth of the guest's datagrams
	local before
	before=$(traffic_host_received)
	lib_wait_for 30 eval "[ \$(traffic_host_received) -gt $((before + RATE)) ]" ||
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

# Clean switches send nothing twice.  A device that dies cannot say which
# of the transmit buffers it had taken it sent: the software path resumes
# at the used index the device last published, so a buffer it sent and did
# not complete is sent again (never lost), at most a ring of them.
TX_RING=$(agent_cli A -j port show p0 | grep -o '"size":[0-9]*' | cut -d: -f2 | sort -n | tail -n1)
[ -n "$TX_RING" ] || fail "port show gives no ring size"
expect "guest -> host duplicate before the accelerator died" "$(traffic_host_field duplicate)" -eq 0
log "killing vdpa-simd"
kill -KILL "${SIMD_PID[sim]}"
lib_wait_for 10 eval '[ "$(engine)" = sw ]' || fail "the port did not fall back: $(engine)"
expect "fallbacks" "$(field fallbacks)" -ge 1
grep 'falling back to software' "$TEST_DIR/agent-A.log" >/dev/null || fail "the fallback is not logged"
flowing "after the accelerator died"

# Three switches: at most a second of traffic each.
traffic_stop_check g "$GUEST_IP" $((3 * RATE)) "$TX_RING"
vm_check_console g || fail "errors on the guest console"
agent_check_alive A
vm_stop g
log "PASS"
