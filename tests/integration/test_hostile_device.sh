#!/usr/bin/env bash
# A hostile accelerator (tests/tools/hostiledev.c, a vfio-user server that
# misbehaves in one chosen way) behind the real agent.  One agent, two
# ports: p0 backend=accel on hostiledev's socket, p1 a software loop port.
# For each mode, a front end (tests/tools/vufront.c, playing QEMU) connects
# to p0; that makes the agent open the device (agent/daemon/port.c on_accept ->
# use_accel -> accel_dev_open), and hostiledev misbehaves.
#
# The intended behaviour, from the code: the agent never refuses the front
# end because of its device.  A device that fails while it is opened
# (VERSION .. GET_FEATURES) leaves the port in software from the start, with
# one warning "port p0: accelerator unavailable, serving in software:
# device vfio-user:PATH: <what was wrong>"; a device that fails later, once
# the rings are on it (dma-map-close, start-refused), is dropped: "port p0:
# accelerator: <what>: <why>" then "port p0: falling back to software".
# Either way the port's fallbacks counter goes up by one and p0 serves the
# front end on the software engine (vufront's dirty-log check passes on it).
#
# Required per mode: hostiledev says it misbehaved; the agent is alive and
# its control socket answers; the log has the line naming the fault
# (exactly one "accelerator unavailable" line for a device that failed at
# open); port show p0 says engine "sw" while the front end is connected;
# p0 and p1 pass traffic.  The silent and stall modes must end within 5 s
# (ACCEL_DEV_TIMEOUT_MS is 1 s per request).  At the end the agent holds
# no more fds than before the first mode (every fd a device sent was
# closed).  Every mode hostiledev knows is covered here, and nothing more.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build
HOSTILEDEV=$(tool_build_with_libs hostiledev)

DEV=$TEST_DIR/hostiledev.sock
S0=$(agent_sock a p0)
S1=$(agent_sock a p1)
agent_start a -- \
	--port "name=p0,socket=$S0,endpoint=loop,backend=accel,device=vfio-user:$DEV" \
	--port "name=p1,socket=$S1,endpoint=loop"
ALOG=$TEST_DIR/agent-a.log
FRAMES=50

json_flat() { tr -d '\n' | sed 's/[[:space:]]*\([][{}:,]\)[[:space:]]*/\1/g'; }
# Bounded: a hung agent must fail the test, not hang it.
port_json() { timeout 5 "$VMCLI" --agent "unix:$(agent_rt a)/control.sock" -j port show "$1" | json_flat; }
port_member() { port_json "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }
log_size() { stat -c %s "$ALOG"; }
since() { tail -c +$(( $1 + 1 )) "$ALOG"; }
agent_logged() { since "$1" | grep -E -q -- "$2"; }
agent_fds() { find "/proc/${AGENT_PID[a]}/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# vufront printed its LOGCHECK line, or exited without one.
checked_or_gone() { grep -q '^LOGCHECK' "$1" || ! kill -0 "$2" 2>/dev/null; }

healthy() { # PORT CASE: a well-behaved front end passes traffic on PORT
	local out=$TEST_DIR/$1-after-$2.log
	timeout 30 "$VUFRONT" log "$(agent_sock a "$1")" --frames $FRAMES >"$out" 2>&1 ||
		fail "after $2: the front end on $1 failed: $(head -n 5 "$out")"
	grep -q '"missed":0' "$out" || fail "after $2: $1: $(cat "$out")"
}

# MODE|stage|what the agent's log must say (ERE).  stage "open": the device
# failed while being opened; "late": after the rings moved onto it.
U='p0: accelerator unavailable, serving in software: device vfio-user:[^ ]*: '
CASES=(
	"garbage|open|${U}VERSION: receive: Message too long"
	"short-close|open|${U}VERSION: receive: Connection reset by peer"
	"wrong-id|open|${U}VERSION: reply does not match: .*reply msg_id 0x5a5, the command had 0"
	"size-max|open|${U}VERSION: receive: Message too long"
	"silent|open|${U}VERSION: no reply within 1000 ms"
	"close-first|open|${U}VERSION: the device closed the connection"
	"stall-mid|open|${U}VERSION: receive: Connection timed out"
	"version-major|open|${U}vfio-user version 1\\.0 is not 0\\.x"
	"unexpected-fds|open|${U}VERSION: bad reply: VERSION reply: 2 fds, expected 0"
	"fd-flood|open|${U}VERSION: receive: No buffer space available"
	"errno-range|open|${U}VERSION: bad reply: header: error reply with errno 5000, not 1\\.\\.4095"
	"too-many-regions|open|${U}DEVICE_GET_INFO: bad reply: .*num_regions 65 is above 64"
	"region-huge|open|${U}DEVICE_GET_REGION_INFO: bad reply: .*offset \\+ size \\(0x8000000000000000\\) is beyond the fd's size \\(0x1000\\)"
	"region-overflow|open|${U}DEVICE_GET_REGION_INFO: bad reply: .*offset 0xfffffffffffff000 \\+ size 0x2000 overflows"
	"region-small|open|${U}mailbox region of 16 bytes, need [0-9]+"
	"irq-few|open|${U}1 interrupt vectors for 2 rings"
	"doorbell-missing|open|${U}no doorbell eventfd for ring 1"
	"mailbox-garbage|open|p0: accelerator: GET_FEATURES: GET_FEATURES: bad reply: header: payload size 2779096485 above the 264 limit"
	"mailbox-mismatch|open|p0: accelerator: GET_FEATURES: GET_FEATURES: reply does not match: GET_VRING_BASE: reply to 0xc008af12, the request was 0x8008af00"
	# Seen by the watch on the device fd, or by the start collecting the
	# mapping's reply, whichever comes first (a race, both right).
	"dma-map-close|late|p0: accelerator: DMA map (or preparation|of guest memory|of guest memory or preparing the device): DMA_MAP: the device closed the connection"
	"start-refused|late|p0: accelerator: DEVICE_SET_STATE: DEVICE_SET_STATE: the device refused: Input/output error"
)

mapfile -t known < <("$HOSTILEDEV" --list | cut -f1 | sort)
mapfile -t mine < <(printf '%s\n' "${CASES[@]%%|*}" | sort)
[ "${known[*]}" = "${mine[*]}" ] || fail "mode lists differ: hostiledev has '${known[*]}', test has '${mine[*]}'"

healthy p1 start
fds0=$(agent_fds)
fallbacks=$(port_member p0 fallbacks)
for entry in "${CASES[@]}"; do
	IFS='|' read -r mode stage want <<<"$entry"
	lib_bg "hostiledev-$mode" "$HOSTILEDEV" --socket "$DEV" --mode "$mode"
	hd=$LIB_PID
	hdlog=$TEST_DIR/hostiledev-$mode.log
	lib_wait_for 5 grep -q '^listening' "$hdlog" || fail "$mode: hostiledev did not start: $(cat "$hdlog")"

	from=$(log_size)
	out=$TEST_DIR/p0-$mode.log
	until_file=$TEST_DIR/p0-$mode.done
	t0=$(lib_now_cs)
	lib_bg "p0-$mode" timeout 40 "$VUFRONT" log "$S0" --frames $FRAMES --hold 30 --until "$until_file"
	vf=$LIB_PID
	# The agent notices the device fault: bounded (silent: one 1 s timeout).
	lib_wait_for 10 agent_logged "$from" "$want" ||
		fail "$mode: no agent log line /$want/; got: $(since "$from")"
	dt=$(( $(lib_now_cs) - t0 ))
	grep -q '^conn 1: misbehaved' "$hdlog" || fail "$mode: hostiledev did not misbehave: $(cat "$hdlog")"
	case $mode in
	silent|stall-mid) expect "$mode: time to notice the device (cs)" "$dt" -le 500 ;;
	esac
	agent_check_alive a
	# The front end on p0 is served all the same, by the software engine.
	lib_wait_for 30 checked_or_gone "$out" "$vf" || true
	grep -q '^LOGCHECK' "$out" || fail "$mode: p0's front end: $(cat "$out")"
	grep -q '"missed":0,' "$out" || fail "$mode: p0: $(grep '^LOGCHECK' "$out")"
	js=$(port_json p0) || fail "$mode: the control socket does not answer"
	engine=$(printf '%s' "$js" | sed -n 's/.*"engine":"\([a-z]*\)".*/\1/p')
	[ "$engine" = sw ] || fail "$mode: p0 runs on '$engine', not on software: $js"
	fb=$(printf '%s' "$js" | sed -n 's/.*"fallbacks":\([0-9]*\).*/\1/p')
	expect "$mode: p0 fallbacks" "$fb" -eq $((fallbacks + 1))
	fallbacks=$fb
	if [ "$stage" = open ]; then
		n=$(since "$from" | grep -c 'accelerator unavailable' || true)
		expect "$mode: 'accelerator unavailable' lines" "$n" -eq 1
	else
		agent_logged "$from" 'p0: falling back to software: the accelerator' ||
			fail "$mode: the fallback is not logged: $(since "$from")"
	fi
	# p1 passes traffic while p0's front end is still connected.
	healthy p1 "$mode"
	touch "$until_file"
	rc=0
	wait "$vf" || rc=$?
	[ "$rc" -eq 0 ] || fail "$mode: vufront on p0 exited $rc: $(tail -n 5 "$out")"
	lib_kill "$hd"
	agent_check_alive a
	log "ok: $mode ($((dt / 100)).$(printf '%02d' $((dt % 100))) s): $(since "$from" |
		grep -E -o -m1 -- "$want" | cut -c1-150)"
done

# Every fd the devices sent (doorbells, flooded fds, region fds) was closed.
fds_back() { [ "$(agent_fds)" -le "$fds0" ]; }
lib_wait_for 5 fds_back ||
	fail "the agent holds $(agent_fds) fds, $fds0 before the hostile devices"
healthy p1 end
agent_check_alive a
log "PASS"
