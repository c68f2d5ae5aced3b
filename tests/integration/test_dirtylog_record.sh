#!/usr/bin/env bash
# vdpa-migrate dirtylog record / analyze against a real agent: a loop port
# with vufront moving frames through it (RX buffers and used rings are
# written into its guest memory, 16 MiB at GPA 0x40000000), recorded for
# 2 s at 100 ms; the trace must hold ~20 snapshots with dirty pages, a guest
# span covering 0x41000000, and analyze must refuse a truncated copy with
# exit 65 (EX_DATAERR) and the reader's reason.  Also: usage errors (2),
# an unknown port (1, nothing written), Ctrl-C (130, the trace still whole).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

agent_start a -- --port "name=p0,socket=$(agent_sock a p0),endpoint=loop"
T=$TEST_DIR/p0.trace

# Usage errors are refused before the agent is asked anything.
st=0; agent_cli a dirtylog record p0 --seconds 2 2>"$TEST_DIR/usage.err" || st=$?
[ $st -eq 2 ] || fail "record without --out: exit $st, expected 2"
st=0; agent_cli a dirtylog record p0 --seconds 2 --out "$T" --interval 0 2>/dev/null || st=$?
[ $st -eq 2 ] || fail "record --interval 0: exit $st, expected 2"
st=0; agent_cli a dirtylog record p0 --seconds 2 --out "$T" --seconds-x 1 2>/dev/null || st=$?
[ $st -eq 2 ] || fail "record with an unknown option: exit $st, expected 2"
# No front end yet: the agent refuses, and no file appears.
st=0; agent_cli a dirtylog record p0 --seconds 1 --out "$T" 2>"$TEST_DIR/refused.err" || st=$?
[ $st -eq 1 ] || fail "record without a front end: exit $st, expected 1"
grep -q 'no guest memory' "$TEST_DIR/refused.err" || fail "refusal: $(cat "$TEST_DIR/refused.err")"
[ ! -e "$T" ] || fail "a refused record left $T"
[ -z "$(ls "$TEST_DIR" | grep '\.tmp$' || true)" ] || fail "a refused record left a temporary file"

# Frames for longer than the recording; hold the connection until told.
lib_bg vufront "$VUFRONT" log "$(agent_sock a p0)" --frames 400000 --hold 60 --until "$TEST_DIR/vufront.stop"
VF_PID=$LIB_PID
lib_wait_for 10 eval "agent_cli a -j port show p0 | grep -q '\"state\":\"running\"'" ||
	fail "vufront did not get the port running: $(tail -5 "$TEST_DIR/vufront.log")"

agent_cli a dirtylog record p0 --seconds 2 --out "$T" >"$TEST_DIR/record.out" 2>"$TEST_DIR/record.err" ||
	fail "record failed ($?): $(cat "$TEST_DIR/record.err")"
log "record: $(cat "$TEST_DIR/record.out")"
grep -q '^recorded 20 snapshots of port p0' "$TEST_DIR/record.out" ||
	fail "record said: $(cat "$TEST_DIR/record.out")"
grep -q 'recording p0: 20 snapshot(s)' "$TEST_DIR/record.err" || fail "no progress on stderr"
# The record ended with dirtylog-stop.
lib_wait_for 5 grep -q 'port p0: dirty-log recording stopped' "$TEST_DIR/agent-a.log" ||
	fail "the agent never saw dirtylog-stop: $(tail -5 "$TEST_DIR/agent-a.log")"
kill -0 "$VF_PID" 2>/dev/null || fail "vufront ended early: $(tail -5 "$TEST_DIR/vufront.log")"

J=$TEST_DIR/analyze.json
agent_cli a dirtylog analyze "$T" -j --pretty --plot "$TEST_DIR/p0.svg" >"$J" || fail "analyze failed ($?)"
num() { sed -n "s/^  \"$1\": \([0-9.]*\),\{0,1\}\$/\1/p" "$J"; }
snaps=$(num snapshots) pages=$(num dirty_pages) ws=$(num working_set_pages) guest=$(num guest_size)
log "analyze: $snaps snapshots, $pages dirty pages, working set $ws, guest $guest"
[ "$snaps" -ge 18 ] && [ "$snaps" -le 20 ] || fail "$snaps snapshots, expected about 20"
[ "$pages" -gt 0 ] || fail "no dirty pages recorded while frames moved"
[ "$ws" -gt 0 ] && [ "$ws" -le 4096 ] || fail "working set $ws pages: vufront has 4096"
[ "$guest" -ge $((0x41000000)) ] && [ "$guest" -le $((0x42000000)) ] ||
	fail "guest_size $guest does not cover vufront's memory at 0x40000000..0x41000000"
grep -q '"converges": true' "$J" || fail "a few MB/s over 10 Gbit/s must converge: $(grep -A8 model "$J")"
grep -q '<polyline class="rate"' "$TEST_DIR/p0.svg" || fail "the plot has no dirty-rate line"
agent_cli a dirtylog analyze "$T" >"$TEST_DIR/analyze.txt"
grep -q '^pre-copy over 10 Gbit/s, downtime limit 300 ms:' "$TEST_DIR/analyze.txt" ||
	fail "report: $(cat "$TEST_DIR/analyze.txt")"

# A truncated copy: exit 65 and the reader's reason.
head -c $(( $(stat -c %s "$T") - 7 )) "$T" >"$T.cut"
st=0; agent_cli a dirtylog analyze "$T.cut" >/dev/null 2>"$TEST_DIR/cut.err" || st=$?
[ $st -eq 65 ] || fail "analyze of a truncated trace: exit $st, expected 65"
grep -q "p0.trace.cut: snapshot .*: truncated" "$TEST_DIR/cut.err" || fail "cut: $(cat "$TEST_DIR/cut.err")"
st=0; agent_cli a dirtylog analyze "$TEST_DIR/nonexistent" 2>/dev/null || st=$?
[ $st -eq 66 ] || fail "analyze of a missing file: exit $st, expected 66"

# Ctrl-C: stops at once, exit 130, the trace is whole up to its last snapshot.
# (The binary itself, not agent_cli: a signal must reach vdpa-migrate, not a subshell.)
"$VMCLI" --agent "unix:$(agent_rt a)/control.sock" dirtylog record p0 --seconds 30 \
	--out "$T.int" >"$TEST_DIR/int.out" 2>"$TEST_DIR/int.err" &
rec=$!
sleep 1
kill -INT $rec
st=0; wait $rec || st=$?
[ $st -eq 130 ] || fail "record interrupted: exit $st, expected 130"
agent_cli a -j --pretty dirtylog analyze "$T.int" >"$TEST_DIR/int.json" || fail "the interrupted trace does not read back"
J=$TEST_DIR/int.json
n=$(num snapshots)
# What a loaded machine records in that second varies; what the recorder
# promises is a trace that holds what it took and ends at the signal,
# long before its 30 s (300 snapshots).
[ "$n" -ge 1 ] && [ "$n" -lt 300 ] || fail "interrupted after 1 s: $n snapshots"
log "interrupted record: $n snapshots, exit 130"

touch "$TEST_DIR/vufront.stop"
agent_check_alive a
log "PASS"
