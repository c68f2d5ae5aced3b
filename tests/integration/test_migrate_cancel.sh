#!/usr/bin/env bash
# lanes: system 10
# A migration cancelled half-way: QEMU's bandwidth is throttled so the copy
# takes long enough; once the source agent logs dirty pages the migration is
# cancelled.  The source VM keeps running, the agent turns logging off
# without stopping the rings, traffic goes on both ways, and the receivers
# see 0 corrupt and 0 duplicate datagrams.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

RATE=2000
HOST_IP=10.80.0.1 GUEST_IP=10.80.0.2 MAC=52:54:00:80:00:02

NS=$(lib_unique net)
netns_create "$NS"
netns_add_bridge "$NS" br0 "$HOST_IP/24"
for a in A B; do
	agent_start $a --netns "$NS" -- --port "name=p0,socket=$(agent_sock $a p0),endpoint=tap:c$a$$"
	netns_bridge_port "$NS" br0 "c$a$$"
done

mapfile -t nicA < <(vu_netdev_args n0 "$(agent_sock A p0)" "$MAC")
mapfile -t nicB < <(vu_netdev_args n0 "$(agent_sock B p0)" "$MAC")
vm_start src --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nicA[@]}"
vm_wait_ready src 90 || fail "guest did not boot"
vm_run src "ping -c 1 -W 3 $HOST_IP >/dev/null" 15 || fail "guest cannot ping the host"

traffic_start src "$NS" "$HOST_IP" "$GUEST_IP" "$RATE"

vm_start dst --netns "$NS" --append "vdpa.ip=$GUEST_IP/24" -- "${nicB[@]}" -incoming "unix:$TEST_DIR/mig.sock"
vm_wait_qmp "dst"

# 4 MiB/s: the ~90 MiB of non-zero guest memory take far longer than the test waits.
qmp src '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":4194304}}' >/dev/null ||
	fail "cannot throttle the migration"
qmp src "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$TEST_DIR/mig.sock\"}}" >/dev/null ||
	fail "migrate refused"
lib_wait_for 20 grep 'dirty logging on' "$TEST_DIR/agent-A.log" >/dev/null ||
	fail "the source agent never turned dirty logging on"
sleep 2
st=$(qmp src query-migrate)
printf '%s' "$st" | grep '"status": "active"' >/dev/null || fail "migration not active before cancel: $st"
log "migration active, cancelling"
qmp src migrate_cancel >/dev/null || fail "migrate_cancel refused"
lib_wait_for 20 eval "qmp src query-migrate | grep '\"cancelled\"' >/dev/null" ||
	fail "migration not cancelled: $(qmp src query-migrate)"
vm_kill dst

qmp src query-status | grep '"running"' >/dev/null || fail "source VM is not running after cancel"
lib_wait_for 10 grep 'dirty logging off' "$TEST_DIR/agent-A.log" >/dev/null ||
	fail "the source agent did not turn dirty logging off"
grep -E 'ring [0-9]+ stopped' "$TEST_DIR/agent-A.log" && fail "a ring stopped during the cancelled migration"

show=$(agent_cli A -j port show p0) || fail "port show failed"
printf '%s' "$show" | tr -d ' \n' | grep '"state":"running"' >/dev/null || fail "port not running: $show"
printf '%s' "$show" | tr -d ' \n' | grep '"log_all":false' >/dev/null || fail "port still logging: $show"

# Traffic goes on after the cancel: the host hears another second's worth
# of the guest's datagrams (a count, not a rate: however slowly they come).
before=$(traffic_host_received)
lib_wait_for 30 eval "[ \$(traffic_host_received) -gt $((before + RATE)) ]" ||
	fail "traffic from the guest did not go on after the cancel ($(traffic_host_received) received, $before before)"
log "ok: traffic goes on after the cancel"

traffic_stop_check src "$GUEST_IP" $((RATE / 2))
vm_check_console src || fail "errors on the guest console"
vm_stop src
log "PASS"
