#!/usr/bin/env bash
# The libvirt hook (contrib/libvirt/qemu.d/50-vdpa-migrate, vdpa-migrate(8)
# HOOK) run as libvirtd runs it -- DOMAIN OPERATION SUBOPERATION EXTRA, the
# domain XML on stdin -- against a real agent, without libvirt:
#   migrate begin   prints the golden rewrite (tests/fixtures/libvirt), prints
#                   nothing for a domain it does not manage, refuses private
#                   memory with one line;
#   prepare begin   creates the port (port show), accepts it a second time,
#                   refuses a port of the same name with another mac, or with
#                   the same mac but other queues; refuses a socket path with
#                   ',' (SPEC injection) or a newline with one line;
#   release end     removes the port, but not another domain's, nor one that
#                   differs from what prepare would make (same mac, other
#                   queues);
#   configuration   a duplicate key, a ',' in socket-dir or endpoint are
#                   refused with file:line (release still exits 0);
#   agent down      prepare fails closed with one line, release exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

HOOK=$REPO_DIR/contrib/libvirt/qemu.d/50-vdpa-migrate
FIX=$REPO_DIR/tests/fixtures/libvirt
GOLDEN_SOCKDIR=/run/vdpa-agent   # the socket directory of the golden files
[ -x "$HOOK" ] || fail "$HOOK is not executable"
export VDPA_MIGRATE=$VMCLI

agent_start h
RT=$(agent_rt h)
export VDPA_HOOK_CONF=$TEST_DIR/hook.conf
cat >"$VDPA_HOOK_CONF" <<EOF
# as an operator would write it
agent = unix:$RT/control.sock
socket-dir = $RT/
backend = sw
endpoint = null
EOF

# hook OP SUBOP XMLFILE: runs the hook script for domain vm1; sets OUT
# (stdout), ERR (stderr) and RC.
hook() {
	RC=0
	"$HOOK" vm1 "$1" "$2" - <"$3" >"$TEST_DIR/hook.out" 2>"$TEST_DIR/hook.err" || RC=$?
	OUT=$(cat "$TEST_DIR/hook.out")
	ERR=$(cat "$TEST_DIR/hook.err")
}
# one_line WHAT REGEX: stderr is exactly one line and matches REGEX.
one_line() {
	local n
	n=$(wc -l <"$TEST_DIR/hook.err")
	[ "$n" -eq 1 ] || fail "$1: $n lines on stderr, expected exactly one: $ERR"
	grep -Eq -- "$2" "$TEST_DIR/hook.err" || fail "$1: stderr does not match /$2/: $ERR"
	log "ok: $1: $ERR"
}
port_json() { agent_cli h -j port show "$1" 2>&1; }

# ---- migrate begin ------------------------------------------------------------
hook migrate begin "$FIX/vdpa-to-sw.in.xml"
[ "$RC" -eq 0 ] || fail "migrate begin: exit $RC: $ERR"
[ -z "$ERR" ] || fail "migrate begin: stderr: $ERR"
sed "s|$RT/|$GOLDEN_SOCKDIR/|g" "$TEST_DIR/hook.out" >"$TEST_DIR/migrate.golden"
diff -u "$FIX/vdpa-to-sw.out.xml" "$TEST_DIR/migrate.golden" >&2 ||
	fail "migrate begin: output differs from vdpa-to-sw.out.xml"
grep -q "path=\"$RT/vm1-net0.sock\"" "$TEST_DIR/hook.out" ||
	fail "migrate begin: the socket is not in socket-dir $RT"
cp "$TEST_DIR/hook.out" "$TEST_DIR/vm1.xml"
log "ok: migrate begin printed the golden rewrite"

# Nothing managed (its sockets are not in socket-dir): empty output, which
# libvirt takes as "unchanged".
hook migrate begin "$FIX/nometa-unchanged.in.xml"
[ "$RC" -eq 0 ] && [ -z "$OUT" ] && [ -z "$ERR" ] ||
	fail "migrate begin of an unmanaged domain: exit $RC, output '$OUT', stderr '$ERR'"
log "ok: migrate begin of an unmanaged domain: no output"

hook migrate begin "$FIX/vdpa-nodev-roundtrip.in.xml"
[ "$RC" -ne 0 ] || fail "migrate begin with private memory succeeded"
[ -z "$OUT" ] || fail "migrate begin with private memory printed XML"
one_line "migrate begin, private memory" \
	"^vdpa-migrate: hook migrate vm1: .*port vm5-net0.*needs shared guest memory"

hook migrate begin "$FIX/err-doctype.in.xml"
[ "$RC" -ne 0 ] || fail "migrate begin with a DOCTYPE succeeded"
one_line "migrate begin, DOCTYPE" "DOCTYPE"

# ---- prepare begin --------------------------------------------------------------
agent_cli h port show vm1-net0 >/dev/null 2>&1 && fail "port vm1-net0 exists before prepare"
hook prepare begin "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] || fail "prepare begin: exit $RC: $ERR"
[ -z "$ERR$OUT" ] || fail "prepare begin: output '$OUT', stderr '$ERR'"
show=$(port_json vm1-net0) || fail "prepare did not create port vm1-net0: $show"
for want in "\"socket\":\"$RT/vm1-net0.sock\"" '"mac":"52:54:00:12:34:56"' \
	'"queues":2' '"mtu":9000' '"backend":"sw"'; do
	grep -qF -- "$want" <<<"$show" || fail "port vm1-net0 lacks $want: $show"
done
[ -S "$RT/vm1-net0.sock" ] || fail "no vhost-user socket $RT/vm1-net0.sock"
log "ok: prepare created vm1-net0 (socket, mac, queues 2, mtu 9000)"

hook prepare begin "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] || fail "prepare begin with the port there already: exit $RC: $ERR"
log "ok: prepare accepts the port it would create"

sed 's/52:54:00:12:34:56/52:54:00:12:34:99/g' "$TEST_DIR/vm1.xml" >"$TEST_DIR/other.xml"
hook prepare begin "$TEST_DIR/other.xml"
[ "$RC" -ne 0 ] || fail "prepare accepted port vm1-net0 with another mac"
one_line "prepare, same port name, another mac" "port vm1-net0 exists on the agent with another mac"

# release of that other domain leaves vm1's port alone
hook release end "$TEST_DIR/other.xml"
[ "$RC" -eq 0 ] || fail "release end (other mac): exit $RC"
one_line "release, another domain's port" "left in place"
port_json vm1-net0 >/dev/null || fail "release of another domain removed vm1-net0"

# Same mac, other queues: prepare refuses, and the release of that refused
# start leaves the port (it is not what this domain's prepare would make).
sed 's/queues="2"/queues="4"/' "$TEST_DIR/vm1.xml" >"$TEST_DIR/queues.xml"
grep -q 'queues="4"' "$TEST_DIR/queues.xml" || fail "queues.xml: no queues=4"
hook prepare begin "$TEST_DIR/queues.xml"
[ "$RC" -ne 0 ] || fail "prepare accepted port vm1-net0 with other queues"
one_line "prepare, same mac, other queues" "port vm1-net0 exists on the agent with another queues"
hook release end "$TEST_DIR/queues.xml"
[ "$RC" -eq 0 ] || fail "release end (other queues): exit $RC"
one_line "release, same mac, other queues" "port vm1-net0 has another queues .*left in place"
show=$(port_json vm1-net0) || fail "release of a refused start (other queues) removed vm1-net0: $show"
grep -qF '"queues":2' <<<"$show" || fail "port vm1-net0 changed: $show"
log "ok: release of a start refused for other queues left vm1-net0"

# A socket path with ',' would add SPEC keys (endpoint=, socket-mode=); one
# with a newline would forge a second line in libvirt's log: both refused,
# one line, and no port made.
hook prepare begin "$FIX/err-meta-socket-comma.in.xml"
[ "$RC" -ne 0 ] || fail "prepare accepted a socket path with ','"
one_line "prepare, socket path with ','" \
	"^vdpa-migrate: hook prepare vm1: domain XML: .*socket path '/run/x.sock,endpoint=tap:eth0,socket-mode=0777' is not an absolute path without control characters and ','"
hook prepare begin "$FIX/err-meta-socket-newline.in.xml"
[ "$RC" -ne 0 ] || fail "prepare accepted a socket path with a newline"
one_line "prepare, socket path with a newline" "socket path '/run/x.sock\?vdpa-migrate: forged\?line'"
show=$(port_json p0) && fail "prepare of a refused socket path made port p0: $show"
hook migrate begin "$FIX/err-meta-socket-comma.in.xml"
[ "$RC" -ne 0 ] && [ -z "$OUT" ] || fail "migrate begin accepted a socket path with ','"
one_line "migrate begin, socket path with ','" "socket path .* is not an absolute path"

# other operations: nothing
hook started begin "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] && [ -z "$OUT$ERR" ] || fail "started begin: exit $RC, '$OUT', '$ERR'"

# ---- release end --------------------------------------------------------------
hook release end "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] || fail "release end: exit $RC: $ERR"
[ -z "$ERR" ] || fail "release end: stderr: $ERR"
show=$(port_json vm1-net0) && fail "release did not remove vm1-net0: $show"
grep -q "no port named" <<<"$show" || fail "port show after release: $show"
log "ok: release removed vm1-net0"
hook release end "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] && [ -z "$ERR" ] || fail "second release end: exit $RC, '$ERR'"

# ---- a bad configuration fails closed -------------------------------------------
cp "$VDPA_HOOK_CONF" "$TEST_DIR/good.conf"
echo "sockdir = /tmp" >>"$VDPA_HOOK_CONF"
hook prepare begin "$TEST_DIR/vm1.xml"
[ "$RC" -ne 0 ] || fail "prepare with a bad configuration succeeded"
one_line "prepare, unknown key" "hook.conf:6: sockdir: unknown key"
cp "$TEST_DIR/good.conf" "$VDPA_HOOK_CONF"
# A key given twice: which one was meant?  Refused with file:line for
# prepare; release still exits 0 (and says why nothing was removed).
echo "backend = accel" >>"$VDPA_HOOK_CONF"
hook prepare begin "$TEST_DIR/vm1.xml"
[ "$RC" -ne 0 ] || fail "prepare with a duplicate key succeeded"
one_line "prepare, duplicate key" "hook.conf:6: backend: given twice \(first on line 4\)"
hook release end "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] || fail "release with a duplicate key: exit $RC"
one_line "release, duplicate key" "hook.conf:6: backend: given twice"
# ',' would inject SPEC keys through socket-dir, endpoint or device.
for bad in "socket-dir = /run/a,endpoint=tap:eth0" "endpoint = null,socket-mode=0777" \
	"device = vfio-user:/x,mtu=1"; do
	grep -v "^${bad%% =*} =" "$TEST_DIR/good.conf" >"$VDPA_HOOK_CONF"
	echo "$bad" >>"$VDPA_HOOK_CONF"
	n=$(wc -l <"$VDPA_HOOK_CONF")
	hook prepare begin "$TEST_DIR/vm1.xml"
	[ "$RC" -ne 0 ] || fail "prepare with '$bad' succeeded"
	one_line "prepare, '$bad'" "hook.conf:$n: ${bad%% =*}: .*without ','"
done
cp "$TEST_DIR/good.conf" "$VDPA_HOOK_CONF"

# ---- no vdpa-migrate --------------------------------------------------------------
RC=0
VDPA_MIGRATE=/nonexistent/vdpa-migrate "$HOOK" vm1 prepare begin - <"$TEST_DIR/vm1.xml" \
	>"$TEST_DIR/hook.out" 2>"$TEST_DIR/hook.err" || RC=$?
ERR=$(cat "$TEST_DIR/hook.err")
[ "$RC" -ne 0 ] || fail "prepare without vdpa-migrate succeeded"
one_line "prepare without vdpa-migrate" "vdpa-migrate not found"

# ---- the agent down ----------------------------------------------------------------
lib_kill "${AGENT_PID[h]}"
hook prepare begin "$TEST_DIR/vm1.xml"
[ "$RC" -ne 0 ] || fail "prepare with the agent down succeeded"
one_line "prepare, agent down" "^vdpa-migrate: hook prepare vm1: cannot reach the agent at $RT/control.sock"
hook release end "$TEST_DIR/vm1.xml"
[ "$RC" -eq 0 ] || fail "release with the agent down: exit $RC"
one_line "release, agent down" "cannot reach the agent .*ports not removed"
# migrate begin needs no agent
hook migrate begin "$FIX/vdpa-to-sw.in.xml"
[ "$RC" -eq 0 ] && [ -n "$OUT" ] || fail "migrate begin with the agent down: exit $RC: $ERR"

log "PASS"
