#!/usr/bin/env bash
# lanes: system 10
# Accelerator to accelerator: two simulators with different dirty-log
# granularities (4 KiB on host A, 2 MiB on host B), there and back under
# traffic; the same checks as test_migrate.sh.
export BACKEND_A=accel BACKEND_B=accel GRAN_A=4096 GRAN_B=2097152 ROUNDS=1 ROUNDS_STRICT=${ROUNDS_STRICT:-3}
exec bash "$(dirname "$0")/test_migrate.sh" "$@"
