#!/usr/bin/env bash
# A hostile vhost-user front end (tests/tools/vufront.c) against one agent
# with two loop ports: p0 takes one malformed message or corrupted ring per
# connection, p1 is served by a well-behaved front end that runs the
# dirty-log check after every case.  For each case: the agent is alive, it
# logged a line that names what was wrong, p0 hung up on a protocol error
# (back to "listening") or shows the broken ring with its reason, and p1
# still passes traffic.  Two set-up cases (ring addresses outside memory,
# a memory table that drops running rings) must be logged by name.  At the
# end p0 itself serves a fresh front end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

S0=$(agent_sock a p0)
S1=$(agent_sock a p1)
agent_start a -- --port "name=p0,socket=$S0,endpoint=loop" \
	--port "name=p1,socket=$S1,endpoint=loop"
ALOG=$TEST_DIR/agent-a.log

json_flat() { tr -d '\n' | sed 's/[[:space:]]*\([][{}:,]\)[[:space:]]*/\1/g'; }
port_json() { agent_cli a -j port show "$1" | json_flat; }
port_state() { port_json "$1" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p'; }
# ring_member FLAT_JSON INDEX FIELD: the raw value (string without quotes)
ring_member() {
	printf '%s' "$1" | sed -n "s/.*{\"index\":$2,[^}]*\"$3\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"
}

p0_listening() { [ "$(port_state p0)" = listening ]; }
ring_broken() { [ "$(ring_member "$(port_json p0)" "$1" broken)" = true ]; }

# The agent's log since byte offset $1 has a line matching ERE $2.
agent_logged() { tail -c +$(( $1 + 1 )) "$ALOG" | grep -E -q -- "$2"; }
log_size() { stat -c %s "$ALOG"; }

healthy_p1() { # CASE
	local out=$TEST_DIR/p1-after-$1.log
	"$VUFRONT" log "$S1" --frames 200 >"$out" 2>&1 ||
		fail "after $1: the healthy front end on p1 failed: $(head -n 5 "$out")"
	grep -q '"missed":0' "$out" || fail "after $1: p1: $(cat "$out")"
}

# Protocol cases: CASE|what the agent's log must say (ERE)
PROTO_CASES=(
	'truncated-header|p0: front end disconnected: vhost-user socket: closed in the middle of a message'
	'oversized-size|p0: front end disconnected: vhost-user socket: message size above the limit'
	'wrong-fd-count|p0: front end disconnected: refused SET_VRING_CALL: .*2 fds, expected 1'
	'too-many-fds|p0: front end disconnected: vhost-user socket: more file descriptors than a message may carry'
	'bad-version|p0: front end disconnected: refused GET_FEATURES: .*version 2, expected 1'
	'reply-flag|p0: front end disconnected: refused GET_FEATURES: .*REPLY flag set on a request'
	'unknown-request|p0: front end disconnected: refused .*unknown request 119'
	'mem-overflow|p0: front end disconnected: refused SET_MEM_TABLE: .*guest_phys_addr \+ memory_size overflows'
	'mem-beyond-fd|p0: front end disconnected: refused SET_MEM_TABLE: .*beyond the fd.s size'
	'ring-size|p0: front end disconnected: refused SET_VRING_NUM: .*size 100 is not a power of two'
	'ring-index|p0: front end disconnected: refused SET_VRING_NUM: .*ring index 7 is not below 2'
)
# Ring cases: CASE|ring|reason in port show and in the log (ERE)
RING_CASES=(
	'desc-loop|1|descriptor chain loops'
	'desc-outside|1|descriptor address outside guest memory'
	'len-overflow|1|descriptor address \+ length overflows'
	'next-range|1|descriptor next out of range'
	'avail-jump|1|avail index moved ahead by more than the ring size'
	'indirect-badlen|1|indirect table length not a multiple of 16'
	'indirect-outside|1|indirect table outside guest memory'
	'rx-readable|0|RX chain with readable buffers'
)
# Ring set-up the agent refuses while the front end stays: CASE|ring|log (ERE)
SETUP_CASES=(
	'vring-addr-outside|1|p0: ring 1: descriptor table outside guest memory'
	'mem-shrink|0|p0: ring 0: descriptor table outside guest memory'
)

# Every case vufront knows is covered here, and nothing more.
mapfile -t known < <("$VUFRONT" hostile --list | awk '{ print $1 }' | sort)
mapfile -t mine < <(printf '%s\n' "${PROTO_CASES[@]%%|*}" "${RING_CASES[@]%%|*}" \
	"${SETUP_CASES[@]%%|*}" | sort)
[ "${known[*]}" = "${mine[*]}" ] || fail "case lists differ: vufront has '${known[*]}', test has '${mine[*]}'"

for entry in "${PROTO_CASES[@]}"; do
	case=${entry%%|*} want=${entry#*|}
	from=$(log_size)
	out=$TEST_DIR/hostile-$case.log
	lib_bg "hostile-$case" timeout 20 "$VUFRONT" hostile "$S0" "$case"
	vf=$LIB_PID
	lib_wait_for 10 grep -q '"delivered":true' "$out" || fail "$case: not delivered: $(cat "$out")"
	# Whatever p0's front end does, the agent answers others at once (a
	# message left half-sent must not hold the control thread).
	t0=$(lib_now_cs)
	agent_cli a ports >/dev/null || fail "$case: the control socket does not answer"
	expect "$case: control socket answer time (cs)" $(( $(lib_now_cs) - t0 )) -lt 50
	rc=0
	wait "$vf" || rc=$?
	[ "$rc" -eq 0 ] || fail "$case: vufront failed ($rc): $(cat "$out")"
	agent_check_alive a
	lib_wait_for 5 p0_listening ||
		fail "$case: p0 is $(port_state p0), not listening"
	agent_logged "$from" "$want" ||
		fail "$case: no agent log line /$want/; got: $(tail -c +$((from + 1)) "$ALOG")"
	healthy_p1 "$case"
	log "ok: $case: refused and logged, p1 fine"
done

# Ring cases: the front end stays connected while we look.
for entry in "${RING_CASES[@]}" "${SETUP_CASES[@]}"; do
	IFS='|' read -r case ring want <<<"$entry"
	from=$(log_size)
	out=$TEST_DIR/hostile-$case.log
	done_file=$TEST_DIR/hostile-$case.done
	rm -f "$done_file"
	lib_bg "hostile-$case" timeout 30 "$VUFRONT" hostile "$S0" "$case" --hold 20 --until "$done_file"
	vf=$LIB_PID
	lib_wait_for 10 grep -q '"delivered":true' "$out" || fail "$case: not delivered: $(cat "$out")"
	agent_check_alive a
	case $case in
	vring-addr-outside|mem-shrink)
		# Refused, or the rings stop: either way the log names the address.
		lib_wait_for 5 agent_logged "$from" "$want" ||
			fail "$case: no agent log line /$want/; got: $(tail -c +$((from + 1)) "$ALOG")"
		js=$(port_json p0)
		if [ "$case" = vring-addr-outside ]; then
			[ "$(ring_member "$js" 1 started)" = false ] || fail "$case: ring 1 started: $js"
		else
			# The rings the new table left behind are shown broken, not running.
			lib_wait_for 5 ring_broken "$ring" || fail "$case: ring $ring is not shown broken: $js"
		fi
		;;
	*)
		lib_wait_for 5 ring_broken "$ring" ||
			fail "$case: ring $ring is not broken: $(port_json p0)"
		reason=$(ring_member "$(port_json p0)" "$ring" reason)
		printf '%s\n' "$reason" | grep -E -q -- "$want" ||
			fail "$case: ring $ring reason '$reason', expected /$want/"
		lib_wait_for 5 agent_logged "$from" "p0: ring $ring: guest error, ring stopped: .*$want" ||
			fail "$case: no agent log line for ring $ring; got: $(tail -c +$((from + 1)) "$ALOG")"
		;;
	esac
	# p1 works while p0's hostile front end is still connected.
	healthy_p1 "$case"
	touch "$done_file"
	rc=0
	wait "$vf" || rc=$?
	[ "$rc" -eq 0 ] || fail "$case: vufront exited $rc: $(cat "$out")"
	lib_wait_for 5 p0_listening ||
		fail "$case: p0 is $(port_state p0) after the front end left"
	agent_check_alive a
	if [ -z "${reason:-}" ]; then
		log "ok: $case: logged /$want/, p1 fine"
	else
		log "ok: $case: ring $ring broken ($reason), p1 fine"
	fi
	reason=""
done

# p0 still serves a well-behaved front end, dirty log and all.
out=$TEST_DIR/p0-final.log
"$VUFRONT" log "$S0" --frames 500 >"$out" 2>&1 || fail "p0 after the hostile cases: $(head -n 5 "$out")"
log "p0 after all cases: $(grep '^LOGCHECK' "$out")"
grep -q '"missed":0' "$out" || fail "p0 final: $(cat "$out")"
agent_check_alive a
conns=$(port_json p0 | sed -n 's/.*"connections":\([0-9]*\).*/\1/p')
expect "p0 connections" "$conns" -eq $(( ${#PROTO_CASES[@]} + ${#RING_CASES[@]} + ${#SETUP_CASES[@]} + 1 ))
log "PASS"
