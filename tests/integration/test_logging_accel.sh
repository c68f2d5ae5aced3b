#!/usr/bin/env bash
# The dirty-log invariant of an accelerator port at migration switchover,
# checked with the synthetic front end (tests/tools/vufront.c, log mode
# --at-stop) against vdpa-simd with a loop wire.  The device logs RX buffer
# pages into its own log at its granularity and the agent merges that into
# QEMU's log only every harvest period and once more when QEMU stops a ring,
# so the per-frame check of test_logging.sh does not apply.  What migration
# needs does: vufront turns logging on, clears the log once, moves frames,
# sends GET_VRING_BASE for both rings (QEMU's switchover), and only then
# requires every RX buffer page written and every used ring page to be
# marked.  Run for a 4 KiB and a 2 MiB device log granularity with the
# default harvest period (2000 frames take longer than one: the periodic
# merge is covered), and once with harvest-ms=10000, so that only the merge
# at GET_VRING_BASE can put the pages in the log (with the default period it
# hides a missing final merge: the frames rewrite pages already merged).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

FRAMES=${VDPA_LOG_FRAMES:-2000}

for case in 4096 2097152 4096:10000; do
	gran=${case%%:*} hms=""
	[ "$gran" = "$case" ] || hms=",harvest-ms=${case#*:}"
	sim=sim${case/:/-} a=a${case/:/-}
	SOCK=$(agent_sock "$a" p0)
	simd_start "$sim" -- --wire loop --log-granularity "$gran"
	agent_start "$a" -- --port \
		"name=p0,socket=$SOCK,endpoint=loop,backend=accel,device=vfio-user:$(simd_sock "$sim")$hms"

	vlog=$TEST_DIR/vufront-${case/:/-}.log
	lib_bg "vufront-${case/:/-}" "$VUFRONT" log "$SOCK" --frames "$FRAMES" --at-stop
	vf=$LIB_PID
	rc=0
	wait "$vf" || rc=$?
	line=$(grep '^LOGCHECK ' "$vlog" || true)
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		log "$case: vufront exited $rc; its report:"
		grep -v '^LOGCHECK ' "$vlog" | head -n 25 | sed 's/^/    | /' >&2
	fi
	[ -n "$line" ] || fail "$case: vufront printed no LOGCHECK line"
	log "$case: $line"

	expect "$case: frames moved" "$(json_field "$line" frames)" -eq "$FRAMES"
	expect "$case: RX pages checked" "$(json_field "$line" rx_pages_checked)" -gt 100
	expect "$case: used ring pages checked" "$(json_field "$line" used_pages_checked)" -ge 4
	expect "$case: pages written but not logged" "$(json_field "$line" missed)" -eq 0
	expect "$case: other failures (data, used ring, base)" "$(json_field "$line" bad)" -eq 0
	expect "$case: vufront exit status" "$rc" -eq 0
	# The run takes well under a second, too short to catch the port in port
	# show reliably: the agent's log says where the rings ran and stopped.
	alog=$TEST_DIR/agent-$a.log
	for want in "port p0: rings on the accelerator" "port p0: dirty logging on" \
		"port p0: device log of .*, $gran bytes per bit" \
		"port p0: ring 0 stopped on the accelerator at avail index $(json_field "$line" rx_base)\$" \
		"port p0: ring 1 stopped on the accelerator at avail index $FRAMES\$"; do
		grep -q "$want" "$alog" || fail "$case: no '$want' in the agent's log"
	done
	# One device stop per switchover, counted by the simulator: after the
	# device's last start, one stop, and it stopped both rings (a stop per
	# GET_VRING_BASE restarted the device for ring 1 in between, so the
	# last stop saw ring 1 alone).
	slog=$TEST_DIR/simd-$sim.log
	tail_=$(awk '/: device start #/ { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$slog")
	expect "$case: device stops after the last start" \
		"$(printf '%s' "$tail_" | grep -c ': device stop #' || true)" -eq 1
	for ring in 0 1; do
		printf '%s' "$tail_" | grep -q ": ring $ring stopped at avail index" ||
			fail "$case: the switchover's device stop did not stop ring $ring: $(printf '%s' "$tail_" | tr '\n' '|')"
	done
	if grep -E 'guest error|refused|failed' "$alog" >&2; then
		fail "$case: the agent logged an error for a well-behaved front end"
	fi
	agent_check_alive "$a"
done
log "PASS"
