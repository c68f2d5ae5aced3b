#!/usr/bin/env bash
# lanes: system 10
# test_migrate.sh with two queue pairs (queues=2 on both agents' ports, a
# two-vCPU guest with mq=on) and four flows each way: one round trip, and
# every ring of the final port must have carried frames.
export QUEUES=2 ROUNDS=1 ROUNDS_STRICT=${ROUNDS_STRICT:-3} FLOWS=4 RATE=${RATE:-1000}
exec bash "$(dirname "$0")/test_migrate.sh" "$@"
