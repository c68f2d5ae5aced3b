#!/usr/bin/env bash
# vdpa-migrate precheck between two agents, no QEMU: a synthetic front end
# (tests/tools/vufront, log mode held open) negotiates the source port, then
# the destination agent's port p0 is changed from case to case and the
# verdict (exit status and the line naming the problem) checked: a matching
# port passes (0), a smaller MTU and fewer queues are refused (3), a missing
# port is compared through port-offer (sw) or refused (accel: no device).
# Then the same precheck through an ssh:// agent, with VDPA_MIGRATE_SSH
# pointing at a shim that checks the command line ssh would get and runs its
# remote command locally; an address that could pass for an ssh option is
# refused before any ssh runs (2), and an ssh that dies early is reported
# with its exit status (69).  Also checks port-show's offer and migration
# members while the front end is connected.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

SRC_SOCK=$(agent_sock a p0)
DONE=$TEST_DIR/vufront.done
rm -f "$DONE"
agent_start a -- --port "name=p0,socket=$SRC_SOCK,endpoint=loop,queues=2,mtu=1500" \
	--port "name=idle,socket=$(agent_sock a idle),endpoint=loop"
agent_start b -- --port "name=p0,socket=$(agent_sock b p0),endpoint=null,queues=2,mtu=1500"
A=unix:$(agent_rt a)/control.sock
B=unix:$(agent_rt b)/control.sock

lib_bg vufront "$VUFRONT" log "$SRC_SOCK" --frames 20 --hold 60 --until "$DONE"
lib_wait_for 10 grep -q '^LOGCHECK ' "$TEST_DIR/vufront.log" ||
	fail "vufront did not negotiate: $(tail -5 "$TEST_DIR/vufront.log")"

json_flat() { tr -d '\n' | sed 's/[[:space:]]*\([][{}:,]\)[[:space:]]*/\1/g'; }

# port show: the offer, and the migration state of a running port.
show=$(agent_cli a -j port show p0 | json_flat)
[[ $show == *'"max_ring_size":32768'* ]] || fail "port show has no max_ring_size 32768: $show"
[[ $show == *'"offered_features":"0x'* ]] || fail "port show has no offered_features: $show"
[[ $show == *'"migration":{"quiesced":false,"final_harvest":false,"handed_over":[]}'* ]] ||
	fail "port show migration of a running port: $show"
log "ok: port show offers and migration state"

# precheck ARGS...: runs vdpa-migrate precheck; output in $out, status in $rc.
precheck() {
	rc=0
	out=$("$VMCLI" precheck "$@" 2>"$TEST_DIR/precheck.err") || rc=$?
	printf '%s\n' "--- precheck $*" "$out" "$(cat "$TEST_DIR/precheck.err")" >>"$TEST_DIR/precheck.out"
}
dest_port() { # SPEC suffix for b's p0, replacing the one there
	agent_cli b port del p0 2>/dev/null || true
	[ $# -eq 0 ] || agent_cli b port add "name=p0,socket=$(agent_sock b p0),endpoint=null,$1" >/dev/null
}

precheck --from "$A" --port p0 --to "$B"
expect "precheck, matching port: exit" "$rc" -eq 0
[[ $out == *"accepted: port p0 can migrate to the sw backend (existing port)"* ]] ||
	fail "no accepted verdict: $out"

dest_port "queues=2,mtu=1400"
precheck --from "$A" --port p0 --to "$B"
expect "precheck, smaller mtu: exit" "$rc" -eq 3
grep -q '^refuse  mtu: 1500 -> 1400: ' <<<"$out" || fail "no refuse line for the mtu: $out"

dest_port "queues=1,mtu=1500"
precheck --from "$A" --port p0 --to "$B"
expect "precheck, fewer queues: exit" "$rc" -eq 3
grep -q '^refuse  queues: 2 -> 1: ' <<<"$out" || fail "no refuse line for the queues: $out"

# No port p0 on b: port-offer of the source's spec (b creates nothing).
dest_port
precheck --from "$A" --port p0 --to "$B" --to-backend sw
expect "precheck, missing port, sw: exit" "$rc" -eq 0
[[ $out == *"(new port)"* ]] || fail "missing port: not compared as a new port: $out"
[ "$(agent_cli b -j ports | grep -c '"name"')" -eq 0 ] || fail "port-offer created a port"
precheck --from "$A" --port p0 --to "$B" --to-backend accel
expect "precheck, missing port, accel: exit" "$rc" -eq 3
[[ $out == *"destination has no port p0 and an accel port needs a device"* ]] ||
	fail "missing accel port: $out"

# A source without a front end: nothing to compare.
precheck --from "$A" --port idle --to "$B" --to-backend sw
expect "precheck, source not negotiated: exit" "$rc" -eq 3
[[ $out == *"the guest has not negotiated the device; nothing to compare"* ]] ||
	fail "idle source: $out"

# -j: the result as JSON.
dest_port "queues=2,mtu=1500"
precheck --from "$A" --port p0 --to "$B"
rc=0; j=$("$VMCLI" -j precheck --from "$A" --port p0 --to "$B" | json_flat) || rc=$?
expect "precheck -j: exit" "$rc" -eq 0
[[ $j == *'"refused":false'*'"issues":[]'* ]] || fail "precheck -j: $j"

# ---- ssh:// ------------------------------------------------------------------
SHIM=$TEST_DIR/ssh-shim
CALLS=$TEST_DIR/ssh-shim.calls
cat >"$SHIM" <<'EOF'
#!/usr/bin/env bash
# Stands in for ssh: checks the command line, then runs the remote command here.
printf '%s\n' "$*" >>"$SHIM_CALLS"
[ "$1 $2 $3" = "-T -o BatchMode=yes" ] || { echo "shim: bad options: $*" >&2; exit 90; }
shift 3
if [ "$1" = -l ]; then
	[ "$2" = tester ] || { echo "shim: bad user: $2" >&2; exit 91; }
	shift 2
fi
[ "$1" = localhost ] || { echo "shim: bad host: $1" >&2; exit 92; }
[ "$2 $3 $4" = "-- vdpa-migrate --agent" ] || { echo "shim: bad command: $*" >&2; exit 93; }
[[ $5 == unix:/* && $6 == proxy && $# -eq 6 ]] || { echo "shim: bad remote: $*" >&2; exit 94; }
[ -z "${SHIM_DIE:-}" ] || { echo "shim: connection closed" >&2; exit "$SHIM_DIE"; }
exec "$SHIM_VMCLI" --agent "$5" proxy
EOF
chmod +x "$SHIM"
export VDPA_MIGRATE_SSH=$SHIM SHIM_CALLS=$CALLS SHIM_VMCLI=$VMCLI
: >"$CALLS"
SSH_B="ssh://tester@localhost$(agent_rt b)/control.sock"

precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck over ssh://: exit" "$rc" -eq 0
[[ $out == *"accepted: port p0"* ]] || fail "precheck over ssh://: $out $(cat "$TEST_DIR/precheck.err")"
expect "ssh shim runs" "$(wc -l <"$CALLS")" -ge 1
dest_port "queues=2,mtu=1400"
precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck over ssh://, smaller mtu: exit" "$rc" -eq 3
# Any command works over ssh://, the source too.
rc=0; "$VMCLI" --agent "ssh://localhost$(agent_rt a)/control.sock" port show p0 >/dev/null || rc=$?
expect "port show over ssh://: exit" "$rc" -eq 0

# Refused before ssh runs: nothing that could be an option reaches it.
: >"$CALLS"
for bad in "ssh://-oProxyCommand=x" "ssh://host;reboot" "ssh://-l@host" "ssh://a@b/x;y" \
	"ssh://h/rel\$(id)"; do
	precheck --from "$A" --port p0 --to "$bad"
	expect "precheck --to '$bad': exit" "$rc" -eq 2
done
expect "ssh runs for bad addresses" "$(wc -l <"$CALLS")" -eq 0

# ssh that dies before the agent answers: 69, with its exit status.
SHIM_DIE=255 precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck, ssh dies: exit" "$rc" -eq 69
grep -q 'ssh exited with status 255' "$TEST_DIR/precheck.err" ||
	fail "no ssh exit status in: $(cat "$TEST_DIR/precheck.err")"
grep -q 'shim: connection closed' "$TEST_DIR/precheck.err" ||
	fail "ssh's stderr did not pass through: $(cat "$TEST_DIR/precheck.err")"
# No ssh left behind (reaped, not zombies).
sleep 0.2
if ps -eo stat=,args= | grep -v grep | grep -q "ssh-shim"; then
	fail "an ssh shim is still around: $(ps -eo pid=,stat=,args= | grep ssh-shim)"
fi

touch "$DONE"
agent_check_alive a
agent_check_alive b
log "PASS"
