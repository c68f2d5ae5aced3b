#!/usr/bin/env bash
# Migration downtime, interleaved across back ends, with the back end's own
# phases beside QEMU's figure.  One guest per configuration, each on its own
# pair of "hosts" (A and B), all booted at once and paused but the one
# whose turn it is (see alone()); the guests take turns:
# round r migrates every configuration's guest once (A -> B on odd rounds,
# B -> A on even ones), so every configuration sees the same machine load
# over the run.  QEMU 10 lane (VDPA_QEMU=10 unless set): QEMU 7.2's downtime
# figure is not comparable (see docs/architecture.md).
#
# Configurations (CONFIGS, default "sw sw4 sw8 accel1 accel4 accel8 relay1
# dpdk"):
#   sw       the agent's software path on both hosts (endpoint=null)
#   swN      the same with N queue pairs (the guest's NIC too): QEMU stops
#            and starts a vhost device per queue pair, a round trip per
#            ring, whatever the back end; accelN is compared with it
#   accelN   the agent on a vdpa-simd with N queue pairs on both hosts
#            (backend=accel, wire null), the guest's NIC with N queue pairs
#   relayN   the same with dirty-tracking=relay: the source's device serves
#            shadow rings while QEMU logs (how a device without a log of its
#            own migrates), compared with accelN (the device's own log)
#   dpdk     dpdk-testpmd (net_vhost, rxonly) on both hosts, one queue pair
# The guest sends 500 UDP datagrams/s out of its NIC, which every back end
# drops.  testpmd runs only while a dpdk guest migrates (see pollers()).
#
#   tests/bench/bench_downtime.sh BUILD_DIR
#   env: MIGRATIONS (40 per configuration), CONFIGS, VDPA_QEMU (10),
#        MIGRATE_DOWNTIME_LIMIT (QEMU's downtime-limit, 10 ms),
#        VDPA_GUEST_DIR (the test guest; built if unset),
#        TIMELINE (1: see timeline() below; a run to look into, whose
#        figures are not the bench's: the debug lines cost the back ends)
#
# Per migration, besides QEMU's downtime: the source agent's switchover
# phase (its first GET_VRING_BASE to its last reply) and the destination
# agent's (memory table to the last ring's start), from port show's
# "switchover" object right after the migration (the source port keeps it
# after its QEMU quit).
#
# Results, one line per configuration:
#   {"bench":"migration.downtime.CONFIG","unit":"ms","value":P50,"p90":..,
#    "samples":[..] (QEMU's downtime, whole ms), "downtime_bytes":{"p50":..,
#    "p90":..} (guest RAM QEMU sent inside the downtime), "downtime_us":
#    {"p50":..,"p90":..} and "downtime_us_samples" (the window the guest
#    sees, from QEMU's trace checkpoints: see TRACE below), "vm_stop_us" and
#    "vm_start_us" (its source's stop and destination's start, where the
#    vhost devices stop and start) and "vm_stop_start_us" (their sum, per
#    migration: the back end's share of the window as QEMU sees it, without
#    the RAM and device state QEMU moves in between), "backend_source_us":
#    {"p50":..,"p90":..},
#    "backend_dest_us":{..}, "backend_us":{..} (source + destination),
#    "backend_handling_us":{..} (the agents' own time inside those spans:
#    source + destination handling), "backend_source_handling_us",
#    "backend_dest_handling_us",
#    "peer":"dpdk-vhost","peer_value":P50,"ratio":P50/peer P50,
#    "peer_downtime_us":..,"ratio_us":.. (the same on downtime_us),
#    "ratio_us_ci":[lo,hi], ...}
# and one per accelerator configuration against the software path
# ("migration.downtime.accelN_vs_sw" and "..._vs_swN": "value" on QEMU's
# figure, "downtime_us_ratio" on downtime_us, "vm_stop_start_ratio" on
# vm_stop_start_us, each with a 95% bootstrap interval ("..._ci", see
# ratio_ci), "handling_ratio" on the agents' handling).
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
export VDPA_QEMU=${VDPA_QEMU:-10}
. "$here/../integration/lib.sh"
. "$here/../integration/agent.sh"
lib_init
lib_on_cleanup find "$TEST_DIR" '(' -type s -o -type p ')' -delete

# 20 migrations per configuration gave the ratio of two windows' p50s a
# 95% interval 0.3 to 0.9 wide (stop 28), too wide to rank a 10%
# difference; 40 give 0.16 to 0.2 (stop 29).
MIGRATIONS=${MIGRATIONS:-40}
TIMELINE=${TIMELINE:-0}
LOGARGS=()
if [ "$TIMELINE" = 1 ]; then
	LOGARGS=(--log-level debug)
fi
# QEMU stops the guest once what is left to send fits its downtime-limit at
# the bandwidth it measured: with 300 ms it stopped some guests with 13 MB
# of RAM left (about 90 ms of downtime spent sending RAM) and others with
# 0.3 MB, which ranked the configurations by chance.  10 ms leaves about
# 1 MB here, the same for all; the RAM sent in the downtime is reported
# too ("downtime_bytes").
export MIGRATE_DOWNTIME_LIMIT=${MIGRATE_DOWNTIME_LIMIT:-10}
CONFIGS=${CONFIGS:-sw sw4 sw8 accel1 accel4 accel8 relay1 dpdk}
SINK_IP=10.81.0.1 SINK_MAC=52:54:00:81:00:01
RATE=500
command -v dpdk-testpmd >/dev/null || fail "dpdk-testpmd not installed"

declare -A SOCK=() PID=() CUR=() WHERE=()

queues_of() {
	case "$1" in
	accel*) echo "${1#accel}" ;;
	relay*) echo "${1#relay}" ;;
	sw?*) echo "${1#sw}" ;;
	*) echo 1 ;;
	esac
}
is_agent() { [ "$1" != dpdk ]; }
agent_name() { echo "$1$2"; }	# CONFIG HOST

backends_start() { # CONFIG
	local c=$1 h q
	q=$(queues_of "$c")
	for h in A B; do
		case "$c" in
		sw*)
			agent_start "$c$h" -- ${LOGARGS[@]+"${LOGARGS[@]}"} \
				--port "name=p0,socket=$(agent_sock "$c$h" p0),endpoint=null,queues=$q"
			SOCK[$c$h]=$(agent_sock "$c$h" p0)
			;;
		accel* | relay*)
			local tr=""
			[ "${c#relay}" = "$c" ] || tr=",dirty-tracking=relay"
			simd_start "sim$c$h" -- --wire null --queues "$q" ${LOGARGS[@]+"${LOGARGS[@]}"}
			agent_start "$c$h" -- ${LOGARGS[@]+"${LOGARGS[@]}"} \
				--port "name=p0,socket=$(agent_sock "$c$h" p0),endpoint=null,queues=$q,backend=accel,device=vfio-user:$(simd_sock "sim$c$h")$tr"
			SOCK[$c$h]=$(agent_sock "$c$h" p0)
			;;
		dpdk)
			local sock=$TEST_DIR/tp$h.sock prefix=vbdt$$$h
			rm -f "$sock"
			lib_on_cleanup rm -rf "/var/run/dpdk/$prefix"
			lib_bg "testpmd-$h" dpdk-testpmd --lcores "0@0,1@1" --no-huge -m 1024 --no-pci \
				--single-file-segments --file-prefix="$prefix" --log-level=lib.eal:error \
				--vdev "net_vhost0,iface=$sock,queues=1,client=0" -- \
				--forward-mode=rxonly --nb-cores=1 --rxq=1 --txq=1 --stats-period 1
			PID[$c$h]=$LIB_PID
			lib_wait_for 90 test -S "$sock" ||
				fail "testpmd $h did not create $sock: $(tail -5 "$TEST_DIR/testpmd-$h.log")"
			SOCK[$c$h]=$sock
			;;
		esac
	done
}

# QEMU's own downtime figure ("downtime" of query-migrate) has whole
# milliseconds and ends when the source has sent the last byte, before the
# destination starts its devices.  Newer QEMUs (10 here, not 7.2) trace checkpoints
# of the downtime window (vmstate_downtime_checkpoint); with -msg
# timestamp=on each line has the host's wall clock in microseconds, and both
# QEMUs run on this host, so the window the guest sees, from the source's
# "src-downtime-start" to the destination's "dst-precopy-bh-vm-started" (its
# vm_start() has run every vhost device's start, which waits for the back
# end's replies), is measured to the microsecond, and split: the source's
# "src-downtime-start" -> "src-vm-stopped" (the vCPUs stop and every vhost
# device stops: the back end's GET_VRING_BASE replies) and the destination's
# "dst-precopy-bh-announced" -> "dst-precopy-bh-vm-started" (the vhost
# devices start).
TRACE=()
if "$QEMU_BIN" -trace help 2>/dev/null | grep -qx vmstate_downtime_checkpoint; then
	TRACE=(-trace vmstate_downtime_checkpoint -msg timestamp=on)
else
	log "$QEMU_BIN has no vmstate_downtime_checkpoint trace: microsecond downtime not measured"
fi
# checkpoint_us NAME CHECKPOINT: the wall clock (us) of NAME's last trace of
# CHECKPOINT ("PID@SEC.USEC:vmstate_downtime_checkpoint CHECKPOINT").
checkpoint_us() {
	local t
	t=$(sed -n "s/^[0-9]*@\([0-9]*\)\.\([0-9]\{6\}\):vmstate_downtime_checkpoint $2\$/\1\2/p" \
		"$TEST_DIR/$1.qemu.log" | tail -n1)
	[ -n "$t" ] && echo "$t"
}

# timeline CONFIG SRC DST (TIMELINE=1): the migration from guest SRC to
# guest DST as one list in time order, microseconds from the source's
# src-downtime-start: both QEMUs' checkpoints, and the agents' requests
# and the devices' commands (their debug lines carry the wall clock the
# trace uses), from 1 ms before the window to 1 ms after it.
timeline() {
	local c=$1 src=$2 dst=$3 t0 t1 f
	t0=$(checkpoint_us "$src" src-downtime-start) || return 0
	t1=$(checkpoint_us "$dst" dst-precopy-bh-vm-started) || return 0
	{
		for f in "$src" "$dst"; do
			sed -n "s/^[0-9]*@\([0-9]*\)\.\([0-9]\{6\}\):vmstate_downtime_checkpoint \(.*\)/\1\2 qemu-$f \3/p" \
				"$TEST_DIR/$f.qemu.log"
		done
		for f in "$TEST_DIR/agent-${c}A.log" "$TEST_DIR/agent-${c}B.log" \
			"$TEST_DIR/simd-sim${c}A.log" "$TEST_DIR/simd-sim${c}B.log"; do
			[ -f "$f" ] || continue
			sed -n "s/^\(.*\) \(at\|by\) \([0-9]*\)\.\([0-9]\{6\}\) (wall clock)\(.*\)/\3\4 $(basename "$f" .log) \1\5/p" "$f"
		done
	} | sort -n -k1,1 -s | awk -v a=$((t0 - 1000)) -v b=$((t1 + 1000)) -v t0="$t0" \
		'$1 >= a && $1 <= b { $1 = sprintf("%+8d", $1 - t0); print }'
}

vm_on() { # CONFIG NAME HOST [QEMU ARGS...]
	local c=$1 name=$2 host=$3 nic q n
	shift 3
	q=$(queues_of "$c")
	n=$(( $(printf '%s\n' $CONFIGS | grep -nx "$c" | cut -d: -f1) + 10 ))
	mapfile -t nic < <(vu_netdev_args n0 "${SOCK[$c$host]}" "52:54:00:81:00:$n" "$q")
	vm_start "$name" --append "vdpa.ip=10.81.0.$n/24 vdpa.queues=$q" -- "${nic[@]}" ${TRACE[@]+"${TRACE[@]}"} "$@"
}

# The agent's port show of CONFIG's port on HOST, flat (no white space).
show_flat() { agent_cli "$1" -j port show p0 2>/dev/null | tr -d ' \n'; }
num_in() { # FLAT OBJECT MEMBER: a number inside "OBJECT":{...}
	printf '%s' "$1" | sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9]*\).*/\1/p"
}

for c in $CONFIGS; do
	backends_start "$c"
	CUR[$c]=$c-g0 WHERE[$c]=A
	vm_on "$c" "$c-g0" A
done
for c in $CONFIGS; do
	vm_wait_ready "$c-g0" 120 || fail "$c: guest did not boot"
	vm_run "$c-g0" "arp -i eth0 -s $SINK_IP $SINK_MAC" 15 || fail "$c: arp -s failed in the guest"
	vm_send "$c-g0" "trafficcheck send --dst $SINK_IP:5000 --rate $RATE --duration 36000 >/dev/null 2>&1 &"
done
sleep 2

# testpmd busy-polls: its forwarding lcore takes a whole core whether or
# not a frame comes.  On this 2-core machine two idle testpmds would take
# one of the two cores from every other configuration's migration, so they
# run only while a dpdk guest migrates and are stopped (SIGSTOP) while the
# others do; the dpdk guest's frames wait in its rings meanwhile.
pollers() { # CONFIG: the configuration about to migrate
	local sig=STOP h
	[ "$1" = dpdk ] && sig=CONT
	for h in A B; do
		[ -n "${PID[dpdk$h]:-}" ] && kill -"$sig" "${PID[dpdk$h]}"
	done
	return 0
}

lib_on_cleanup pollers dpdk

# Each migration runs with its own guest alone: the other configurations'
# guests are paused (QMP stop; QEMU stops their vhost devices too) and
# resumed for their turn.  Six TCG guests alive at once on 2 cores made
# every round trip between the agent and its device wait for a core, and
# the figures measured that wait more than the back ends (e.g. a
# destination's accel4 configuration took 1.1 ms with its guest alone and
# 11.9 ms beside five others, for the same requests).
ALIVE=""
alone() { # CONFIG: the configuration about to migrate
	local o
	if [ -z "$ALIVE" ]; then
		for o in $CONFIGS; do
			[ "$o" = "$1" ] || qmp "${CUR[$o]}" stop >/dev/null 2>&1 || true
		done
	elif [ "$ALIVE" != "$1" ]; then
		qmp "${CUR[$ALIVE]}" stop >/dev/null 2>&1 || true
	fi
	if [ "$ALIVE" != "$1" ]; then
		qmp "${CUR[$1]}" cont >/dev/null 2>&1 || fail "$1: cont of ${CUR[$1]} failed"
		sleep 1  # its device restarts and its traffic resumes
	fi
	ALIVE=$1
}

declare -A DOWN=() SRC=() DST=() SH=() DH=() DBYTES=() DUS=() VSTOP=() VSTART=() VSS=()
for r in $(seq 1 "$MIGRATIONS"); do
	for c in $CONFIGS; do
		pollers "$c"
		alone "$c"
		from=${WHERE[$c]}
		if [ "$from" = A ]; then to=B; else to=A; fi
		cur=${CUR[$c]} next=$c-g$r
		vm_on "$c" "$next" "$to" -incoming "unix:$TEST_DIR/$c-mig$r.sock"
		lib_wait_for 20 test -S "$TEST_DIR/$next.qmp" || fail "$next: no QMP socket"
		sleep 1  # let the destination connect to its back end
		res=$(migrate_vm "$cur" "$next" "unix:$TEST_DIR/$c-mig$r.sock" 120) || exit 1
		DOWN[$c]+="${res% *} "
		db=$(sed -n 's/.*"downtime-bytes": *\([0-9]*\).*/\1/p' "$TEST_DIR/migrate-$cur-$next.json" | head -n1)
		DBYTES[$c]+="${db:-0} "
		msg="$c migration $r ($from -> $to): downtime ${res% *} ms (${db:-?} bytes of RAM sent in it)"
		if [ ${#TRACE[@]} -gt 0 ]; then
			# The destination traces vm-started right after its vm_start().
			lib_wait_for 10 checkpoint_us "$next" dst-precopy-bh-vm-started >/dev/null ||
				fail "$next: no dst-precopy-bh-vm-started in its trace"
			t0=$(checkpoint_us "$cur" src-downtime-start) || fail "$cur: no src-downtime-start in its trace"
			t1=$(checkpoint_us "$cur" src-vm-stopped) || fail "$cur: no src-vm-stopped in its trace"
			t2=$(checkpoint_us "$next" dst-precopy-bh-announced) || fail "$next: no dst-precopy-bh-announced in its trace"
			t3=$(checkpoint_us "$next" dst-precopy-bh-vm-started)
			DUS[$c]+="$(( t3 - t0 )) " VSTOP[$c]+="$(( t1 - t0 )) " VSTART[$c]+="$(( t3 - t2 )) "
			VSS[$c]+="$(( t1 - t0 + t3 - t2 )) "
			msg+=", guest-visible $(( t3 - t0 )) us (vm stop $(( t1 - t0 )) us, vm start $(( t3 - t2 )) us;"
			prev=$t0
			for cp in "$cur src-iterable-saved" "$cur src-non-iterable-saved" \
				"$next dst-precopy-loadvm-completed" "$next dst-precopy-bh-enter" "$next dst-precopy-bh-announced"; do
				t=$(checkpoint_us $cp) || continue
				msg+=" ${cp#* } +$(( t - prev ))"
				prev=$t
			done
			msg+=")"
		fi
		if is_agent "$c"; then
			# The source port keeps its figures after its QEMU quits; the
			# destination's rings start with the VM (a moment after).
			lib_wait_for 10 eval "show_flat $c$to | grep -q '\"state\":\"running\"'" ||
				log "WARNING: $c: the destination port on $to does not run"
			s=$(show_flat "$c$from") d=$(show_flat "$c$to")
			su=$(num_in "$s" switchover source_us) du=$(num_in "$d" switchover dest_us)
			[ -n "$su" ] || fail "$c: source $from reports no switchover phase: $s"
			SRC[$c]+="$su " DST[$c]+="${du:-0} "
			msg+=", backend source $su us (handling $(num_in "$s" switchover source_handling_us) us)"
			msg+=", destination ${du:-?} us (memory table $(num_in "$d" switchover dest_mem_table_us) us,"
			msg+=" ring starts $(num_in "$d" switchover dest_ring_start_us) us,"
			msg+=" handling $(num_in "$d" switchover dest_handling_us) us)"
			SH[$c]+="$(num_in "$s" switchover source_handling_us) "
			DH[$c]+="$(num_in "$d" switchover dest_handling_us) "
			case "$c" in accel* | relay*)
				msg+="; device: source stop $(num_in "$s" accel stop_us) harvest $(num_in "$s" accel harvest_us)"
				msg+=" bases $(num_in "$s" accel bases_us), destination map $(num_in "$d" accel map_us)"
				msg+=" config $(num_in "$d" accel config_us) start $(num_in "$d" accel start_us) us"
				;;
			esac
		fi
		log "$msg"
		if [ "$TIMELINE" = 1 ] && [ ${#TRACE[@]} -gt 0 ]; then
			timeline "$c" "$cur" "$next" >"$TEST_DIR/timeline-$c-$r.txt"
			log "$c migration $r: timeline in $TEST_DIR/timeline-$c-$r.txt"
		fi
		vm_stop "$cur"
		rm -f "$TEST_DIR/$c-mig$r.sock"
		CUR[$c]=$next WHERE[$c]=$to
	done
done
pollers dpdk
for c in $CONFIGS; do
	qmp "${CUR[$c]}" cont >/dev/null 2>&1 || fail "$c: cont of ${CUR[$c]} failed"
done
for c in $CONFIGS; do
	vm_run "${CUR[$c]}" "true" 15 || fail "$c: guest does not answer after the migrations"
	vm_check_console "${CUR[$c]}" || log "WARNING: $c: errors on the guest console"
done

pct() { # P VALUES...: the P-th percentile, nearest rank
	local p=$1; shift
	printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ v[NR] = $1 }
		END { if (!NR) { print "null"; exit } i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}
stats() { # VALUES...: {"p50":..,"p90":..}
	[ $# -gt 0 ] || { echo null; return; }
	printf '{"p50":%s,"p90":%s}' "$(pct 50 "$@")" "$(pct 90 "$@")"
}
jarr() { local IFS=,; echo "[$*]"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "null") print "null"; else printf "%.3f\n", a / b }'; }
p50_of() { # "VALUES": the p50 of a space-separated list, as the arrays above hold them
	local v
	read -r -a v <<<"$1"
	pct 50 "${v[@]}"
}

# ratio_ci "A SAMPLES" "B SAMPLES": a 95% bootstrap interval of
# p50(A) / p50(B), as "[lo,hi]" (2000 resamples of each set, drawn apart,
# a fixed seed): a ratio whose interval holds 1.0 does not rank the two.
ratio_ci() {
	awk -v a="$1" -v b="$2" '
	function isort(s, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t }
	}
	function med(x, n,   i, s) {	# nearest rank, as pct
		for (i = 1; i <= n; i++) s[i] = x[i]
		isort(s, n)
		return s[int((50 * n + 99) / 100)]
	}
	BEGIN {
		na = split(a, A, " "); nb = split(b, B, " ")
		if (!na || !nb) { print "null"; exit }
		srand(14); R = 2000
		for (r = 1; r <= R; r++) {
			for (i = 1; i <= na; i++) xa[i] = A[1 + int(rand() * na)]
			for (i = 1; i <= nb; i++) xb[i] = B[1 + int(rand() * nb)]
			m = med(xb, nb); q[r] = m > 0 ? med(xa, na) / m : 0
		}
		isort(q, R)
		printf "[%.3f,%.3f]\n", q[int(R * 0.025) + 1], q[int(R * 0.975)]
	}'
}

peer=""
case " $CONFIGS " in *" dpdk "*) read -r -a d <<<"${DOWN[dpdk]}"; peer=$(pct 50 "${d[@]}") ;; esac
for c in $CONFIGS; do
	read -r -a dn <<<"${DOWN[$c]}"
	p50=$(pct 50 "${dn[@]}")
	read -r -a db <<<"${DBYTES[$c]}"
	line=$(printf '{"bench":"migration.downtime.%s","unit":"ms","value":%s,"p90":%s,"samples":%s,"migrations":%s,"qemu":"%s","queue_pairs":%s,"downtime_limit_ms":%s,"downtime_bytes":%s' \
		"$c" "$p50" "$(pct 90 "${dn[@]}")" "$(jarr "${dn[@]}")" "$MIGRATIONS" "$QEMU_VERSION" "$(queues_of "$c")" \
		"$MIGRATE_DOWNTIME_LIMIT" "$(stats "${db[@]}")")
	if [ -n "${DUS[$c]:-}" ]; then
		read -r -a du <<<"${DUS[$c]}"
		read -r -a vs <<<"${VSTOP[$c]}"
		read -r -a vt <<<"${VSTART[$c]}"
		read -r -a vb <<<"${VSS[$c]}"
		line+=$(printf ',"downtime_us":%s,"downtime_us_samples":%s,"vm_stop_us":%s,"vm_start_us":%s,"vm_stop_start_us":%s' \
			"$(stats "${du[@]}")" "$(jarr "${du[@]}")" "$(stats "${vs[@]}")" "$(stats "${vt[@]}")" \
			"$(stats "${vb[@]}")")
	fi
	if is_agent "$c"; then
		read -r -a s <<<"${SRC[$c]}"
		read -r -a t <<<"${DST[$c]}"
		sum=()
		for i in "${!s[@]}"; do sum+=($(( s[i] + ${t[i]:-0} ))); done
		line+=$(printf ',"backend_source_us":%s,"backend_dest_us":%s,"backend_us":%s,"backend_us_samples":%s' \
			"$(stats "${s[@]}")" "$(stats "${t[@]}")" "$(stats "${sum[@]}")" "$(jarr "${sum[@]}")")
		# The agent's own handling inside those spans (the rest is QEMU's
		# time between its requests).
		read -r -a sh <<<"${SH[$c]}"
		read -r -a dh <<<"${DH[$c]}"
		hsum=()
		for i in "${!sh[@]}"; do hsum+=($(( ${sh[i]:-0} + ${dh[i]:-0} ))); done
		line+=$(printf ',"backend_handling_us":%s,"backend_source_handling_us":%s,"backend_dest_handling_us":%s' \
			"$(stats "${hsum[@]}")" "$(stats "${sh[@]}")" "$(stats "${dh[@]}")")
	fi
	if [ -n "$peer" ] && [ "$c" != dpdk ]; then
		line+=$(printf ',"peer":"dpdk-vhost","peer_value":%s,"ratio":%s' "$peer" "$(ratio "$p50" "$peer")")
		if [ -n "${DUS[$c]:-}" ] && [ -n "${DUS[dpdk]:-}" ]; then
			ub=$(p50_of "${DUS[dpdk]}")
			line+=$(printf ',"peer_downtime_us":%s,"ratio_us":%s,"ratio_us_ci":%s' "$ub" \
				"$(ratio "$(p50_of "${DUS[$c]}")" "$ub")" "$(ratio_ci "${DUS[$c]}" "${DUS[dpdk]}")")
		fi
	fi
	echo "$line}"
done
# Each accelerator configuration against the software path (the issue's
# "at most 1.1 x"): with one queue pair (sw), and with as many as it has
# (swN, when run), QEMU's downtime and the back end's own handling.
has_config() { case " $CONFIGS " in *" $1 "*) return 0 ;; esac; return 1; }
handling_p50() { # CONFIG
	local sh dh hs=() i
	read -r -a sh <<<"${SH[$1]}"
	read -r -a dh <<<"${DH[$1]}"
	for i in "${!sh[@]}"; do hs+=($(( ${sh[i]:-0} + ${dh[i]:-0} ))); done
	pct 50 "${hs[@]}"
}
for c in $CONFIGS; do
	case "$c" in accel* | relay*) ;; *) continue ;; esac
	q=$(queues_of "$c")
	for w in sw "sw$q"; do
		has_config "$w" || continue
		read -r -a a <<<"${DOWN[$c]}"
		read -r -a b <<<"${DOWN[$w]}"
		ha=$(handling_p50 "$c") hb=$(handling_p50 "$w")
		ua=null ub=null va=null vb=null uci=null vci=null
		if [ -n "${DUS[$c]:-}" ] && [ -n "${DUS[$w]:-}" ]; then
			uci=$(ratio_ci "${DUS[$c]}" "${DUS[$w]}") vci=$(ratio_ci "${VSS[$c]}" "${VSS[$w]}")
			ua=$(p50_of "${DUS[$c]}") ub=$(p50_of "${DUS[$w]}")
			va=$(p50_of "${VSS[$c]}") vb=$(p50_of "${VSS[$w]}")
		fi
		printf '{"bench":"migration.downtime.%s_vs_%s","unit":"ratio","value":%s,"accel_p50":%s,"sw_p50":%s,"downtime_us_ratio":%s,"downtime_us_ratio_ci":%s,"accel_downtime_us_p50":%s,"sw_downtime_us_p50":%s,"vm_stop_start_ratio":%s,"vm_stop_start_ratio_ci":%s,"accel_vm_stop_start_us_p50":%s,"sw_vm_stop_start_us_p50":%s,"handling_ratio":%s,"accel_handling_us_p50":%s,"sw_handling_us_p50":%s}\n' \
			"$c" "$w" "$(ratio "$(pct 50 "${a[@]}")" "$(pct 50 "${b[@]}")")" "$(pct 50 "${a[@]}")" "$(pct 50 "${b[@]}")" \
			"$(ratio "$ua" "$ub")" "$uci" "$ua" "$ub" "$(ratio "$va" "$vb")" "$vci" "$va" "$vb" \
			"$(ratio "$ha" "$hb")" "$ha" "$hb"
	done
done
# The relay against the device's own log, same queue count.
for c in $CONFIGS; do
	case "$c" in relay*) ;; *) continue ;; esac
	has_config "accel${c#relay}" || continue
	read -r -a a <<<"${DOWN[$c]}"
	read -r -a w <<<"${DOWN[accel${c#relay}]}"
	ua=null ub=null
	if [ -n "${DUS[$c]:-}" ] && [ -n "${DUS[accel${c#relay}]:-}" ]; then
		ua=$(p50_of "${DUS[$c]}") ub=$(p50_of "${DUS[accel${c#relay}]}")
	fi
	printf '{"bench":"migration.downtime.%s_vs_accel%s","unit":"ratio","value":%s,"relay_p50":%s,"devlog_p50":%s,"downtime_us_ratio":%s,"relay_downtime_us_p50":%s,"devlog_downtime_us_p50":%s}\n' \
		"$c" "${c#relay}" "$(ratio "$(pct 50 "${a[@]}")" "$(pct 50 "${w[@]}")")" "$(pct 50 "${a[@]}")" "$(pct 50 "${w[@]}")" \
		"$(ratio "$ua" "$ub")" "$ua" "$ub"
done
log "logs in $TEST_DIR"
