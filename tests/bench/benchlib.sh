# shellcheck shell=bash
# Helpers for the shell benchmarks (tests/bench/bench_*.sh): processes that
# end with the benchmark, testpmd, the agent's counters, and the one JSON
# line per result that tests/run-bench.sh collects.  Source it, then call
# bench_init BUILD_DIR (not for benchmarks that use the integration lib.sh,
# which brings its own cleanup).
#
# Numbers here are reports, never verdicts: a benchmark fails only when it
# could not measure (a process died, a counter is missing), not when a
# result misses its target.

declare -a BENCH_PIDS=()
declare -a BENCH_DPDK_PREFIXES=()
BENCH_TMP=""

blog() { printf '[%s] %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
bdie() { blog "ERROR: $*"; exit 1; }

# CLOCK_MONOTONIC in seconds (never wall time), the clock of bench_stamp.
bench_now() { perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%.3f\n", clock_gettime(CLOCK_MONOTONIC)'; }

# bench_stamp: copies stdin to stdout, each line prefixed with the
# CLOCK_MONOTONIC time it arrived (testpmd flushes after each stats block).
bench_stamp() {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -ne \
		'BEGIN { $| = 1 } printf "%.3f %s", clock_gettime(CLOCK_MONOTONIC), $_'
}

# bench_init BUILD_DIR: root check, binaries, a private directory for
# sockets and logs (BENCH_TMP; removed at exit unless BENCH_KEEP=1, its logs
# copied to BUILD_DIR/bench/NAME/ first), and the exit trap.
bench_init() {
	local build=$1
	BENCH_NAME=$(basename "$0" .sh)
	BENCH_BUILD=$(cd "$build" && pwd) || bdie "no build dir $build"
	AGENTD=$BENCH_BUILD/vdpa-agentd
	VMCLI=$BENCH_BUILD/vdpa-migrate
	BENCH_LOGS=$BENCH_BUILD/bench/$BENCH_NAME
	[ "$(id -u)" -eq 0 ] || { blog "SKIP: needs root (testpmd, vhost-user sockets)"; exit 0; }
	command -v dpdk-testpmd >/dev/null || bdie "dpdk-testpmd not installed"
	[ -x "$AGENTD" ] && [ -x "$VMCLI" ] || bdie "build $BENCH_BUILD has no vdpa-agentd/vdpa-migrate"
	rm -rf "$BENCH_LOGS"
	mkdir -p "$BENCH_LOGS"
	# Short path: vhost-user socket paths must fit sun_path.
	BENCH_TMP=$(mktemp -d "/tmp/vdpa-bench.XXXXXX")
	trap 'bench_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# bench_bg LOG CMD...: CMD in the background, stdin from /dev/null,
# output to BENCH_TMP/LOG, each line time-stamped (bench_stamp); BENCH_PID
# is CMD's own pid (the stamper ends with it), stopped at exit.
bench_bg() {
	local log=$1; shift
	"$@" > >(bench_stamp >"$BENCH_TMP/$log") 2>&1 </dev/null &
	BENCH_PID=$!
	BENCH_PIDS+=("$BENCH_PID")
}

# bench_stop PID [GRACE_S=5]: TERM (testpmd prints its totals and leaves
# the vhost-user connection cleanly), KILL after the grace period.
bench_stop() {
	local pid=$1 grace=${2:-5} i
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		bench_stop "${BENCH_PIDS[i]}" 3
	done
	for p in "${BENCH_DPDK_PREFIXES[@]}"; do
		rm -rf "/var/run/dpdk/$p"
	done
	if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
		find "$BENCH_TMP" -type s -delete 2>/dev/null
		cp -r "$BENCH_TMP"/. "$BENCH_LOGS"/ 2>/dev/null
		[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_TMP"
	fi
	[ $rc -eq 0 ] || blog "failed (exit $rc); logs in $BENCH_LOGS"
	exit $rc
}

# testpmd_cmd PREFIX CPU VDEV FWD [EXTRA TESTPMD ARGS...]: prints (one per
# line) a testpmd command line with its main and forwarding lcores both on
# CPU (the main lcore sleeps between the periodic stats), its own file
# prefix (so several instances coexist), no hugepages, no PCI, and periodic
# stats (without them testpmd exits when its stdin closes).  Call it in a
# process substitution, so register PREFIX first (bench_dpdk_prefix).
testpmd_cmd() {
	local prefix=$1 cpu=$2 vdev=$3 fwd=$4; shift 4
	printf '%s\n' dpdk-testpmd --lcores "0@$cpu,1@$cpu" --no-huge -m 1024 --no-pci \
		--single-file-segments --file-prefix="$prefix" --log-level=lib.eal:error \
		--vdev "$vdev" -- --forward-mode="$fwd" --nb-cores=1 --rxq=1 --txq=1 \
		--stats-period 1 "$@"
}

# bench_dpdk_prefix PREFIX: testpmd's run directory /var/run/dpdk/PREFIX
# goes at exit.
bench_dpdk_prefix() { BENCH_DPDK_PREFIXES+=("$1"); }

# stats_count LOG FIELD: how many periodic "FIELD:" lines LOG has so far.
stats_count() {
	[ -e "$1" ] || { echo 0; return; }
	grep -ac -- "$2:" "$1" || true
}

# stats_rate LOG FIELD T0 T1: the rate, in millions per second, of testpmd's
# cumulative counter FIELD (TX-packets, RX-packets) between the first and
# the last of its periodic lines stamped within [T0, T1] (bench_stamp
# times).  Whole periods only: testpmd's main lcore shares a CPU with its
# busy forwarding lcore, so its "1 s" periods run long and uneven, and the
# mean of its per-period pps would not weigh them.  "nan" with fewer than
# two lines in the window.
stats_rate() {
	grep -a -- "$2:" "$1" | awk -v k="$2:" -v t0="$3" -v t1="$4" '
		$1 >= t0 && $1 <= t1 { for (i = 2; i < NF; i++) if ($i == k) {
			if (!n) { ta = $1; va = $(i + 1) } tb = $1; vb = $(i + 1); n++ } }
		END { if (n > 1 && tb > ta) printf "%.4f\n", (vb - va) / (tb - ta) / 1e6; else print "nan" }'
}

# agent_ring_counter CTL_SOCK PORT RING FIELD: one counter of port show.
agent_ring_counter() {
	"$VMCLI" --agent "unix:$1" -j port show "$2" | tr -d ' \n' |
		sed -n "s/.*\"index\":$3,[^}]*\"$4\":\([0-9]*\).*/\1/p"
}

# proc_cpu_ticks PID: user+system CPU time of all PID's threads, in clock
# ticks (getconf CLK_TCK, 100 on Linux): how much CPU a process got.
proc_cpu_ticks() {
	cat /proc/"$1"/task/*/stat 2>/dev/null | sed 's/.*) //' | awk '{ s += $12 + $13 } END { print s + 0 }'
}

# median N...: the median (mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with 3 decimals, "null" when B is 0 or either is not a number.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "null"; else printf "%.3f\n", a / b }'
}

# load1: the 1-minute load average, so a reader sees how busy the host was.
load1() { cut -d' ' -f1 /proc/loadavg; }
