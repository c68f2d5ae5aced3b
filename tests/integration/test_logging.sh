#!/usr/bin/env bash
# The software data path's dirty-log invariant, checked deterministically
# with a synthetic front end (tests/tools/vufront.c) instead of a VM: on a
# loop port, vufront enables logging the way QEMU does during migration
# (SET_LOG_BASE, LOG_ALL, SET_VRING_ADDR with the log flag), then for every
# frame clears the log, posts poisoned RX buffers, transmits, and checks
# that every page the agent wrote (RX buffers per the used lengths, used
# ring entries and index, on both rings) is marked.  Half way it hands over
# a bigger log (QEMU resizing), then switches LOG_ALL off (frames must keep
# flowing) and on again.  A single unmarked page fails the test, with the
# frame and the page named.  While vufront holds the connection, the
# agent's port show must count log marks on ring 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

FRAMES=${VDPA_LOG_FRAMES:-2000}
SOCK=$(agent_sock a p0)
DONE=$TEST_DIR/vufront-log.done
rm -f "$DONE"

agent_start a -- --port "name=p0,socket=$SOCK,endpoint=loop"

# compact JSON, one line, so a ring's members can be matched with sed
json_flat() { tr -d '\n' | sed 's/[[:space:]]*\([][{}:,]\)[[:space:]]*/\1/g'; }
# ring_field FLAT_JSON INDEX FIELD: a numeric or boolean member of one ring
ring_field() {
	printf '%s' "$1" | sed -n "s/.*{\"index\":$2,[^}]*\"$3\":\\([0-9a-z]*\\).*/\\1/p"
}

lib_bg vufront-log "$VUFRONT" log "$SOCK" --frames "$FRAMES" --hold 20 --until "$DONE"
vf=$LIB_PID
if ! lib_wait_for 25 grep -q '^LOGCHECK ' "$TEST_DIR/vufront-log.log"; then
	sed 's/^/    | /' "$TEST_DIR/vufront-log.log" >&2
	fail "vufront printed no LOGCHECK line"
fi
line=$(grep '^LOGCHECK ' "$TEST_DIR/vufront-log.log")
log "$line"

# Still connected, logging on again: the agent's own counters.
show=$(agent_cli a -j port show p0 | json_flat) || fail "port show failed"
printf '%s\n' "$show" >"$TEST_DIR/port-show.json"
touch "$DONE"
rc=0
wait "$vf" || rc=$?
if [ "$rc" -ne 0 ]; then
	log "vufront log exited $rc; its report:"
	grep -v '^LOGCHECK ' "$TEST_DIR/vufront-log.log" | head -n 25 | sed 's/^/    | /' >&2
fi

expect "frames checked" "$(json_field "$line" frames)" -eq "$FRAMES"
expect "RX pages checked" "$(json_field "$line" rx_pages_checked)" -gt "$FRAMES"
expect "pages written but not logged" "$(json_field "$line" missed)" -eq 0
expect "other failures (data, used ring, calls)" "$(json_field "$line" bad)" -eq 0
expect "marks in the replaced log" "$(json_field "$line" stale_log_marks)" -eq 0
expect "vufront exit status" "$rc" -eq 0

log_all=$(printf '%s' "$show" | sed -n 's/.*"log_all":\([a-z]*\).*/\1/p')
[ "$log_all" = true ] || fail "port show says log_all=$log_all while vufront had logging on"
expect "ring 0 log_marks" "$(ring_field "$show" 0 log_marks)" -gt 0
expect "ring 1 log_marks" "$(ring_field "$show" 1 log_marks)" -gt 0
expect "ring 0 frames" "$(ring_field "$show" 0 frames)" -eq "$FRAMES"
expect "ring 1 frames" "$(ring_field "$show" 1 frames)" -eq "$FRAMES"

# The agent saw the sequence QEMU would send: logging on, a resize, off, on.
alog=$TEST_DIR/agent-a.log
expect "agent 'dirty logging on' lines" "$(grep -c 'port p0: dirty logging on' "$alog")" -eq 2
expect "agent 'dirty logging off' lines" "$(grep -c 'port p0: dirty logging off' "$alog")" -eq 1
expect "agent SET_LOG_BASE lines" "$(grep -c 'port p0: dirty log of' "$alog")" -eq 3
if grep -E 'guest error|refused|failed' "$alog" >&2; then
	fail "the agent logged an error for a well-behaved front end"
fi
agent_check_alive a
log "PASS"
