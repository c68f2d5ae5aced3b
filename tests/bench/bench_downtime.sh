#!/usr/bin/env bash
# Migration downtime with the agent as the vhost-user back end on both
# "hosts", against dpdk-testpmd (net_vhost, rxonly) on both: a guest with a
# light, identical load (500 UDP datagrams/s out of its NIC, which both back
# ends drop) migrates A -> B -> A ... MIGRATIONS times (QEMU to QEMU over a
# unix socket); QEMU's reported "downtime" of each is collected.
#
#   tests/bench/bench_downtime.sh BUILD_DIR
#   env: MIGRATIONS (6), VDPA_GUEST_DIR (the test guest; built if unset)
#
# CPUs: QEMU (all of it: vCPU, migration thread, main loop) and the back
# ends' control planes (the agent; testpmd's main lcore and its vhost control
# thread) share CPU 0; testpmd's busy-polling forwarding lcores, one per
# instance, spin on CPU 1, where they disturb no one but each other.  The
# agent runs without poll=on: its data path sleeps on kicks.
#
# Result: {"bench":"agent.migration.downtime","value":MEDIAN_MS,"unit":"ms",
#          "peer":"dpdk-vhost","peer_value":MEDIAN_MS,"ratio":...}  (target <= 1.0)
set -euo pipefail
build=${1:?usage: bench_downtime.sh BUILD_DIR}
VDPA_BUILD=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
logs=$VDPA_BUILD/bench/bench_downtime
# vhost-user and QMP socket paths must fit sun_path (108 bytes).
if [ ${#logs} -gt 60 ]; then
	logs=$(mktemp -d /tmp/vdpa-bench-downtime.XXXXXX)
else
	rm -rf "$logs"
	mkdir -p "$logs"
fi
export VDPA_TEST_LOGDIR=$logs
. "$here/../integration/lib.sh"
. "$here/../integration/agent.sh"
lib_init
lib_on_cleanup find "$TEST_DIR" '(' -type s -o -type p ')' -delete

MIGRATIONS=${MIGRATIONS:-6}
GUEST_IP=10.81.0.2 SINK_IP=10.81.0.1 SINK_MAC=52:54:00:81:00:01 MAC=52:54:00:81:00:02
RATE=500
command -v dpdk-testpmd >/dev/null || fail "dpdk-testpmd not installed"
[ "$(nproc --all)" -ge 2 ] || fail "needs two CPUs"
# Everything this script starts runs on CPU 0 unless placed elsewhere.
taskset -cp 0 $$ >/dev/null

declare -A BE_SOCK=() BE_PID=()

# backends_start KIND: the two hosts' back ends, A and B.
backends_start() {
	local kind=$1 h
	for h in A B; do
		case "$kind" in
		agent)
			agent_start "$h" -- --port "name=p0,socket=$(agent_sock "$h" p0),endpoint=null"
			BE_SOCK[$h]=$(agent_sock "$h" p0)
			BE_PID[$h]=${AGENT_PID[$h]}
			;;
		dpdk)
			local sock=$TEST_DIR/tp$h.sock prefix=vbdt$$$h
			rm -f "$sock"
			lib_on_cleanup rm -rf "/var/run/dpdk/$prefix"
			lib_bg "testpmd-$h" dpdk-testpmd --lcores "0@0,1@1" --no-huge -m 1024 --no-pci \
				--single-file-segments --file-prefix="$prefix" --log-level=lib.eal:error \
				--vdev "net_vhost0,iface=$sock,queues=1,client=0" -- \
				--forward-mode=rxonly --nb-cores=1 --rxq=1 --txq=1 --stats-period 1
			BE_PID[$h]=$LIB_PID
			lib_wait_for 20 test -S "$sock" ||
				fail "testpmd $h did not create $sock: $(tail -5 "$TEST_DIR/testpmd-$h.log")"
			BE_SOCK[$h]=$sock
			;;
		esac
	done
}

backends_stop() {
	local h
	for h in A B; do lib_kill "${BE_PID[$h]}" 5; done
}

backends_alive() {
	local h
	for h in A B; do
		kill -0 "${BE_PID[$h]}" 2>/dev/null || fail "$1: back end $h died (logs in $TEST_DIR)"
	done
}

vm_on() { # NAME HOST [QEMU ARGS...]
	local name=$1 host=$2 nic; shift 2
	mapfile -t nic < <(vu_netdev_args n0 "${BE_SOCK[$host]}" "$MAC")
	vm_start "$name" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}" "$@"
}

# run_set KIND: boot on A, light traffic, MIGRATIONS migrations; sets DOWNS and TOTALS.
run_set() {
	local kind=$1 cur next where=A to n res
	DOWNS=() TOTALS=()
	backends_start "$kind"
	cur=$kind-g0
	vm_on "$cur" A
	vm_wait_ready "$cur" 90 || fail "$kind: guest did not boot"
	# The sink is a static neighbour: no ARP, the same frames on every back end.
	vm_run "$cur" "arp -i eth0 -s $SINK_IP $SINK_MAC" 15 || fail "$kind: arp -s failed in the guest"
	vm_send "$cur" "trafficcheck send --dst $SINK_IP:5000 --rate $RATE --duration 3600 >/dev/null 2>&1 &"
	sleep 2
	for n in $(seq 1 "$MIGRATIONS"); do
		if [ $where = A ]; then to=B; else to=A; fi
		next=$kind-g$n
		vm_on "$next" "$to" -incoming "unix:$TEST_DIR/$kind-mig$n.sock"
		lib_wait_for 20 test -S "$TEST_DIR/$next.qmp" || fail "$next: no QMP socket"
		sleep 1  # let the destination connect to its back end
		res=$(migrate_vm "$cur" "$next" "unix:$TEST_DIR/$kind-mig$n.sock" 120) || exit 1
		log "$kind migration $n ($where -> $to): downtime ${res% *} ms, total ${res#* } ms"
		DOWNS+=("${res% *}")
		TOTALS+=("${res#* }")
		vm_stop "$cur"
		rm -f "$TEST_DIR/$kind-mig$n.sock"
		backends_alive "$kind migration $n"
		cur=$next where=$to
		sleep 1
	done
	# The guest survived it all: its shell answers, its NIC still sends.
	vm_run "$cur" "cat /sys/class/net/eth0/statistics/tx_packets" 15 >"$TEST_DIR/$kind-tx1" ||
		fail "$kind: guest does not answer after the migrations"
	sleep 1
	vm_run "$cur" "cat /sys/class/net/eth0/statistics/tx_packets" 15 >"$TEST_DIR/$kind-tx2" || true
	[ "$(tail -n1 "$TEST_DIR/$kind-tx2")" -gt "$(tail -n1 "$TEST_DIR/$kind-tx1")" ] ||
		log "WARNING: $kind: the guest's tx_packets did not grow after the last migration"
	vm_check_console "$cur" || log "WARNING: $kind: errors on the guest console"
	vm_stop "$cur"
	backends_stop
}

med() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
jarr() { local IFS=,; echo "[$*]"; }

run_set agent
a_down=("${DOWNS[@]}") a_total=("${TOTALS[@]}")
run_set dpdk
d_down=("${DOWNS[@]}") d_total=("${TOTALS[@]}")

am=$(med "${a_down[@]}") dm=$(med "${d_down[@]}")
ratio=$(awk -v a="$am" -v b="$dm" 'BEGIN { if (b + 0 == 0) print "null"; else printf "%.3f\n", a / b }')
printf '{"bench":"agent.migration.downtime","value":%s,"unit":"ms","peer":"dpdk-vhost","peer_value":%s,"ratio":%s,"samples":%s,"peer_samples":%s,"total_ms_median":%s,"peer_total_ms_median":%s,"migrations":%s,"guest_pps":%s}\n' \
	"$am" "$dm" "$ratio" "$(jarr "${a_down[@]}")" "$(jarr "${d_down[@]}")" \
	"$(med "${a_total[@]}")" "$(med "${d_total[@]}")" "$MIGRATIONS" "$RATE"
log "logs in $TEST_DIR"
