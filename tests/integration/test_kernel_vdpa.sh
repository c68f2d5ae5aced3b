#!/usr/bin/env bash
# The agent on a real kernel vDPA device: Debian 12's own 6.12 kernel booted
# under QEMU (TCG) with the kernel's vdpa_sim_net (built out of tree from
# linux-source-6.12, cached), vdpa-agentd serving a port with
# device=vhost-vdpa:/dev/vhost-vdpa-0 and the synthetic front end driving it
# (tests/kernel/boot-vdpa-sim.sh, tests/kernel/inside-carrier.sh):
#  - p0 (dirty-tracking=auto, so relay): every frame through the device,
#    logging or not (vdpa_sim_net loops frames back unchanged, each checked
#    byte by byte; vufront counts the unchanged ones), every page written
#    in the log before the used index moved, rings direct while logging is
#    off and relayed while it is on, port show counting the relayed chains;
#  - QEMU's switchover (logging on, GET_VRING_BASE of both rings) with every
#    page in the log and exact bases;
#  - vdpa-migrate switch to software and back with the rings live;
#  - p1 (dirty-tracking=software): the rings in software while logging;
#  - vdpa dev del while p0 relays: fallback to software at exact indices,
#    nothing lost, corrupt or repeated, the deletion completes;
#  - p2 on vdpa_sim built without SUSPEND: stopped by resets, always relayed,
#    the same checks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init

VDPA_KERNEL_CONSOLE=$TEST_DIR/console.log VDPA_BUILD=$VDPA_BUILD VDPA_KERNEL_BOOT_TIMEOUT=${VDPA_KERNEL_BOOT_TIMEOUT:-600} \
	"$REPO_DIR/tests/kernel/boot-vdpa-sim.sh" >"$TEST_DIR/boot.log" 2>&1 || {
	sed 's/^/    | /' "$TEST_DIR/boot.log" | tail -n 60 >&2
	fail "the kernel rig failed (console: $TEST_DIR/console.log)"
}
grep -E '^(CARRIER|\[boot-vdpa-sim\] PASS)' "$TEST_DIR/boot.log" | grep -v 'CARRIER agent|' >&2
grep -q 'CARRIER-RESULT PASS' "$TEST_DIR/boot.log" || fail "no CARRIER-RESULT PASS"
log "PASS"
