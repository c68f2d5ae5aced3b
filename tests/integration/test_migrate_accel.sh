#!/usr/bin/env bash
# lanes: system 10
# Cross-backend migration: the guest starts on host A's accelerator
# (vdpa-simd), migrates to host B's software path and back onto the
# accelerator, under traffic both ways.  The destination's RAM must equal the
# source's after each first migration (the device's dirty log harvested into
# QEMU's, the used rings logged by the agent), 0 corrupt, 0 duplicate.
export BACKEND_A=accel BACKEND_B=sw ROUNDS=1 ROUNDS_STRICT=${ROUNDS_STRICT:-3}
exec bash "$(dirname "$0")/test_migrate.sh" "$@"
