#!/usr/bin/env bash
# ssh:// agents against a real sshd (test_precheck.sh covers the same with a
# shim in place of ssh).  Inside a network namespace of its own the test runs
# a private /usr/sbin/sshd on 127.0.0.1:2222 with a host key, a client key
# and an authorized_keys of its own (root by key only, no PAM), and the
# system's ssh through $VDPA_MIGRATE_SSH = a wrapper that only adds
# "-F TEST_DIR/ssh/ssh_config" (port, key, known_hosts pre-filled with the
# host key, StrictHostKeyChecking yes).  sshd's SetEnv puts TEST_DIR/ssh/rbin
# first in the session's PATH, where "vdpa-migrate" records its command line
# and $SSH_CONNECTION and runs this build's binary.
#
# Two agents (a: source port p0 negotiated by the synthetic front end, b:
# destination) run in the same namespace: only their unix sockets are used.
# Checked through ssh://root@127.0.0.1/...: ports and port show (the same
# as over unix:), port del/add (a change: root through ssh may), precheck
# --to ssh:// (0 for a match, 3 for a smaller MTU), a wrong socket path (69,
# the proxy's error on stderr), sshd refusing the key (69, ssh's "Permission
# denied" on stderr, no hang), every session a real one (sshd's "Accepted
# publickey" with the test key, the remote command line as vdpa-migrate sent
# it), and no ssh, sshd session or proxy left behind.
#
# sshd needs its privilege separation directory /run/sshd: sshd runs in a
# mount namespace of its own with a private tmpfs on /run, so nothing of
# the host's /run (or its sshd) is touched.  StrictModes is off only when a
# directory above authorized_keys is not root's or is group or world
# writable (e.g. /tmp, mode 1777), which sshd's path check refuses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init
vufront_build

for p in /usr/sbin/sshd ssh ssh-keygen unshare; do
	command -v "$p" >/dev/null || fail "$p is missing (contrib/install-deps.sh installs openssh-server/-client)"
done

NS=$(lib_unique ssh)
netns_create "$NS"
PORT=2222
D=$TEST_DIR/ssh
rm -rf "$D"
umask 022
mkdir -p "$D/rbin"
case "$(cd "$TEST_DIR" && pwd -P)/" in
/run/*) fail "TEST_DIR $TEST_DIR is under /run, which sshd's private tmpfs hides" ;;
esac

# StrictModes: sshd checks authorized_keys and every directory above it up
# to / (it is not under root's home): owned by root, not group/world writable.
STRICT=yes
p=$D
while [ "$p" != / ]; do
	st=$(stat -L -c '%u %a' "$p")
	if [ "${st% *}" -ne 0 ] || (( 8#${st#* } & 8#022 )); then
		STRICT=no
		log "StrictModes no: $p is $(stat -L -c '%U %A' "$p")"
		break
	fi
	p=$(dirname "$p")
done

# ---- keys, configs, wrappers --------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C vdpa-test-host -f "$D/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C vdpa-test-client -f "$D/client_ed25519"
cp "$D/client_ed25519.pub" "$D/authorized_keys"
CLIENT_FP=$(ssh-keygen -l -f "$D/client_ed25519.pub" | awk '{print $2}')
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$D/host_ed25519.pub")" >"$D/known_hosts"

cat >"$D/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $D/host_ed25519
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
UsePAM no
StrictModes $STRICT
PermitUserEnvironment no
PermitUserRC no
PermitTTY no
AllowTcpForwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
SetEnv PATH=$D/rbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF

cat >"$D/ssh_config" <<EOF
Host *
	Port $PORT
	IdentityFile $D/client_ed25519
	IdentitiesOnly yes
	IdentityAgent none
	PreferredAuthentications publickey
	UserKnownHostsFile $D/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	CheckHostIP no
	UpdateHostKeys no
	ControlMaster no
	ControlPath none
	ConnectTimeout 5
EOF

# What vdpa-migrate runs as ssh: the system's, with the private config; its
# arguments pass unchanged.  What ssh gets is recorded one per line.
WRAP=$D/ssh-wrapper
cat >"$WRAP" <<EOF
#!/bin/sh
set -- -F '$D/ssh_config' "\$@"
printf '%s\n' "\$@" '@@' >>'$D/wrapper.calls'
exec ssh "\$@"
EOF
# The remote "vdpa-migrate" first in the session's PATH: records what it got.
cat >"$D/rbin/vdpa-migrate" <<EOF
#!/bin/sh
printf '%s|%s\n' "\${SSH_CONNECTION:-no-ssh}" "\$*" >>'$D/remote.calls'
exec '$VMCLI' "\$@"
EOF
chmod 0755 "$WRAP" "$D/rbin/vdpa-migrate"
: >"$D/wrapper.calls"
: >"$D/remote.calls"

# ---- sshd -------------------------------------------------------------------
# unshare: a private mount namespace (ip netns exec makes / a slave already),
# a tmpfs on /run holding the empty /run/sshd that sshd chroots its
# pre-auth child into.
# shellcheck disable=SC2016
lib_bg sshd netns_exec "$NS" unshare --mount --propagation private sh -c \
	'mount -t tmpfs -o mode=0755,size=1m vdpa-sshd /run && mkdir -m 0755 /run/sshd &&
	 exec "$0" -D -e -f "$1"' /usr/sbin/sshd "$D/sshd_config"
SSHD_PID=$LIB_PID
SSHD_LOG=$TEST_DIR/sshd.log
lib_wait_for 10 grep -q "Server listening on 127.0.0.1 port $PORT" "$SSHD_LOG" ||
	fail "sshd did not start: $(tail -n 10 "$SSHD_LOG")"
lib_wait_for 5 test -s "$D/sshd.pid" || fail "sshd wrote no pid file"
expect "sshd pid file = the pid started" "$(cat "$D/sshd.pid")" -eq "$SSHD_PID"
log "sshd: pid $SSHD_PID on 127.0.0.1:$PORT in netns $NS"

# ---- agents -----------------------------------------------------------------
SRC_SOCK=$(agent_sock a p0)
DONE=$TEST_DIR/vufront.done
rm -f "$DONE"
agent_start a --netns "$NS" -- --port "name=p0,socket=$SRC_SOCK,endpoint=loop,queues=2,mtu=1500"
agent_start b --netns "$NS" -- --port "name=p0,socket=$(agent_sock b p0),endpoint=null,queues=2,mtu=1500"
A=unix:$(agent_rt a)/control.sock
B_CTL=$(agent_rt b)/control.sock
SSH_A=ssh://root@127.0.0.1$(agent_rt a)/control.sock
SSH_B=ssh://root@127.0.0.1$B_CTL
lib_bg vufront netns_exec "$NS" "$VUFRONT" log "$SRC_SOCK" --frames 20 --hold 60 --until "$DONE"
VUFRONT_PID=$LIB_PID
lib_wait_for 10 grep -q '^LOGCHECK ' "$TEST_DIR/vufront.log" ||
	fail "vufront did not negotiate: $(tail -5 "$TEST_DIR/vufront.log")"

# mig ARGS...: vdpa-migrate in the namespace with the wrapper as its ssh;
# stdout in $out, stderr in $err (and TEST_DIR/cli.err), status in $rc, the
# time it took (centiseconds) in $took.  A hang ends in 124 (timeout).
N_SSH=0
mig() {
	local t0
	rc=0
	t0=$(lib_now_cs)
	out=$(VDPA_MIGRATE_SSH=$WRAP timeout -k 2 20 ip netns exec "$NS" "$VMCLI" "$@" \
		2>"$TEST_DIR/cli.err") || rc=$?
	took=$(( $(lib_now_cs) - t0 ))
	err=$(cat "$TEST_DIR/cli.err")
	printf '%s\n' "--- vdpa-migrate $* (exit $rc, ${took}0 ms)" "$out" "$err" >>"$TEST_DIR/cli.out"
	N_SSH=$((N_SSH + 1))
}
# last_call: the arguments ssh got in the wrapper's last run, on one line.
last_call() { awk 'BEGIN { RS = "@@\n" } { s = $0 } END { gsub("\n", " ", s); sub(" $", "", s); print s }' \
	"$D/wrapper.calls"; }
# expect_call AGENT_PATH: ssh got exactly what vdpa-migrate sends
# (ctl_client.c) after the wrapper's -F, and the remote vdpa-migrate got its
# part, in a session of this sshd.
expect_call() {
	local want="-F $D/ssh_config -T -o BatchMode=yes -l root 127.0.0.1 -- vdpa-migrate --agent unix:$1 proxy" got
	got=$(last_call)
	[ "$got" = "$want" ] || fail "ssh got: '$got', expected: '$want'"
	got=$(tail -n1 "$D/remote.calls")
	[[ $got == "127.0.0.1 "[0-9]*" 127.0.0.1 $PORT|--agent unix:$1 proxy" ]] ||
		fail "the remote vdpa-migrate got: '$got' (expected SSH_CONNECTION to port $PORT and '--agent unix:$1 proxy')"
}
accepted() { grep -c "Accepted publickey for root from 127.0.0.1 port [0-9]* ssh2: ED25519 $CLIENT_FP" "$SSHD_LOG" || true; }

# ---- read-only commands --------------------------------------------------------
want=$(agent_cli a ports)
mig --agent "$SSH_A" ports
expect "ports over ssh: exit" "$rc" -eq 0
[ "$out" = "$want" ] || fail "ports over ssh differ from unix: '$out' vs '$want' ($err)"
[[ $out == *p0* ]] || fail "ports over ssh: no p0: $out"
expect_call "$(agent_rt a)/control.sock"
expect "sshd sessions accepted with the test key" "$(accepted)" -eq 1
log "ok: ports over a real ssh session (remote: $(tail -n1 "$D/remote.calls" | cut -d'|' -f1))"

mig --agent "$SSH_A" -j port show p0
expect "port show over ssh: exit" "$rc" -eq 0
flat=$(tr -d ' \n' <<<"$out")
[[ $flat == *'"name":"p0"'* && $flat == *'"max_ring_size":32768'* ]] || fail "port show over ssh: $out"
expect_call "$(agent_rt a)/control.sock"

# ---- precheck --to ssh:// -------------------------------------------------------
mig precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck --to ssh://, matching port: exit" "$rc" -eq 0
[[ $out == *"accepted: port p0 can migrate to the sw backend (existing port)"* ]] ||
	fail "precheck over ssh: $out $err"
expect_call "$B_CTL"

# ---- a change: port del and port add over ssh -------------------------------------
mig --agent "$SSH_B" port del p0
expect "port del over ssh: exit" "$rc" -eq 0
mig --agent "$SSH_B" port add "name=p0,socket=$(agent_sock b p0),endpoint=null,queues=2,mtu=1400"
expect "port add over ssh: exit" "$rc" -eq 0
expect_call "$B_CTL"
agent_cli b -j port show p0 | tr -d ' \n' | grep -q '"mtu":1400' ||
	fail "port add over ssh did not make p0 with mtu 1400: $(agent_cli b -j port show p0)"
log "ok: port del and add over ssh (b's p0 now mtu 1400)"

mig precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck --to ssh://, smaller mtu: exit" "$rc" -eq 3
grep -q '^refuse  mtu: 1500 -> 1400: ' <<<"$out" || fail "no refuse line for the mtu: $out $err"
expect "sshd sessions accepted with the test key" "$(accepted)" -eq "$N_SSH"

# ---- failures ------------------------------------------------------------------
# A socket path with no agent behind it: the remote proxy says so, exits 69.
mig --agent "ssh://root@127.0.0.1$TEST_DIR/nowhere/control.sock" ports
expect "wrong socket path over ssh: exit" "$rc" -eq 69
[[ $err == *"cannot reach the agent at unix:$TEST_DIR/nowhere/control.sock: No such file or directory"* ]] ||
	fail "wrong socket path: the proxy's error is not on stderr: $err"
[[ $err == *"(ssh exited with status 69)"* ]] || fail "wrong socket path: no ssh exit status: $err"
expect_call "$TEST_DIR/nowhere/control.sock"
log "ok: wrong socket path: $(tail -n1 <<<"$err")"

# sshd refuses the key: ssh fails in batch mode at once, 69, its message on stderr.
: >"$D/authorized_keys"
n_remote=$(wc -l <"$D/remote.calls")
mig --agent "$SSH_A" ports
expect "key refused: exit" "$rc" -eq 69
expect "key refused: time (cs)" "$took" -lt 500
[[ $err == *"Permission denied (publickey)"* ]] || fail "key refused: no ssh message on stderr: $err"
[[ $err == *"(ssh exited with status 255)"* ]] || fail "key refused: no ssh exit status: $err"
expect "key refused: remote commands run" "$(wc -l <"$D/remote.calls")" -eq "$n_remote"
lib_wait_for 5 grep -q "Connection closed by authenticating user root 127.0.0.1" "$SSHD_LOG" ||
	fail "sshd did not log the refused session: $(tail -n 5 "$SSHD_LOG")"
log "ok: key refused: $(grep 'Permission denied' <<<"$err")"
cp "$D/client_ed25519.pub" "$D/authorized_keys"

# precheck's destination refused: 69 too, the source side unaffected.
: >"$D/authorized_keys"
mig precheck --from "$A" --port p0 --to "$SSH_B"
expect "precheck, destination key refused: exit" "$rc" -eq 69
cp "$D/client_ed25519.pub" "$D/authorized_keys"

expect "sshd sessions accepted with the test key" "$(accepted)" -eq $((N_SSH - 2))
expect "ssh runs through the wrapper" "$(grep -c '^@@$' "$D/wrapper.calls")" -eq "$N_SSH"

# ---- nothing left behind ---------------------------------------------------------
# ns_others: the processes in the namespace other than sshd, the agents and
# the front end, with their command lines (ssh clients, sshd's session
# children and remote proxies all run in it).
ns_others() {
	local pid
	for pid in $(ip netns pids "$NS"); do
		case " $SSHD_PID ${AGENT_PID[a]} ${AGENT_PID[b]} $VUFRONT_PID " in
		*" $pid "*) continue ;;
		esac
		printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
}
ns_clean() { [ -z "$(ns_others)" ]; }
lib_wait_for 5 ns_clean || fail "left behind in the namespace: $(ns_others)"
[ -z "$(ps -o pid= --ppid "$SSHD_PID")" ] || fail "sshd has children: $(ps -o pid=,args= --ppid "$SSHD_PID")"
agent_check_alive a
agent_check_alive b
touch "$DONE"
lib_kill "$SSHD_PID" 3
! kill -0 "$SSHD_PID" 2>/dev/null || fail "sshd $SSHD_PID still running"
SSHD_PID=-
lib_wait_for 5 ns_clean || fail "left behind after sshd stopped: $(ns_others)"
log "ok: no ssh, sshd or proxy left behind ($N_SSH ssh runs)"
log "PASS"
