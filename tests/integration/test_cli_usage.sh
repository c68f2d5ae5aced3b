#!/usr/bin/env bash
# The built programs' command lines, as a user meets them (no agent, no VM):
# -V/--version on vdpa-migrate, vdpa-simd and vdpa-agentd; --help on stdout
# with exit 0; a bad option is one line and "Try '... --help'." (exit 2);
# "vdpa-migrate port show --help" needs no agent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
SIMD=$VDPA_BUILD/vdpa-simd

# run PROG ARGS...: sets RC, OUT and ERR.
run() { RC=0; "$@" >"$TEST_DIR/out" 2>"$TEST_DIR/err" </dev/null || RC=$?; OUT=$(cat "$TEST_DIR/out"); ERR=$(cat "$TEST_DIR/err"); }

for prog in "$VMCLI" "$SIMD" "$AGENTD"; do
	name=${prog##*/}
	for v in -V --version; do
		run "$prog" "$v"
		[ "$RC" = 0 ] && [ "$OUT" = "$name 0.1.0" ] && [ -z "$ERR" ] ||
			fail "$name $v: exit $RC, stdout '$OUT', stderr '$ERR'"
	done
	run "$prog" --help
	[ "$RC" = 0 ] && [[ $OUT == Usage:* ]] || fail "$name --help: exit $RC, stdout '$OUT'"
	run "$prog" --bogus
	[ "$RC" = 2 ] && [ -z "$OUT" ] || fail "$name --bogus: exit $RC"
	[ "$(printf '%s\n' "$ERR" | wc -l)" = 2 ] && [ "$(printf '%s\n' "$ERR" | tail -1)" = "Try '$name --help'." ] ||
		fail "$name --bogus: stderr is not one line and Try: '$ERR'"
	log "ok: $name -V, --version, --help, --bogus"
done

# No agent at that address: asking it would exit 69 (test_cli_commands checks
# with a listening socket that nobody connects).
run "$VMCLI" --agent "unix:$TEST_DIR/none.sock" port show --help
[ "$RC" = 0 ] && [[ $OUT == "Usage: vdpa-migrate [--agent AGENT] [-j] port show NAME"* ]] ||
	fail "port show --help: exit $RC, stdout '$OUT', stderr '$ERR'"
run "$VMCLI" migrate --help
[ "$RC" = 0 ] && [[ $OUT == *--dest-qmp* ]] || fail "migrate --help: exit $RC, stderr '$ERR'"
run "$VMCLI" dirtylog analyze --help
[ "$RC" = 0 ] && [[ $OUT == *--bandwidth* ]] || fail "dirtylog analyze --help: exit $RC, stderr '$ERR'"
# -j after the arguments parses: the failure is the missing agent (69), not usage (2).
run "$VMCLI" port show p -j --agent "unix:$TEST_DIR/none.sock"
[ "$RC" = 69 ] || fail "port show p -j: exit $RC, stderr '$ERR'"
run "$VMCLI" port show --bogus p
[ "$RC" = 2 ] && [ "$ERR" = "vdpa-migrate: port show: unknown option '--bogus'
Try 'vdpa-migrate port show --help'." ] || fail "port show --bogus: exit $RC, stderr '$ERR'"
log "PASS"
