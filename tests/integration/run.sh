#!/usr/bin/env bash
# Runs the integration tests: builds (or reuses) the test guest, then every
# tests/integration/test_*.sh in name order, each with its own log directory
# BUILD_DIR/integration/<test>/ (output in <test>.log beside it).  Prints
# PASS/FAIL per test with its time; exits 1 if any failed.
#
#   tests/integration/run.sh BUILD_DIR [TEST_NAME_GLOB]
#
# Skips (exit 0) only when not root: the tests need network namespaces and
# taps.  Anything else missing is a failure, not a skip.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: run.sh BUILD_DIR [TEST_NAME_GLOB]}
glob=${2:-*}

if [ "$(id -u)" -ne 0 ]; then
	echo "  SKIP    integration tests: need root (network namespaces, taps)"
	exit 0
fi

mkdir -p "$build/integration" || exit 1
# The tests run the agent and CLI of this build (tests/integration/agent.sh).
VDPA_BUILD=$(cd "$build" && pwd)
export VDPA_BUILD
logs=$(cd "$build/integration" && pwd)

now_cs() { local up; read -r up _ </proc/uptime; up=${up/./}; echo $((10#$up)); }
secs() { printf '%d.%02ds' $(($1 / 100)) $(($1 % 100)); }

t0=$(now_cs)
if ! guest=$("$here/../guest/build-guest.sh" 2>"$logs/build-guest.log" | tail -n1) || [ -z "$guest" ]; then
	echo "  FAIL    build-guest ($(secs $(( $(now_cs) - t0 ))))"
	sed 's/^/    | /' "$logs/build-guest.log"
	exit 1
fi
echo "  GUEST   $guest ($(secs $(( $(now_cs) - t0 ))))"
export VDPA_GUEST_DIR=$guest

fail=0 n=0 failed=() skipped=()
for t in "$here"/test_$glob.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	n=$((n + 1))
	rm -rf "${logs:?}/$name"
	mkdir -p "$logs/$name"
	t0=$(now_cs)
	VDPA_TEST_LOGDIR=$logs/$name bash "$t" >"$logs/$name.log" 2>&1 </dev/null
	rc=$?
	dt=$(secs $(( $(now_cs) - t0 )))
	if [ $rc -eq 0 ]; then
		echo "  PASS    $name ($dt)"
	elif [ $rc -eq 77 ]; then
		# The test says why on its last SKIP line; shown, never silent.
		echo "  SKIP    $name ($dt): $(grep -h 'SKIP' "$logs/$name.log" | tail -n1)"
		skipped+=("$name")
	else
		echo "  FAIL    $name ($dt, exit $rc; log: $logs/$name.log)"
		tail -n 30 "$logs/$name.log" | sed 's/^/    | /'
		fail=1; failed+=("$name")
	fi
done
[ $n -gt 0 ] || { echo "  FAIL    no integration test matches test_$glob.sh"; exit 1; }
echo "integration tests: $n run, ${#failed[@]} failed ${failed[*]}${skipped:+, ${#skipped[@]} skipped ${skipped[*]}}"
exit $fail
