#!/usr/bin/env bash
# Smoke test of the test guest and trafficcheck, without the agent: QEMU's
# own tap netdev in a namespace of the test's own.  The guest boots, UDP
# runs host->guest and guest->host at the same time for 5 s, and both
# receivers must see no corrupt and no duplicate datagram and at least 90%
# of what was sent; the console must show no virtio or kernel errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init

RATE=3000 SECS=5
HOST_IP=10.77.0.1 GUEST_IP=10.77.0.2
TO_GUEST_PORT=5001 TO_HOST_PORT=5002

NS=$(lib_unique net)
netns_create "$NS"
netns_add_tap "$NS" tap0 "$HOST_IP/24"

vm_start g --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:02
vm_wait_ready g 60 || fail "guest did not boot"

# Resolves ARP both ways before the measured traffic starts.
vm_run g "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"

# Receivers first: each end must be listening before anything is sent.
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

vm_check_console g || fail "errors on the guest console"
vm_stop g
log "PASS"
