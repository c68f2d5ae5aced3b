#!/usr/bin/env bash
# Configuration file, SIGHUP reload and the control socket's port add/del:
# a reload adds the ports new to the file and removes those it lost, leaves
# ports from --port and from port add alone, and keeps the running
# configuration when the new file does not parse.  A bad file at start-up
# stops the agent with the file, the line and the reason.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

RT=$TEST_DIR/a.rt
mkdir -p "$RT"
conf=$TEST_DIR/agent.conf
write_conf() { printf '%s\n' "$@" >"$conf"; }

# A bad file stops start-up and says where.
write_conf "[port p1]" "socket = $RT/p1.sock" "queues = 0"
if "$AGENTD" --config "$conf" --runtime-dir "$RT" --state-dir "$RT" >"$TEST_DIR/bad.log" 2>&1; then
	fail "the agent started with a bad configuration file"
fi
grep -F "$conf:3: [port p1]: queues: '0' is not a number in 1..8" "$TEST_DIR/bad.log" >/dev/null ||
	fail "no file:line: reason for the bad file: $(cat "$TEST_DIR/bad.log")"

write_conf "[agent]" "log-level = info" "" \
	"[port p1]" "socket = $RT/p1.sock" "" \
	"[port p2]" "socket = $RT/p2.sock" "endpoint = loop"
agent_start a -- --config "$conf" --port "name=cli,socket=$RT/cli.sock"
names() { agent_cli a -j ports | tr -d ' \n' | grep -o '"name":"[^"]*"' | sed 's/"name":"\(.*\)"/\1/' | sort | tr '\n' ' '; }
expect_names() { local got; got=$(names); [ "$got" = "$1" ] || fail "ports: '$got', expected '$1'"; log "ok: ports $got"; }
expect_names "cli p1 p2 "

agent_cli a port add "name=added,socket=$RT/added.sock,endpoint=null" >/dev/null || fail "port add failed"
expect_names "added cli p1 p2 "
out=$(agent_cli a port add "name=added,socket=$RT/x.sock" 2>&1) && fail "a duplicate port was added"
printf '%s' "$out" | grep 'port added already exists' >/dev/null || fail "duplicate add: $out"
# For configuration management: the same add with --may-exist succeeds and
# changes nothing; another refusal (a socket in use) still fails.
out=$(agent_cli a port add --may-exist "name=added,socket=$RT/x.sock" 2>&1) ||
	fail "port add --may-exist of an existing port failed: $out"
printf '%s' "$out" | grep -F 'port added already exists; nothing to do' >/dev/null || fail "--may-exist: $out"
out=$(agent_cli a -j port add --may-exist "name=added,socket=$RT/x.sock" 2>/dev/null) || fail "-j --may-exist failed"
[ "$(printf '%s' "$out" | tr -d ' \n')" = '{"version":1,"unchanged":"portaddedalreadyexists"}' ] || fail "-j --may-exist: $out"
out=$(agent_cli a port add --may-exist "name=other,socket=$RT/added.sock" 2>&1) &&
	fail "--may-exist hid a refusal that is not about the name: $out"
expect_names "added cli p1 p2 "

write_conf "[port p2]" "socket = $RT/p2.sock" "endpoint = loop" "" "[port p3]" "socket = $RT/p3.sock"
kill -HUP "${AGENT_PID[a]}"
lib_wait_for 10 eval '[ "$(names)" = "added cli p2 p3 " ]' || fail "after reload: ports '$(names)'"
log "ok: reload added p3, removed p1, kept cli and added"
test -S "$RT/p3.sock" || fail "p3's socket is missing"
test ! -e "$RT/p1.sock" || fail "p1's socket was left behind"

write_conf "[port p2" "socket = $RT/p2.sock"
kill -HUP "${AGENT_PID[a]}"
lib_wait_for 10 grep 'reload: .*malformed section header; keeping the running configuration' \
	"$TEST_DIR/agent-a.log" >/dev/null || fail "a bad reload was not reported"
expect_names "added cli p2 p3 "

agent_cli a port del added >/dev/null || fail "port del failed"
out=$(agent_cli a port del added 2>&1) && fail "deleting a missing port succeeded"
printf '%s' "$out" | grep "no port named 'added'" >/dev/null || fail "missing port del: $out"
agent_cli a port del --if-exists added 2>/dev/null || fail "port del --if-exists of a missing port failed"
expect_names "cli p2 p3 "

kill -TERM "${AGENT_PID[a]}"
lib_wait_for 10 eval "! kill -0 ${AGENT_PID[a]} 2>/dev/null" || fail "the agent did not stop on SIGTERM"
wait "${AGENT_PID[a]}" && rc=0 || rc=$?
expect "exit status after SIGTERM" "$rc" -eq 0
for s in cli p2 p3 control; do
	test ! -e "$RT/$s.sock" || fail "$s.sock left behind after SIGTERM"
done
log "PASS"
