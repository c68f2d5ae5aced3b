#!/usr/bin/env bash
# A guest on an agent port whose endpoint is a tap in a namespace of the
# test's own: UDP host->guest and guest->host at the same time; both
# receivers see no corrupt and no duplicate datagram and at least 90% of
# what was sent; the agent's port shows the frames on the right rings; the
# guest console shows no virtio errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

RATE=3000 SECS=5
HOST_IP=10.78.0.1 GUEST_IP=10.78.0.2
TO_GUEST_PORT=5001 TO_HOST_PORT=5002

NS=$(lib_unique net)
netns_create "$NS"
TAP=vt$$
agent_start a --netns "$NS" -- --port "name=p0,socket=$(agent_sock a p0),endpoint=tap:$TAP"
netns_exec "$NS" ip addr add "$HOST_IP/24" dev "$TAP"
netns_exec "$NS" ip link set "$TAP" up

mapfile -t nic < <(vu_netdev_args n0 "$(agent_sock a p0)")
vm_start g --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}"
vm_wait_ready g 60 || fail "guest did not boot"
vm_run g "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"

lib_bg host-recv netns_exec "$NS" "$TRAFFICCHECK" recv --port $TO_HOST_PORT \
	--duration $((SECS + 3)) --idle-exit 1.5 --json
host_recv=$LIB_PID
from=$(vm_console_offset g)
vm_send g "trafficcheck recv --port $TO_GUEST_PORT --duration $((SECS + 3)) --idle-exit 1.5 --json &"
vm_wait_console g '^RECV-READY' 10 "$from" >/dev/null || fail "guest receiver did not start"
lib_wait_for 5 grep -q '^RECV-READY' "$TEST_DIR/host-recv.log" || fail "host receiver did not start"

log "traffic both ways: $RATE pps for ${SECS}s"
vm_send g "trafficcheck send --dst $HOST_IP:$TO_HOST_PORT --rate $RATE --duration $SECS --flow 2 &"
lib_bg host-send netns_exec "$NS" "$TRAFFICCHECK" send --dst "$GUEST_IP:$TO_GUEST_PORT" \
	--rate $RATE --duration $SECS --flow 1
host_send=$LIB_PID

wait "$host_send" || fail "host sender failed: $(cat "$TEST_DIR/host-send.log")"
host_sent=$(grep '^SENT ' "$TEST_DIR/host-send.log") || fail "host sender printed no SENT line"
guest_sent=$(vm_wait_console g '^SENT ' 10 "$from") || fail "guest sender printed no SENT line"
guest_traffic=$(vm_wait_console g '^TRAFFIC ' 15 "$from") || fail "guest receiver printed no TRAFFIC line"
wait "$host_recv" || fail "host receiver failed"
host_traffic=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log") || fail "host receiver printed no TRAFFIC line"
log "host -> guest: $host_sent"
log "         got : $guest_traffic"
log "guest -> host: $guest_sent"
log "         got : $host_traffic"

check_direction() { # DIRECTION SENT_LINE TRAFFIC_LINE
	local sent recv
	sent=$(json_field "$2" sent)
	recv=$(json_field "$3" received)
	expect "$1 sent" "$sent" -ge $((RATE * SECS * 8 / 10))
	expect "$1 corrupt" "$(json_field "$3" corrupt)" -eq 0
	expect "$1 duplicate" "$(json_field "$3" duplicate)" -eq 0
	expect "$1 received x10" $((recv * 10)) -gt $((sent * 9))
}
check_direction "host->guest" "$host_sent" "$guest_traffic"
check_direction "guest->host" "$guest_sent" "$host_traffic"

# The agent saw the same traffic on the right rings: ring 0 carries
# host->guest (RX), ring 1 guest->host (TX).
show=$(agent_cli a -j port show p0) || fail "port show failed"
printf '%s\n' "$show" >"$TEST_DIR/port-show.json"
rx_frames=$(printf '%s' "$show" | tr -d ' \n' | sed -n 's/.*"index":0,[^}]*"frames":\([0-9]*\).*/\1/p')
tx_frames=$(printf '%s' "$show" | tr -d ' \n' | sed -n 's/.*"index":1,[^}]*"frames":\([0-9]*\).*/\1/p')
expect "ring 0 (RX) frames" "${rx_frames:-0}" -ge "$(json_field "$guest_traffic" received)"
expect "ring 1 (TX) frames" "${tx_frames:-0}" -ge "$(json_field "$host_traffic" received)"

vm_check_console g || fail "errors on the guest console"
agent_check_alive a
vm_stop g
log "PASS"
