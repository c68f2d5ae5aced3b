#!/usr/bin/env bash
# lanes: system 10
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
# The NIC's interrupts are what the lane configures (qemu_lane in lib.sh):
# MSI-X vectors per virtqueue where QEMU allows them with vhost-user, one
# INTx line for the device (vectors=0) on QEMU 7.2.
irqs=$(vm_run g "grep virtio /proc/interrupts") || fail "cannot read the guest's /proc/interrupts"
printf '%s\n' "$irqs" >"$TEST_DIR/interrupts.txt"
if [ "$QEMU_MSIX" = 1 ]; then
	# Per-queue vectors exist only with MSI-X (virtio-pci has no plain
	# MSI); the guest's kernel names the domain "PCI-MSI" or "PCI-MSIX".
	printf '%s\n' "$irqs" | grep -q 'PCI-MSI.*virtio0-input\.0' ||
		fail "QEMU $QEMU_VERSION: the NIC does not use MSI-X: $irqs"
	log "ok: the NIC's queues have MSI-X vectors (QEMU $QEMU_VERSION)"
else
	printf '%s\n' "$irqs" | grep -q 'PCI-MSI' &&
		fail "QEMU $QEMU_VERSION: MSI-X in use although the NIC has vectors=0: $irqs"
	log "ok: the NIC uses INTx (vectors=0, QEMU $QEMU_VERSION)"
fi

traffic_both_ways g "$NS" "$HOST_IP" "$GUEST_IP" "$RATE" "$SECS"

# The agent saw the same traffic on the right rings: ring 0 carries
# host->guest (RX), ring 1 guest->host (TX).
show=$(agent_cli a -j port show p0) || fail "port show failed"
printf '%s\n' "$show" >"$TEST_DIR/port-show.json"
rx_frames=$(printf '%s' "$show" | tr -d ' \n' | sed -n 's/.*"index":0,[^}]*"frames":\([0-9]*\).*/\1/p')
tx_frames=$(printf '%s' "$show" | tr -d ' \n' | sed -n 's/.*"index":1,[^}]*"frames":\([0-9]*\).*/\1/p')
expect "ring 0 (RX) frames" "${rx_frames:-0}" -ge "$(json_field "$TRAFFIC_TO_GUEST" received)"
expect "ring 1 (TX) frames" "${tx_frames:-0}" -ge "$(json_field "$TRAFFIC_TO_HOST" received)"

vm_check_console g || fail "errors on the guest console"
agent_check_alive a
vm_stop g
log "PASS"
