#!/usr/bin/env bash
# Who may do what on vdpa-agentd's control socket (vdpa-agentd(8), CONTROL
# SOCKET): the socket is 0660, group vdpa-agent; a peer that can connect may
# ask read-only requests; "port add" and "port del" need root or the group
# (SO_PEERCRED).  Then what the framing does with a hostile client
# (docs/control-protocol.md): a line over 65536 bytes gets an error and the
# connection closes; an invalid request gets an error naming the field.
#
# The test creates group vdpa-agent when it is missing and a member user of
# its own, and removes only what it created.  The agent runs in a directory
# of its own under /tmp so that unprivileged users can reach the socket.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

CTLRAW=$(tool_build ctlraw)
GROUP=vdpa-agent   # the agent's CTL_GROUP
MEMBER=vdpa-t$$    # a test user in GROUP
OUTSIDER=nobody    # in neither GROUP nor root

if ! getent group "$GROUP" >/dev/null; then
	groupadd --system "$GROUP" || fail "groupadd $GROUP"
	lib_on_cleanup groupdel "$GROUP"
	log "created group $GROUP"
fi
getent passwd "$MEMBER" >/dev/null && fail "user $MEMBER exists already"
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--no-user-group --gid nogroup --groups "$GROUP" "$MEMBER" || fail "useradd $MEMBER"
lib_on_cleanup userdel "$MEMBER"
id -nG "$OUTSIDER" | grep -qw "$GROUP" && fail "$OUTSIDER is in $GROUP on this host"

RT=$(mktemp -d /tmp/vdpa-perms.XXXXXX)
lib_on_cleanup rm -rf "$RT"
chmod 0755 "$RT"
SOCK=$RT/control.sock
lib_bg agent-a "$AGENTD" --runtime-dir "$RT" --state-dir "$RT" \
	--port "name=p0,socket=$RT/p0.sock,endpoint=null"
APID=$LIB_PID
lib_wait_for 10 test -S "$SOCK" || fail "agent did not start: $(tail -5 "$TEST_DIR/agent-a.log")"

# as USER CMD...: CMD as USER with USER's groups from the group database (what
# a login gives), or with none at all for nobody.
as() {
	local user=$1; shift
	if [ "$user" = "$OUTSIDER" ]; then
		setpriv --reuid="$user" --regid=nogroup --clear-groups "$@"
	else
		setpriv --reuid="$user" --regid=nogroup --init-groups "$@"
	fi
}
# cli USER ARGS...: vdpa-migrate as USER; sets OUT (stdout and stderr) and RC.
cli() {
	local user=$1; shift
	RC=0
	OUT=$(as "$user" "$VMCLI" --agent "unix:$SOCK" "$@" 2>&1) || RC=$?
}

# ---- the socket as the agent binds it ---------------------------------------
st=$(stat -c '%a %U %G' "$SOCK")
[ "$st" = "660 root $GROUP" ] || fail "control socket is '$st', expected '660 root $GROUP'"
log "ok: control socket $st"

# nobody cannot even connect: the socket's permissions keep it out.
cli "$OUTSIDER" ports
expect "vdpa-migrate ports as $OUTSIDER (no access to the socket): exit" "$RC" -eq 69
[[ $OUT == *"Permission denied"* ]] || fail "expected 'Permission denied', got: $OUT"

# A member of the group may read and change.
cli "$MEMBER" ports
expect "ports as $MEMBER: exit" "$RC" -eq 0
printf '%s\n' "$OUT" | grep -qE '^p0 +listening' || fail "ports as $MEMBER: $OUT"
cli "$MEMBER" port add "name=m1,socket=$RT/m1.sock"
expect "port add as $MEMBER: exit" "$RC" -eq 0
cli "$MEMBER" port del m1
expect "port del as $MEMBER: exit" "$RC" -eq 0
log "ok: $MEMBER (group $GROUP) may list, add and delete"

# ---- port sockets: socket-group and socket-mode -------------------------------
# What lets QEMU running as another user (libvirt-qemu) connect to a port.
"$VMCLI" --agent "unix:$SOCK" port add \
	"name=g1,socket=$RT/g1.sock,socket-group=$GROUP,socket-mode=0660" >/dev/null ||
	fail "port add with socket-group and socket-mode"
st=$(stat -c '%a %U %G' "$RT/g1.sock")
[ "$st" = "660 root $GROUP" ] || fail "port socket is '$st', expected '660 root $GROUP'"
# A connect needs write permission on the socket: the member has it, nobody
# not (ctlraw with no input only connects and waits a moment).
as "$MEMBER" "$CTLRAW" "$RT/g1.sock" </dev/null >/dev/null ||
	fail "$MEMBER cannot connect to a port socket of group $GROUP"
as "$OUTSIDER" "$CTLRAW" "$RT/g1.sock" </dev/null >/dev/null 2>&1 &&
	fail "$OUTSIDER connected to a 0660 port socket of group $GROUP"
"$VMCLI" --agent "unix:$SOCK" port del g1
RC=0
OUT=$("$VMCLI" --agent "unix:$SOCK" port add \
	"name=g2,socket=$RT/g2.sock,socket-group=no-such-group-$$" 2>&1) || RC=$?
expect "port add with an unknown socket-group: exit" "$RC" -eq 1
[[ $OUT == *"socket-group: no group named 'no-such-group-$$'"* ]] ||
	fail "unknown socket-group: $OUT"
[ ! -e "$RT/g2.sock" ] || fail "a refused port left its socket behind"
log "ok: port sockets take socket-group and socket-mode; an unknown group is refused"

# ---- a peer that can connect but is neither root nor in the group -----------
# Opening the socket to everyone is the operator's choice; the agent's own
# check must still hold.
chmod 0666 "$SOCK"
cli "$OUTSIDER" ports
expect "ports as $OUTSIDER on a 0666 socket: exit" "$RC" -eq 0
printf '%s\n' "$OUT" | grep -qE '^p0 +listening' || fail "ports as $OUTSIDER: $OUT"
cli "$OUTSIDER" port show p0
expect "port show as $OUTSIDER: exit" "$RC" -eq 0
for req in "port add name=n1,socket=$RT/n1.sock" "port del p0"; do
	# shellcheck disable=SC2086
	cli "$OUTSIDER" $req
	expect "$req as $OUTSIDER: exit" "$RC" -eq 1
	[[ $OUT == *"permission denied"*"group $GROUP"* ]] ||
		fail "$req as $OUTSIDER: expected the permission error naming $GROUP, got: $OUT"
done
cli "$OUTSIDER" -j port del p0
[[ $OUT == *'"field":"cmd"'* ]] || fail "-j refusal should name field cmd: $OUT"
out=$("$VMCLI" --agent "unix:$SOCK" ports)
printf '%s\n' "$out" | grep -qE '^p0 ' || fail "p0 is gone after a refused port del: $out"
printf '%s\n' "$out" | grep -q '^n1 ' && fail "n1 exists after a refused port add: $out"
grep -q "refused port-del from uid $(id -u "$OUTSIDER")" "$TEST_DIR/agent-a.log" ||
	fail "the agent did not log the refusal"
log "ok: $OUTSIDER may read but not add or delete"

# ---- framing and validation (as root: the socket is open anyway) -----------
pad() { head -c "$1" /dev/zero | tr '\0' ' '; }
req='{"cmd":"version"}'
# Exactly 65536 bytes is still a request.
out=$({ printf '%s' "$req"; pad $((65536 - ${#req})); echo; } | "$CTLRAW" "$SOCK")
[ "$out" = $'{"ok":true,"version":"0.1.0"}\nOPEN' ] ||
	fail "a request of exactly 65536 bytes: $out"
# One byte more: an error, and the connection closes (the request after it
# is never answered).
out=$({ printf '%s' "$req"; pad $((65537 - ${#req})); echo; echo "$req"; } | "$CTLRAW" "$SOCK")
[ "$out" = $'{"ok":false,"error":"request is longer than 65536 bytes"}\nEOF' ] ||
	fail "a request of 65537 bytes: $out"
# Well over: an error, and the connection closes (the request after it is
# never answered).
out=$({ printf '%s' "$req"; pad $((70000 - ${#req})); echo; echo "$req"; } | "$CTLRAW" "$SOCK")
[ "$out" = $'{"ok":false,"error":"request is longer than 65536 bytes"}\nEOF' ] ||
	fail "a request of 70000 bytes: $out"
grep -q 'sent a line over 65536 bytes; disconnected' "$TEST_DIR/agent-a.log" ||
	fail "the agent did not log the over-long line"
log "ok: 65536 bytes accepted, 65537 refused, 70000 refused and disconnected"

# Invalid requests name the field; the connection stays usable.
out=$("$CTLRAW" "$SOCK" <<'EOF'
{"cmd":"port-show","name":"p0","bogus":1}
{"cmd":"port-show","name":5}
{"cmd":"port-show"}
{"cmd":"port-del","name":"12345678901234567890123456789012"}
{"cmd":"port-add","spec":"name=q1,socket=/x,queues=0"}
{"cmd":"frobnicate"}
{"nocmd":true}
not json
{"cmd":"version"}
EOF
)
printf '%s\n' "$out" | sed 's/^/    /' >&2
expected='{"ok":false,"error":"unknown member","field":"bogus"}
{"ok":false,"error":"must be a string","field":"name"}
{"ok":false,"error":"missing member","field":"name"}
{"ok":false,"error":"must be at most 31 bytes","field":"name"}
spec
{"ok":false,"error":"unknown command '\''frobnicate'\''","field":"cmd"}
field":"cmd"
{"ok":false,"error":"request is not valid JSON"}
{"ok":true,"version":"0.1.0"}
OPEN'
mapfile -t got <<<"$out"
mapfile -t want <<<"$expected"
expect "reply lines" "${#got[@]}" -eq "${#want[@]}"
for i in "${!want[@]}"; do
	case ${want[i]} in
	spec) [[ ${got[i]} == '{"ok":false,"error":'*'"field":"spec"}' ]] ;;
	'field":"cmd"') [[ ${got[i]} == '{"ok":false,"error":'*'"field":"cmd"}' ]] ;;
	*) [ "${got[i]}" = "${want[i]}" ] ;;
	esac || fail "reply $((i + 1)): got ${got[i]}, expected ${want[i]}"
done
log "ok: invalid requests refused with the field named; the connection stays open"

kill -0 "$APID" 2>/dev/null || fail "the agent died: $(tail -5 "$TEST_DIR/agent-a.log")"
log "PASS"
