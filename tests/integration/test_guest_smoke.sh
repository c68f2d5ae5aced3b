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

NS=$(lib_unique net)
netns_create "$NS"
netns_add_tap "$NS" tap0 "$HOST_IP/24"

vm_start g --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
	-device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:02
vm_wait_ready g 60 || fail "guest did not boot"

# Resolves ARP both ways before the measured traffic starts.
vm_run g "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"

traffic_both_ways g "$NS" "$HOST_IP" "$GUEST_IP" "$RATE" "$SECS"

vm_check_console g || fail "errors on the guest console"
vm_stop g
log "PASS"
