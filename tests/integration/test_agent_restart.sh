#!/usr/bin/env bash
# Ports added at run time survive an agent restart: the agent keeps their
# SPECs in STATE_DIR/ports and serves them again when it starts, and QEMU's
# vhost-user client reconnects.  A guest on a port added with "port add"
# passes traffic, the agent is killed (SIGKILL: a crash) and started again,
# the port comes back with the same SPEC, QEMU reconnects and traffic flows
# again, 0 corrupt, 0 duplicate.  A deleted port stays deleted after a
# restart, ports from --port are not written to the file, and a line that
# cannot be served is logged with the file and line, skipped, and kept.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

HOST_IP=10.77.0.1 GUEST_IP=10.77.0.2 MAC=52:54:00:77:00:02
NS=$(lib_unique net)
netns_create "$NS"
# A persistent tap (the operator's): it, its address and its link outlive
# the agent, which attaches to it.
TAP=vr$$
netns_exec "$NS" ip tuntap add dev "$TAP" mode tap
netns_exec "$NS" ip addr add "$HOST_IP/24" dev "$TAP"
netns_exec "$NS" ip link set "$TAP" up

STATE=$(agent_rt a)/ports
# The control socket is bound after the restore; after a SIGKILL the old
# one is still there, so it goes first (agent_start waits for it).
start_agent() {
	rm -f "$(agent_rt a)/control.sock"
	agent_start a --netns "$NS" -- --port "name=cli,socket=$(agent_sock a cli),endpoint=null"
}
stop_agent() {
	kill -TERM "${AGENT_PID[a]}"
	wait "${AGENT_PID[a]}" 2>/dev/null || true
}
spec_of() { agent_cli a -j port show "$1" | tr -d '\n' | sed -n 's/.*"spec": *"\([^"]*\)".*/\1/p'; }
state_of() { agent_cli a -j port show "$1" | tr -d ' \n' | sed -n 's/.*"state":"\([a-z-]*\)".*/\1/p'; }

start_agent
test ! -e "$STATE" || fail "a state file before any port add: $(cat "$STATE")"
SPEC="name=p0,socket=$(agent_sock a p0),endpoint=tap:$TAP,mac=$MAC,socket-mode=0660"
agent_cli a port add "$SPEC" >/dev/null || fail "port add failed"
before=$(spec_of p0) || fail "port show p0 failed"
[ -n "$before" ] || fail "port show p0 has no spec"
grep -Fx "$before" "$STATE" >/dev/null || fail "p0 is not in $STATE: $(cat "$STATE" 2>&1)"
! grep '^name=cli,' "$STATE" >/dev/null || fail "a --port port was written to $STATE"
expect "state file mode" "$(stat -c %a "$STATE")" = 600
log "ok: $STATE holds p0's SPEC ($before)"

mapfile -t nic < <(vu_netdev_args n0 "$(agent_sock a p0)" "$MAC")
vm_start g --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nic[@]}"
vm_wait_ready g 60 || fail "guest did not boot"
vm_run g "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"
traffic_both_ways g "$NS" "$HOST_IP" "$GUEST_IP" 2000 3

log "killing the agent (SIGKILL)"
kill -KILL "${AGENT_PID[a]}"
wait "${AGENT_PID[a]}" 2>/dev/null || true
cp "$TEST_DIR/agent-a.log" "$TEST_DIR/agent-a.1.log"
start_agent
after=$(spec_of p0) || fail "p0 is gone after the restart: $(agent_cli a ports 2>&1)"
expect "p0's SPEC after the restart" "$after" = "$before"
grep "restored 1 port(s) added at run time, from $STATE" "$TEST_DIR/agent-a.log" >/dev/null ||
	fail "the restore is not logged: $(tail -5 "$TEST_DIR/agent-a.log")"
expect "socket mode after the restart" "$(stat -c %a "$(agent_sock a p0)")" = 660
# QEMU retries the socket every second (reconnect=1) and sets the device up again.
lib_wait_for 20 eval '[ "$(state_of p0)" = running ]' ||
	fail "QEMU did not come back to p0: state $(state_of p0)"
log "ok: QEMU reconnected, p0 running"
vm_run g "i=0; while ! ping -c 1 -W 1 $HOST_IP >/dev/null && [ \$i -lt 15 ]; do i=\$((i+1)); done; ping -c 1 -W 3 $HOST_IP >/dev/null" 40 ||
	fail "the guest cannot ping the host after the agent restart"
traffic_both_ways g "$NS" "$HOST_IP" "$GUEST_IP" 2000 3
vm_check_console g || fail "errors on the guest console"
vm_stop g

# A clean stop (SIGTERM, which removes every port on the way out) keeps
# the list.
stop_agent
grep -Fx "$before" "$STATE" >/dev/null || fail "a clean stop dropped p0 from $STATE: $(cat "$STATE")"
start_agent
expect "p0's SPEC after a clean restart" "$(spec_of p0)" = "$before"

# A deleted port stays deleted.
agent_cli a port del p0 >/dev/null || fail "port del failed"
! grep '^name=p0,' "$STATE" >/dev/null || fail "p0 is still in $STATE after port del"
stop_agent
start_agent
agent_check_alive a
agent_cli a port show cli >/dev/null || fail "the agent does not answer"
agent_cli a port show p0 >/dev/null 2>&1 && fail "p0 came back after port del and a restart"
log "ok: p0 stays deleted"

# A line that cannot be served is skipped and said; the rest is served.
stop_agent
bad_line=$(( $(wc -l <"$STATE") + 1 ))
printf '%s\n' "name=bad,socket=$(agent_sock a bad),queues=0" \
	"name=good,socket=$(agent_sock a good),endpoint=loop" >>"$STATE"
start_agent
grep -F "$STATE:$bad_line: queues:" "$TEST_DIR/agent-a.log" | grep -F "skipped" >/dev/null ||
	fail "the bad line is not reported with file and line: $(grep -F "$STATE" "$TEST_DIR/agent-a.log")"
log "ok: $(grep -F "$STATE:$bad_line: " "$TEST_DIR/agent-a.log" | head -n1)"
agent_cli a port show good >/dev/null || fail "the good line after a bad one was not restored"
agent_cli a port show cli >/dev/null || fail "the --port port is missing"
# A rewrite keeps the line it could not serve (tried again at the next start).
agent_cli a port del good >/dev/null || fail "port del good failed"
grep -Fx "name=bad,socket=$(agent_sock a bad),queues=0" "$STATE" >/dev/null ||
	fail "a rewrite dropped the line not served: $(cat "$STATE")"
! grep '^name=good,' "$STATE" >/dev/null || fail "good is still in $STATE after port del"
log "ok: the rewrite kept the unserved line and dropped good"
# port del of the unserved name removes its line.
agent_cli a port del bad >/dev/null || fail "port del of the unserved port failed"
! grep '^name=bad,' "$STATE" >/dev/null || fail "bad is still in $STATE after port del"
log "ok: port del removed the unserved line"
agent_check_alive a
log "PASS"
