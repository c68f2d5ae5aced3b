#!/usr/bin/env bash
# Switchover time of an accelerator port: GET_VRING_BASE received to reply
# sent (the agent's "accel.switchover_us": stop the device, final harvest of
# its dirty log, log the used rings, read the ring base), over MIGRATIONS
# migrations between two "hosts":
#   A: agent port p0 backend=accel on a vdpa-simd (--wire loop), and
#   B: agent port p0 on the software engine (endpoint=loop).
# The guest boots on A and migrates A -> B -> A ...; each A -> B migration
# stops the accelerator port (agent A's "port show" is read right after the
# migration, while the paused source QEMU is still connected, so the port
# still has its stats), each B -> A one stops the software port.  The guest
# sends RATE UDP datagrams/s meanwhile; the loop wire returns them into its
# receive ring, so the device writes guest memory and its log is not empty.
#
# The agent measures the switchover of accel ports only.  For a like-for-like
# peer, every QEMU traces its vhost-user messages (-trace vhost_user_write,
# vhost_user_read, -msg timestamp=on, us resolution): the GET_VRING_BASE
# round trip QEMU sees, for both kinds of source port.
#
#   tests/bench/bench_switchover.sh BUILD_DIR
#   env: MIGRATIONS (10: 5 from each side), VDPA_GUEST_DIR
#
# CPUs: QEMU, the agents and vdpa-simd on CPU 0 (as bench_downtime.sh);
# nothing busy-polls.
#
# Results:
#   accel.switchover           agent's switchover_us, median over the A -> B
#                              migrations (last ring stopped); peer none
#   accel.switchover.frontend  GET_VRING_BASE round trip seen by QEMU, last
#                              ring, accel source vs sw source
set -euo pipefail
build=${1:?usage: bench_switchover.sh BUILD_DIR}
VDPA_BUILD=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
logs=$VDPA_BUILD/bench/bench_switchover
# vhost-user and QMP socket paths must fit sun_path (108 bytes).
if [ ${#logs} -gt 60 ]; then
	logs=$(mktemp -d /tmp/vdpa-bench-switchover.XXXXXX)
else
	rm -rf "$logs"
	mkdir -p "$logs"
fi
export VDPA_TEST_LOGDIR=$logs
. "$here/../integration/lib.sh"
. "$here/../integration/agent.sh"
lib_init
lib_on_cleanup find "$TEST_DIR" '(' -type s -o -type p ')' -delete

MIGRATIONS=${MIGRATIONS:-10}
GUEST_IP=10.82.0.2 SINK_IP=10.82.0.1 SINK_MAC=52:54:00:82:00:01 MAC=52:54:00:82:00:02
RATE=500
[ -x "$VDPA_BUILD/vdpa-simd" ] || fail "build $VDPA_BUILD has no vdpa-simd"
taskset -cp 0 $$ >/dev/null

simd_start simA -- --wire loop
agent_start A -- --port "name=p0,socket=$(agent_sock A p0),endpoint=loop,backend=accel,device=vfio-user:$(simd_sock simA)"
agent_start B -- --port "name=p0,socket=$(agent_sock B p0),endpoint=loop"

vm_on() { # NAME HOST [QEMU ARGS...]
	local name=$1 host=$2 nic; shift 2
	mapfile -t nic < <(vu_netdev_args n0 "$(agent_sock "$host" p0)" "$MAC")
	vm_start "$name" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}" \
		-msg timestamp=on -trace vhost_user_write -trace vhost_user_read \
		-D "$TEST_DIR/$name.trace" "$@"
}

now_wall() { date +%s.%N; }

# gvb_rtts TRACE T0 T1: the GET_VRING_BASE (request 11) round trips, in us,
# of the messages QEMU wrote within [T0, T1] (wall clock), one per line, in
# order.  A write is paired with the next read of request 11.
gvb_rtts() {
	sed -n 's/^[0-9]*@\([0-9.]*\):vhost_user_\(write\|read\) req:\([0-9]*\) .*/\1 \2 \3/p' "$1" |
		awk -v t0="$2" -v t1="$3" '
			$3 != 11 { next }
			$2 == "write" { if ($1 >= t0 && $1 <= t1) w = $1; else w = ""; next }
			$2 == "read" && w != "" { printf "%.0f\n", ($1 - w) * 1e6; w = "" }'
}

port_field() { # AGENT FIELD: a number of the port's accel stats
	agent_cli "$1" -j port show p0 | tr -d ' \n' | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"
}

declare -a AGENT_US=() FE_ACC=() FE_SW=() FE_ACC_SUM=() FE_SW_SUM=() HROUNDS=()

cur=g0 where=A
vm_on "$cur" A
vm_wait_ready "$cur" 90 || fail "guest did not boot"
got=$(agent_cli A -j port show p0 | tr -d ' \n' | sed -n 's/.*"engine":"\([a-z]*\)".*/\1/p')
[ "$got" = accel ] || fail "agent A's port runs on '$got', not accel"
vm_run "$cur" "arp -i eth0 -s $SINK_IP $SINK_MAC" 15 || fail "arp -s failed in the guest"
vm_send "$cur" "trafficcheck send --dst $SINK_IP:5000 --rate $RATE --duration 3600 >/dev/null 2>&1 &"
sleep 2
for n in $(seq 1 "$MIGRATIONS"); do
	if [ $where = A ]; then to=B; else to=A; fi
	next=g$n
	vm_on "$next" "$to" -incoming "unix:$TEST_DIR/mig$n.sock"
	lib_wait_for 20 test -S "$TEST_DIR/$next.qmp" || fail "$next: no QMP socket"
	sleep 1  # let the destination connect to its back end
	t0=$(now_wall)
	res=$(migrate_vm "$cur" "$next" "unix:$TEST_DIR/mig$n.sock" 120) || exit 1
	t1=$(now_wall)
	sw_us=""
	if [ $where = A ]; then
		# The source QEMU is paused and still connected: the port has its stats.
		agent_cli A -j port show p0 >"$TEST_DIR/portshow-A-mig$n.json"
		sw_us=$(port_field A switchover_us)
		hr=$(port_field A harvest_rounds)
		[ -n "$sw_us" ] || fail "migration $n: no switchover_us in agent A's port show"
		AGENT_US+=("$sw_us")
		HROUNDS+=("${hr:-0}")
	fi
	vm_stop "$cur"
	mapfile -t rtt < <(gvb_rtts "$TEST_DIR/$cur.trace" "$t0" "$t1")
	[ ${#rtt[@]} -ge 1 ] || fail "migration $n: no GET_VRING_BASE in $cur's trace"
	last=${rtt[${#rtt[@]} - 1]}
	sum=$(printf '%s\n' "${rtt[@]}" | awk '{ s += $1 } END { print s }')
	if [ $where = A ]; then FE_ACC+=("$last") FE_ACC_SUM+=("$sum"); else FE_SW+=("$last") FE_SW_SUM+=("$sum"); fi
	log "migration $n ($where -> $to): downtime ${res% *} ms; GET_VRING_BASE seen by QEMU ${rtt[*]} us${sw_us:+; agent switchover_us $sw_us (harvest rounds $hr)}"
	rm -f "$TEST_DIR/mig$n.sock"
	agent_check_alive A
	agent_check_alive B
	kill -0 "${SIMD_PID[simA]}" 2>/dev/null || fail "vdpa-simd died: $(tail -5 "$TEST_DIR/simd-simA.log")"
	cur=$next where=$to
	sleep 0.5
done
vm_run "$cur" "true" 15 || fail "guest does not answer after the migrations"
vm_check_console "$cur" || log "WARNING: errors on the guest console"
vm_stop "$cur"

med() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
jarr() { local IFS=,; echo "[$*]"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "null"; else printf "%.3f\n", a / b }'; }

[ ${#AGENT_US[@]} -ge 1 ] && [ ${#FE_SW[@]} -ge 1 ] || fail "too few migrations ($MIGRATIONS)"
am=$(med "${AGENT_US[@]}") fa=$(med "${FE_ACC[@]}") fs=$(med "${FE_SW[@]}")
printf '{"bench":"accel.switchover","value":%s,"unit":"us","peer":"none","peer_value":null,"ratio":null,"samples":%s,"harvest_rounds":%s,"frontend_us_median":%s,"migrations":%s,"guest_pps":%s,"note":"agent port show accel.switchover_us (GET_VRING_BASE received to reply, last ring) after each migration away from the accel port (vdpa-simd --wire loop, 4 KiB log, 256 MiB guest); lower is better; the agent does not time sw ports, see accel.switchover.frontend"}\n' \
	"$am" "$(jarr "${AGENT_US[@]}")" "$(jarr "${HROUNDS[@]}")" "$fa" "${#AGENT_US[@]}" "$RATE"
printf '{"bench":"accel.switchover.frontend","value":%s,"unit":"us","peer":"sw-port","peer_value":%s,"ratio":%s,"samples":%s,"peer_samples":%s,"sum_rings_median":%s,"peer_sum_rings_median":%s,"note":"GET_VRING_BASE write to reply read as QEMU traces it (vhost_user_write/read, us), last ring, source port accel vs software (endpoint=loop); lower is better"}\n' \
	"$fa" "$fs" "$(ratio "$fa" "$fs")" "$(jarr "${FE_ACC[@]}")" "$(jarr "${FE_SW[@]}")" \
	"$(med "${FE_ACC_SUM[@]}")" "$(med "${FE_SW_SUM[@]}")"
log "logs in $TEST_DIR"
