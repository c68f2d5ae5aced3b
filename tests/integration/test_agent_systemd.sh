#!/usr/bin/env bash
# The systemd side of vdpa-agentd without systemd: the notification protocol
# read from a NOTIFY_SOCKET of the test's own (READY=1 once the sockets are
# bound, STATUS=, WATCHDOG=1 at half the WATCHDOG_USEC interval, STOPPING=1
# on SIGTERM), and socket activation with systemd-socket-activate: the agent
# answers on the control socket it was passed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

NOTIFYRECV=$(tool_build notifyrecv)
RT=$TEST_DIR/rt
mkdir -p "$RT"
ns=$TEST_DIR/notify.sock
lib_bg notify "$NOTIFYRECV" "$ns" 8
lib_wait_for 5 grep READY-TO-RECEIVE "$TEST_DIR/notify.log" >/dev/null || fail "notifyrecv did not start"

# A port of the state file that cannot be served shows in STATUS=.
printf 'name=bad,socket=%s/bad.sock,queues=0\n' "$RT" >"$RT/ports"
NOTIFY_SOCKET=$ns WATCHDOG_USEC=400000 lib_bg agent "$AGENTD" --runtime-dir "$RT" --state-dir "$RT" \
	--port "name=p0,socket=$RT/p0.sock"
agent=$LIB_PID
lib_wait_for 5 grep 'READY=1' "$TEST_DIR/notify.log" >/dev/null || fail "no READY=1: $(cat "$TEST_DIR/notify.log")"
test -S "$RT/p0.sock" && test -S "$RT/control.sock" || fail "READY=1 before the sockets were bound"
sleep 1.5
kill -TERM "$agent"
lib_wait_for 5 grep 'STOPPING=1' "$TEST_DIR/notify.log" >/dev/null || fail "no STOPPING=1"
sed 's/^/    notify: /' "$TEST_DIR/notify.log" >&2
grep -E '^[0-9]+ STATUS=1 port\(s\)' "$TEST_DIR/notify.log" >/dev/null || fail "no STATUS= with the port count"
grep -F "; 1 from $RT/ports not served (see the log)" "$TEST_DIR/notify.log" >/dev/null ||
	fail "STATUS= does not say a port of the state file is not served"
# WATCHDOG=1 at half of WATCHDOG_USEC (200 ms): never much sooner (the
# timer follows the interval, not a busy loop), and never so late that
# systemd would kill the agent (400 ms), which is the promise.
mapfile -t wd < <(awk '$2 == "WATCHDOG=1" { print $1 }' "$TEST_DIR/notify.log")
expect "WATCHDOG=1 messages" "${#wd[@]}" -ge 3
for ((i = 1; i < ${#wd[@]}; i++)); do
	gap=$((wd[i] - wd[i - 1]))
	[ $gap -ge 120 ] && [ $gap -lt 400 ] || fail "watchdog gap of $gap ms (expected 200, less than WATCHDOG_USEC's 400)"
done
log "ok: watchdog every ~200 ms"
ready_line=$(grep -n 'READY=1' "$TEST_DIR/notify.log" | head -n1 | cut -d: -f1)
stop_line=$(grep -n 'STOPPING=1' "$TEST_DIR/notify.log" | head -n1 | cut -d: -f1)
expect "READY=1 comes before STOPPING=1 (line)" "$ready_line" -lt "$stop_line"

# Socket activation: systemd-socket-activate binds the control socket and
# passes it; the agent must answer on it (and not bind its own).
RT2=$TEST_DIR/rt2
mkdir -p "$RT2"
lib_bg activate systemd-socket-activate -l "$RT2/activated.sock" \
	"$AGENTD" --runtime-dir "$RT2" --state-dir "$RT2" --port "name=q0,socket=$RT2/q0.sock"
lib_wait_for 5 test -S "$RT2/activated.sock" || fail "systemd-socket-activate did not listen"
out=$("$VMCLI" --agent "unix:$RT2/activated.sock" ports) || fail "no answer on the activated socket: $out"
printf '%s\n' "$out" | grep -E '^q0 +listening' >/dev/null || fail "unexpected ports: $out"
test ! -e "$RT2/control.sock" || fail "the agent bound its own control socket despite activation"
log "ok: socket activation"
log "PASS"
