#!/usr/bin/env bash
# lanes: 10
# Live migration through the shadow-ring relay (dirty-tracking=relay), the
# way a device without a dirty log of its own (a kernel vhost-vdpa device)
# migrates: both hosts' accelerators (vdpa-simd) serve shadow rings while
# their QEMU logs, and the agent relays the descriptors and marks every
# page the device writes; the simulator's own log is never set up.  Relay
# to relay, there and back, ROUNDS_STRICT round trips on the QEMU 10 lane:
# identical RAM after every migration, 0 corrupt, 0 duplicate (the checks
# of test_migrate.sh).  Only the strict lane: the relay proves nothing on a
# QEMU that loses guest writes itself.
export BACKEND_A=accel BACKEND_B=accel TRACK_A=relay TRACK_B=relay ROUNDS=1 \
	ROUNDS_STRICT=${ROUNDS_STRICT:-3}
exec bash "$(dirname "$0")/test_migrate.sh" "$@"
