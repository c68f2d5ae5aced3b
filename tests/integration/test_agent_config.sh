#!/usr/bin/env bash
# One port the agent cannot serve must not take the others down: it is
# skipped, logged with its file and line, counted in STATUS=, and
# --check-config refuses it (exit 2).  Every configuration error exits 2
# with file, line and reason; socket paths must be absolute.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

RT=$TEST_DIR/rt
mkdir -p "$RT"
conf=$TEST_DIR/agent.conf
write_conf() { printf '%s\n' "$@" >"$conf"; }
nogroup=vdpa-nosuchgroup$$
getent group "$nogroup" >/dev/null && fail "group $nogroup exists on this host"

# exit_of CMD...: the exit status, whatever it is.
exit_of() { local rc=0; "$@" >"$TEST_DIR/out.log" 2>&1 || rc=$?; echo $rc; }

# ---- configuration errors: exit 2, file:line: reason -------------------------
write_conf "[agent]" "log-level = loud"
expect "exit status of a bad log-level in the file" "$(exit_of "$AGENTD" --config "$conf" --runtime-dir "$RT" --state-dir "$RT")" -eq 2
grep -F "$conf:2: log-level: 'loud' is not err, warning, notice, info or debug" "$TEST_DIR/out.log" >/dev/null ||
	fail "bad log-level: no file:line: reason: $(cat "$TEST_DIR/out.log")"
expect "exit status of --log-level loud" "$(exit_of "$AGENTD" --log-level loud --runtime-dir "$RT" --state-dir "$RT")" -eq 2
write_conf "[port rel]" "socket = rel.sock"
expect "exit status of a relative socket path" "$(exit_of "$AGENTD" --config "$conf" --runtime-dir "$RT" --state-dir "$RT")" -eq 2
grep -F "$conf:2: [port rel]: socket: 'rel.sock' is not an absolute path" "$TEST_DIR/out.log" >/dev/null ||
	fail "relative socket: $(cat "$TEST_DIR/out.log")"
expect "exit status of --port with a relative socket" "$(exit_of "$AGENTD" --port name=r,socket=r.sock --check-config)" -eq 2
log "ok: configuration errors exit 2 with file, line and reason"

# ---- a file with ports that cannot be served ---------------------------------
write_conf "[port good]" "socket = $RT/good.sock" "" \
	"[port nogroup]" "socket = $RT/nogroup.sock" "socket-group = $nogroup" "" \
	"[port nodir]" "socket = $TEST_DIR/no-such-dir/nodir.sock"
expect "--check-config exit status" "$(exit_of "$AGENTD" --check-config --config "$conf" --runtime-dir "$RT" --state-dir "$RT")" -eq 2
sed 's/^/    check-config: /' "$TEST_DIR/out.log" >&2
grep -F "$conf:4: [port nogroup]: cannot be served: socket-group: no group named '$nogroup'" "$TEST_DIR/out.log" >/dev/null ||
	fail "--check-config did not name the port without a group"
grep -F "$conf:8: [port nodir]: cannot be served: socket $TEST_DIR/no-such-dir/nodir.sock: directory" "$TEST_DIR/out.log" >/dev/null ||
	fail "--check-config did not name the port without a directory"
grep -F "2 of 3 port(s) cannot be served" "$TEST_DIR/out.log" >/dev/null || fail "--check-config: no summary"

NOTIFYRECV=$(tool_build notifyrecv)
ns=$TEST_DIR/notify.sock
lib_bg notify "$NOTIFYRECV" "$ns" 8
lib_wait_for 5 grep READY-TO-RECEIVE "$TEST_DIR/notify.log" >/dev/null || fail "notifyrecv did not start"
NOTIFY_SOCKET=$ns lib_bg agent "$AGENTD" --config "$conf" --runtime-dir "$RT" --state-dir "$RT" \
	--port "name=clibad,socket=$RT/clibad.sock,socket-group=$nogroup"
agent=$LIB_PID
lib_wait_for 10 grep 'READY=1' "$TEST_DIR/notify.log" >/dev/null ||
	fail "the agent did not become ready: $(tail -5 "$TEST_DIR/agent.log")"
kill -0 "$agent" || fail "the agent exited"
test -S "$RT/good.sock" || fail "the servable port has no socket"
out=$("$VMCLI" --agent "unix:$RT/control.sock" ports) || fail "ports: $out"
printf '%s\n' "$out" | grep -E '^good +listening' >/dev/null || fail "good is not served: $out"
expect "ports served" "$(printf '%s\n' "$out" | grep -cE '^(good|nogroup|nodir|clibad) ')" -eq 1
grep -F "$conf:4: [port nogroup]: not served: socket-group: no group named '$nogroup'" "$TEST_DIR/agent.log" >/dev/null ||
	fail "the log does not name the skipped port with its file and line"
grep -F "$conf:8: [port nodir]: not served: socket $TEST_DIR/no-such-dir/nodir.sock" "$TEST_DIR/agent.log" >/dev/null ||
	fail "the log does not name the port without a directory"
grep -F -- "--port name=clibad: not served: socket-group: no group named" "$TEST_DIR/agent.log" >/dev/null ||
	fail "the log does not name the skipped --port"
lib_wait_for 5 grep -F 'STATUS=1 port(s), 0 with a front end; 3 configured port(s) not served (see the log)' \
	"$TEST_DIR/notify.log" >/dev/null || fail "STATUS= does not count the skipped ports: $(grep STATUS "$TEST_DIR/notify.log")"
log "ok: 3 ports skipped and counted, good served"

# A reload that fixes one of them serves it; the count follows.
mkdir -p "$TEST_DIR/no-such-dir"
kill -HUP "$agent"
lib_wait_for 10 test -S "$TEST_DIR/no-such-dir/nodir.sock" || fail "the reload did not serve nodir: $(tail -5 "$TEST_DIR/agent.log")"
lib_wait_for 5 grep -F 'STATUS=2 port(s), 0 with a front end; 2 configured port(s) not served (see the log)' \
	"$TEST_DIR/notify.log" >/dev/null || fail "STATUS= after reload: $(grep STATUS "$TEST_DIR/notify.log" | tail -2)"
kill -0 "$agent" || fail "the agent exited on reload"
log "ok: reload serves the fixed port and recounts"
log "PASS"
