#!/usr/bin/env bash
# Software data path throughput, guest-to-wire direction, 64-byte frames:
# dpdk-testpmd's net_virtio_user (a real vhost-user front end, txonly, one
# forwarding lcore) sends into
#   - an agent port (endpoint=null, poll=on), and
#   - dpdk-testpmd's own net_vhost back end (rxonly), the peer,
# and once more into the agent with bench-log=on (every guest-memory write
# marked in a dirty log, as during a migration) to price logging, and into
# an accelerator port (backend=accel,device=vfio-user:SOCK, endpoint=null)
# served by the simulated accelerator (vdpa-simd --wire null), against the
# same port on the software engine (endpoint=null, poll=on).
#
#   tests/bench/bench_pps.sh BUILD_DIR
#   env: ROUNDS (3) WARMUP (3 s) MEASURE (6 s per round) QSIZE (1024)
#
# The back end runs on CPU 0, the front end on CPU 1 (main and forwarding
# lcore together: the main lcore sleeps between the 1 s stats).  For the
# accelerator port, CPU 0 holds both vdpa-simd (whose one worker thread per
# queue pair is the "hardware" data path: it sleeps on the doorbell eventfd
# and copies in software) and the agent (control plane only: kicks ring the
# device's doorbell directly), so the figure measures the simulator.  Rounds
# alternate the back ends so a neighbour's load hits all of them alike.  The
# rate is the front end's TX-packets counter over the whole stats periods in
# the window (lines time-stamped as they arrive, CLOCK_MONOTONIC); the back
# end's own count (the agent's ring 1 frames, testpmd's RX-packets) over the
# same window is reported beside it as "value_backend"/"peer_value_backend";
# in every round the two must agree within 10%, or the result is flagged
# "suspect": true.  Values are medians over the rounds ("samples" lists the
# front end's rate of each round).
#
# The host may be shared: each line also says what share of a CPU each side
# got during the window ("cpu_backend", "cpu_frontend", 1.0 = all of it) and
# the back end's frames per CPU-second ("backend_mpps_per_cpu": its rate
# over its CPU share, a measure of cost that a busy neighbour disturbs less;
# for a back end faster than its front end it is low, as a spinning back end
# burns its CPU whether frames come or not).
#
# vdpa-simd keeps no frame counter it can be asked for, so the accelerator
# port has no back-end rate ("value_backend": null); with a 1024-entry ring
# the front end's TX count cannot run ahead of the device by more than that.
#
# Results (one JSON line each):
#   agent.pps.null          agent vs dpdk-vhost      (target ratio >= 0.5)
#   agent.pps.null.logging  agent bench-log=on vs off (overhead 1 - ratio, target <= 0.1)
#   accel.pps.null          accel port (vdpa-simd --wire null) vs sw port (poll=on)
#   accel.pps.relay         the same accel port relaying through shadow rings
#                           (dirty-tracking=relay, bench-log=on: logging as
#                           during a migration) vs direct (target ratio >= 0.7)
#   accel.pps.devlog        the same accel port logging with the device's own
#                           log (bench-log=on) vs direct
set -euo pipefail
. "$(dirname "$0")/benchlib.sh"
bench_init "${1:?usage: bench_pps.sh BUILD_DIR}"

ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
MEASURE=${MEASURE:-6}
QSIZE=${QSIZE:-1024}
BE_CPU=0 FE_CPU=1
[ "$(nproc --all)" -ge 2 ] || bdie "needs two CPUs"

HZ=$(getconf CLK_TCK)
declare -A FE_RATES=() BE_RATES=() BE_SHARE=() FE_SHARE=() BE_EFF=() SUSPECT=() SIM_SHARE=()

SIMD=$BENCH_BUILD/vdpa-simd
[ -x "$SIMD" ] || bdie "build $BENCH_BUILD has no vdpa-simd"

# run_one KIND ROUND: KIND is dpdk, agent, agent-log, accel, accel-relay or accel-devlog.
run_one() {
	local kind=$1 tag="$1-r$2" sock be fe ctl="" cmd sim=
	local f0="" f1="" t0 t1 fe_rate be_rate c0 c1 d0 d1 be_cpu fe_cpu
	sock=$BENCH_TMP/$tag.sock
	case "$kind" in
	dpdk)
		bench_dpdk_prefix "vbbe$$-$tag"
		mapfile -t cmd < <(testpmd_cmd "vbbe$$-$tag" $BE_CPU "net_vhost0,iface=$sock,queues=1" rxonly)
		bench_bg "$tag.backend.log" "${cmd[@]}"
		;;
	agent|agent-log)
		local bl=off
		[ "$kind" = agent ] || bl=on
		mkdir -p "$BENCH_TMP/$tag.rt"
		ctl=$BENCH_TMP/$tag.rt/control.sock
		bench_bg "$tag.backend.log" taskset -c $BE_CPU "$AGENTD" \
			--runtime-dir "$BENCH_TMP/$tag.rt" --state-dir "$BENCH_TMP/$tag.rt" \
			--port "name=p0,socket=$sock,endpoint=null,poll=on,bench-log=$bl"
		;;
	accel|accel-relay|accel-devlog)
		local simsock=$BENCH_TMP/$tag.sim.sock extra=""
		case "$kind" in
		accel-relay) extra=",bench-log=on,dirty-tracking=relay" ;;
		accel-devlog) extra=",bench-log=on,dirty-tracking=device-log" ;;
		esac
		bench_bg "$tag.simd.log" taskset -c $BE_CPU "$SIMD" --socket "$simsock" --wire null
		sim=$BENCH_PID
		for ((i = 0; i < 100; i++)); do [ -S "$simsock" ] && break; sleep 0.1; done
		[ -S "$simsock" ] || bdie "$tag: vdpa-simd did not create $simsock: $(tail -5 "$BENCH_TMP/$tag.simd.log")"
		mkdir -p "$BENCH_TMP/$tag.rt"
		ctl=$BENCH_TMP/$tag.rt/control.sock
		bench_bg "$tag.backend.log" taskset -c $BE_CPU "$AGENTD" \
			--runtime-dir "$BENCH_TMP/$tag.rt" --state-dir "$BENCH_TMP/$tag.rt" \
			--port "name=p0,socket=$sock,endpoint=null,backend=accel,device=vfio-user:$simsock$extra"
		;;
	esac
	be=$BENCH_PID
	for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || bdie "$tag: back end did not create $sock: $(tail -5 "$BENCH_TMP/$tag.backend.log")"

	bench_dpdk_prefix "vbfe$$-$tag"
	mapfile -t cmd < <(testpmd_cmd "vbfe$$-$tag" $FE_CPU \
		"net_virtio_user0,path=$sock,queues=1,queue_size=$QSIZE" txonly --txpkts=64)
	bench_bg "$tag.frontend.log" "${cmd[@]}"
	fe=$BENCH_PID
	for ((i = 0; i < 150; i++)); do
		[ "$(stats_count "$BENCH_TMP/$tag.frontend.log" Tx-pps)" -ge 1 ] && break
		kill -0 "$fe" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(stats_count "$BENCH_TMP/$tag.frontend.log" Tx-pps)" -ge 1 ] ||
		bdie "$tag: front end does not forward: $(tail -5 "$BENCH_TMP/$tag.frontend.log")"

	sleep "$WARMUP"
	c0=$(proc_cpu_ticks "$be") d0=$(proc_cpu_ticks "$fe")
	t0=$(bench_now)
	[ -z "$ctl" ] || [ -n "$sim" ] || f0=$(agent_ring_counter "$ctl" p0 1 frames)
	local s0=0 s1=0
	[ -z "$sim" ] || { s0=$(proc_cpu_ticks "$sim"); c0=$((c0 + s0)); }
	sleep "$MEASURE"
	# testpmd's periods stretch on a loaded host: wait (10 s at most) until
	# the window holds two stats lines of each testpmd.
	for ((i = 0; i < 100; i++)); do
		t1=$(bench_now)
		[ "$(stats_rate "$BENCH_TMP/$tag.frontend.log" TX-packets "$t0" "$t1")" != nan ] &&
			{ [ -n "$ctl" ] || [ "$(stats_rate "$BENCH_TMP/$tag.backend.log" RX-packets "$t0" "$t1")" != nan ]; } &&
			break
		sleep 0.1
	done
	if [ -n "$sim" ]; then
		t1=$(bench_now)
		"$VMCLI" --agent "unix:$ctl" -j port show p0 >"$BENCH_TMP/$tag.port-show.json"
		grep -q '"engine": *"accel"' "$BENCH_TMP/$tag.port-show.json" ||
			bdie "$tag: the port is not on the accelerator: $(tr -d '\n' <"$BENCH_TMP/$tag.port-show.json")"
		# The relay figure must come from the relay: chains went through shadow rings.
		if [ "$kind" = accel-relay ] &&
			! tr -d ' \n' <"$BENCH_TMP/$tag.port-show.json" | grep -q '"relayed":[1-9]'; then
			bdie "$tag: no chain went through the shadow rings: $(tr -d '\n' <"$BENCH_TMP/$tag.port-show.json")"
		fi
		be_rate=null
	elif [ -n "$ctl" ]; then
		f1=$(agent_ring_counter "$ctl" p0 1 frames)
		t1=$(bench_now)
		"$VMCLI" --agent "unix:$ctl" -j port show p0 >"$BENCH_TMP/$tag.port-show.json"
		[ -n "$f0" ] && [ -n "$f1" ] || bdie "$tag: no ring 1 frames counter in port show"
		be_rate=$(awk -v a="$f0" -v b="$f1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.4f\n", (b - a) / (e - s) / 1e6 }')
	else
		be_rate=$(stats_rate "$BENCH_TMP/$tag.backend.log" RX-packets "$t0" "$t1")
	fi
	c1=$(proc_cpu_ticks "$be") d1=$(proc_cpu_ticks "$fe")
	[ -z "$sim" ] || { s1=$(proc_cpu_ticks "$sim"); c1=$((c1 + s1)); }
	fe_rate=$(stats_rate "$BENCH_TMP/$tag.frontend.log" TX-packets "$t0" "$t1")
	# The share of a CPU each side got: the host is shared, and a back end
	# that got 60% of its CPU moves 60% of the frames it could.
	be_cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN { printf "%.2f\n", (b - a) / hz / (e - s) }')
	fe_cpu=$(awk -v a="$d0" -v b="$d1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN { printf "%.2f\n", (b - a) / hz / (e - s) }')
	[ "$fe_rate" != nan ] && [ "$be_rate" != nan ] ||
		bdie "$tag: too few stats lines in the window (front end $fe_rate, back end $be_rate)"
	kill -0 "$be" 2>/dev/null || bdie "$tag: back end died: $(tail -5 "$BENCH_TMP/$tag.backend.log")"
	kill -0 "$fe" 2>/dev/null || bdie "$tag: front end died: $(tail -5 "$BENCH_TMP/$tag.frontend.log")"
	[ -z "$sim" ] || kill -0 "$sim" 2>/dev/null || bdie "$tag: vdpa-simd died: $(tail -5 "$BENCH_TMP/$tag.simd.log")"
	bench_stop "$fe"
	bench_stop "$be"
	[ -z "$sim" ] || bench_stop "$sim"
	rm -rf "/var/run/dpdk/vbfe$$-$tag" "/var/run/dpdk/vbbe$$-$tag"
	blog "$tag: front end Tx $fe_rate Mpps (CPU $fe_cpu), back end $be_rate Mpps (CPU $be_cpu), load $(load1)"
	FE_RATES[$kind]="${FE_RATES[$kind]:-} $fe_rate"
	BE_RATES[$kind]="${BE_RATES[$kind]:-} $be_rate"
	BE_SHARE[$kind]="${BE_SHARE[$kind]:-} $be_cpu"
	[ "$be_rate" = null ] || [ "$(suspect "$fe_rate" "$be_rate")" = false ] || SUSPECT[$kind]=true
	# No back-end count for the accelerator: its cost from the front end's rate.
	if [ "$be_rate" = null ]; then
		BE_EFF[$kind]="${BE_EFF[$kind]:-} $(ratio "$fe_rate" "$be_cpu")"
	else
		BE_EFF[$kind]="${BE_EFF[$kind]:-} $(ratio "$be_rate" "$be_cpu")"
	fi
	FE_SHARE[$kind]="${FE_SHARE[$kind]:-} $fe_cpu"
	[ -z "$sim" ] || SIM_SHARE[$kind]="${SIM_SHARE[$kind]:-} $(awk -v a="$s0" -v b="$s1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN { printf "%.2f\n", (b - a) / hz / (e - s) }')"
}

mean() { median "$@"; }
# Back-end rates: "null" when the back end has no counter (the accelerator).
bmean() { case "$1" in null) echo null ;; *) median "$@" ;; esac; }
# Front end and back end disagree by more than 10%: a counter is wrong.
suspect() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; print (b > 0 && d / b <= 0.1) ? "false" : "true" }'; }
jarr() { local IFS=,; echo "[$*]"; }

for r in $(seq 1 "$ROUNDS"); do
	# The peer first in odd rounds, last in even ones.
	if [ $((r % 2)) = 1 ]; then order="dpdk agent agent-log accel accel-relay accel-devlog"
	else order="accel-devlog accel-relay accel agent-log agent dpdk"; fi
	for k in $order; do run_one "$k" "$r"; done
done

# emit BENCH KIND PEER_NAME PEER_KIND: one result line, KIND against PEER_KIND.
# shellcheck disable=SC2086
emit() {
	local v pv vb pvb
	v=$(mean ${FE_RATES[$2]}) pv=$(mean ${FE_RATES[$4]})
	vb=$(bmean ${BE_RATES[$2]}) pvb=$(bmean ${BE_RATES[$4]})
	local sus=false
	[ -z "${SUSPECT[$2]:-}" ] && [ -z "${SUSPECT[$4]:-}" ] || sus=true
	printf '{"bench":"%s","value":%s,"unit":"Mpps","peer":"%s","peer_value":%s,"ratio":%s,' \
		"$1" "$v" "$3" "$pv" "$(ratio "$v" "$pv")"
	printf '"value_backend":%s,"peer_value_backend":%s,"samples":%s,"peer_samples":%s,' \
		"$vb" "$pvb" "$(jarr ${FE_RATES[$2]})" "$(jarr ${FE_RATES[$4]})"
	printf '"cpu_backend":%s,"peer_cpu_backend":%s,"cpu_frontend":%s,"peer_cpu_frontend":%s,' \
		"$(mean ${BE_SHARE[$2]})" "$(mean ${BE_SHARE[$4]})" "$(mean ${FE_SHARE[$2]})" "$(mean ${FE_SHARE[$4]})"
	printf '"backend_mpps_per_cpu":%s,"peer_backend_mpps_per_cpu":%s,' \
		"$(mean ${BE_EFF[$2]})" "$(mean ${BE_EFF[$4]})"
	[ -z "${SIM_SHARE[$2]:-}" ] || printf '"cpu_simd":%s,' "$(mean ${SIM_SHARE[$2]})"
	printf '"seconds":%s,"frame":64,"queue_size":%s,"suspect":%s,"load1":%s%s}\n' \
		"$((ROUNDS * MEASURE))" "$QSIZE" "$sus" "$(load1)" "${5:+,\"note\":\"$5\"}"
}
emit agent.pps.null agent dpdk-vhost dpdk
emit agent.pps.null.logging agent-log agent-nolog agent
emit accel.pps.null accel agent-sw-poll agent \
	"testpmd net_virtio_user txonly 64 B on CPU 1 into an agent port on CPU 0: accel = backend=accel with vdpa-simd --wire null (simd and agent both on CPU 0; the simulator's data path is software, one thread sleeping on the doorbell, so this measures the simulator, not hardware), peer = the same port on the software engine (endpoint=null,poll=on, busy-polling); ratio accel/sw, higher is better; cpu_backend for accel is simd + agent (cpu_simd: simd alone; the rest is the agent's kick relay and its harvester thread)"
emit accel.pps.relay accel-relay accel-direct accel \
	"the accel port above with bench-log=on,dirty-tracking=relay: the device serves shadow rings and the agent relays every chain and marks its buffers in a log, as while QEMU migrates the VM with a device that has no log of its own; peer = the same port direct; ratio relay/direct, target >= 0.7"
emit accel.pps.devlog accel-devlog accel-direct accel \
	"the accel port above with bench-log=on,dirty-tracking=device-log: the device logs into its own log, the agent harvests; peer = the same port direct"
