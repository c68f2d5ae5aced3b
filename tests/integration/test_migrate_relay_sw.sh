#!/usr/bin/env bash
# lanes: 10
# Live migration between a relaying accelerator and the software path, both
# ways: host A's port runs on vdpa-simd with dirty-tracking=relay (shadow
# rings while its QEMU logs, the simulator's own log never set up), host B's
# port is software.  ROUNDS_STRICT round trips on the QEMU 10 lane, each a
# migration relay -> software and one software -> relay (the destination
# replays the software path's indexes into the device): identical RAM after
# every migration, 0 corrupt, 0 duplicate (the checks of test_migrate.sh).
# With test_migrate_relay.sh's relay -> relay this makes the relay's ten
# compared migrations.  Only the strict lane: the relay proves nothing on a
# QEMU that loses guest writes itself.
export BACKEND_A=accel BACKEND_B=sw TRACK_A=relay ROUNDS=1 \
	ROUNDS_STRICT=${ROUNDS_STRICT:-2}
exec bash "$(dirname "$0")/test_migrate.sh" "$@"
