#!/usr/bin/env bash
# Runs the integration tests: builds (or reuses) the test guest, then every
# tests/integration/test_*.sh in name order, each with its own log directory
# BUILD_DIR/integration/<test>[@LANE]/ (output in <test>[@LANE].log beside
# it).  Prints PASS/FAIL per test with its QEMU lane and time; exits 1 if
# any failed.
#
#   tests/integration/run.sh BUILD_DIR [TEST_NAME_GLOB]
#
# QEMU lanes (lib.sh, qemu_lane): "system" is Debian's QEMU (7.2 on Debian
# 12), "10" is QEMU 10 from the backports suite (tests/qemu/fetch-qemu.sh),
# the strict lane on which any guest page a migration got wrong is fatal.
# A test runs on the lanes its "# lanes:" line names (default: system); the
# migration and accelerator tests name both.  VDPA_LANES="10" (or "system")
# runs only those lanes.
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

only_lanes=${VDPA_LANES:-system 10}
lanes_of() { # TEST_FILE: its lanes that VDPA_LANES allows
	local l want
	want=$(sed -n 's/^# lanes: *//p' "$1" | head -n1)
	for l in ${want:-system}; do
		case " $only_lanes " in *" $l "*) echo "$l" ;; esac
	done
}
need10=0
for t in "$here"/test_$glob.sh; do
	[ -e "$t" ] && lanes_of "$t" | grep -qx 10 && need10=1
done
if [ $need10 = 1 ] && [ -z "${VDPA_QEMU10_DIR:-}" ]; then
	t0=$(now_cs)
	if ! VDPA_QEMU10_DIR=$("$here/../qemu/fetch-qemu.sh" 2>"$logs/fetch-qemu.log" | tail -n1) ||
		[ -z "$VDPA_QEMU10_DIR" ]; then
		echo "  FAIL    fetch-qemu ($(secs $(( $(now_cs) - t0 ))))"
		sed 's/^/    | /' "$logs/fetch-qemu.log"
		exit 1
	fi
	echo "  QEMU10  $VDPA_QEMU10_DIR ($(cat "$VDPA_QEMU10_DIR/VERSION"), $(secs $(( $(now_cs) - t0 ))))"
fi
export VDPA_QEMU10_DIR
sysver=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/^QEMU emulator version \([0-9.]*\).*/\1/p')
lane_label() { # LANE
	case "$1" in
	system) echo "QEMU ${sysver:-?} system" ;;
	10) echo "QEMU $(sed 's/^[0-9]*://; s/+.*//' "$VDPA_QEMU10_DIR/VERSION") backports" ;;
	esac
}

fail=0 n=0 failed=() skipped=()
for t in "$here"/test_$glob.sh; do
	[ -e "$t" ] || continue
	for lane in $(lanes_of "$t"); do
		name=$(basename "$t" .sh)
		[ "$lane" = system ] || name=$name@$lane
		n=$((n + 1))
		rm -rf "${logs:?}/$name"
		mkdir -p "$logs/$name"
		t0=$(now_cs)
		VDPA_QEMU=$lane VDPA_TEST_LOGDIR=$logs/$name bash "$t" >"$logs/$name.log" 2>&1 </dev/null
		rc=$?
		dt=$(secs $(( $(now_cs) - t0 )))
		label="[$(lane_label "$lane")]"
		if [ $rc -eq 0 ]; then
			echo "  PASS    $name $label ($dt)"
		elif [ $rc -eq 77 ]; then
			# The test says why on its last SKIP line; shown, never silent.
			echo "  SKIP    $name $label ($dt): $(grep -h 'SKIP' "$logs/$name.log" | tail -n1)"
			skipped+=("$name")
		else
			echo "  FAIL    $name $label ($dt, exit $rc; log: $logs/$name.log)"
			tail -n 30 "$logs/$name.log" | sed 's/^/    | /'
			fail=1; failed+=("$name")
		fi
	done
done
[ $n -gt 0 ] || { echo "  FAIL    no integration test matches test_$glob.sh"; exit 1; }
echo "integration tests: $n run, ${#failed[@]} failed ${failed[*]}${skipped:+, ${#skipped[@]} skipped ${skipped[*]}}"
exit $fail
