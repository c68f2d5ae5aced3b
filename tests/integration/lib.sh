# shellcheck shell=bash
# Helpers for the integration tests: network namespaces, QEMU with the test
# guest, the guest's serial console, QMP, and cleanup of everything a test
# started.  Source it, then call lib_init:
#
#   . "$(dirname "$0")/lib.sh"
#   lib_init                          # traps, log dir, guest, root check
#   netns_create "$NS"; netns_add_tap "$NS" tap0 10.77.0.1/24
#   vm_start g1 --netns "$NS" --append "vdpa.ip=10.77.0.2/24" -- \
#       -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
#       -device virtio-net-pci,netdev=n0
#   vm_wait_ready g1
#   vm_run g1 "ip -br addr"
#
# A vhost-user NIC (the agent) instead, per DESIGN.md (no MSI-X under TCG):
#   -chardev socket,id=vu0,path=$SOCK -netdev vhost-user,id=n0,chardev=vu0
#   -device virtio-net-pci,netdev=n0,vectors=0
# The guest memory is always a shared memfd, as vhost-user needs.
#
# Console: "-chardev pipe": QEMU reads NAME.con.in and writes NAME.con.out
# (FIFOs); a cat drains the latter into NAME.console (never let QEMU block on
# a full FIFO), and the test keeps NAME.con.in open read-write so a write never
# blocks even if QEMU died.  The guest runs a non-interactive shell with echo
# off on the console, so the log holds only what commands print (plus kernel
# messages at warning level and above).
#
# Deadlines use /proc/uptime (monotonic), never the wall clock.

# Globals set here are for the tests: TRAFFICCHECK, QMPCMD, VM_NETNS, ...
# shellcheck disable=SC2034,SC2054
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LIB_DIR/../.." && pwd)

declare -a LIB_PIDS=()        # every background process we started
declare -a LIB_CLEANUP=()     # commands run (last first) at exit
declare -A VM_PID=() VM_INFD=() VM_CATPID=() VM_NETNS=() VM_INCOMING=()
LIB_SEQ=0

# ---- basics ---------------------------------------------------------------

log() { printf '[%s] %s\n' "$(lib_elapsed)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# Centiseconds since boot: a monotonic clock without forking.
lib_now_cs() {
	local up
	read -r up _ </proc/uptime
	up=${up/./}
	echo $((10#$up))
}
lib_elapsed() {
	local d=$(( $(lib_now_cs) - ${LIB_START_CS:-0} ))
	printf '%d.%02ds' $((d / 100)) $((d % 100))
}

# lib_init: call once, first.  Sets TEST_NAME, TEST_DIR (logs and sockets;
# $VDPA_TEST_LOGDIR when run by run.sh), GUEST_DIR (built if
# $VDPA_GUEST_DIR is unset), TRAFFICCHECK and QMPCMD (host-side binaries).
lib_init() {
	LIB_START_CS=$(lib_now_cs)
	TEST_NAME=$(basename "$0" .sh)
	TEST_NAME=${TEST_NAME#test_}
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: $TEST_NAME needs root (netns, tap)"; exit 77; }
	if [ -n "${VDPA_TEST_LOGDIR:-}" ]; then
		TEST_DIR=$VDPA_TEST_LOGDIR
		mkdir -p "$TEST_DIR"
	else
		TEST_DIR=$(mktemp -d "/tmp/vdpa-$TEST_NAME.XXXXXX")
	fi
	if [ -z "${VDPA_GUEST_DIR:-}" ]; then
		VDPA_GUEST_DIR=$("$REPO_DIR/tests/guest/build-guest.sh" | tail -n1) ||
			fail "cannot build the test guest"
	fi
	GUEST_DIR=$VDPA_GUEST_DIR
	qemu_lane
	TRAFFICCHECK=$GUEST_DIR/trafficcheck
	QMPCMD=$GUEST_DIR/qmpcmd
	for f in vmlinuz initramfs.gz trafficcheck qmpcmd; do
		[ -e "$GUEST_DIR/$f" ] || fail "guest incomplete: no $GUEST_DIR/$f"
	done
	# A write into a closed pipe must be an error we see, not a silent death
	# of the test shell that skips the cleanup (seen as exit status 141).
	trap '' PIPE
	# A test that set -e ends must say where, or it ends in silence.
	set -o errtrace
	trap 'log "stopped by a failing command at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (status $?)"' ERR
	trap 'lib_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	log "logs in $TEST_DIR"
}

# qemu_lane: which QEMU the test runs, from VDPA_QEMU:
#   system  Debian's own qemu-system-x86_64 (7.2 on Debian 12: what its hosts run)
#   10      QEMU 10 from Debian 12's backports suite, unpacked into a cache by
#           tests/qemu/fetch-qemu.sh ($VDPA_QEMU10_DIR when run.sh fetched it)
# Sets QEMU_BIN, QEMU_LANE ("system" or "10"), QEMU_VERSION, QEMU_STRICT and
# QEMU_MSIX.  QEMU_STRICT=1 (QEMU 9.0 and later) makes every guest page that
# differs after a migration fatal (ram_compare): before 9.0, TCG could lose
# guest stores from the migration dirty bitmap ("physmem: Fix migration dirty
# bitmap coherency with TCG memory access", QEMU 9.0), so on 7.2 a migration
# may leave pages different with no vhost backend involved at all.
# QEMU_MSIX=1 when virtio-net-pci may keep its MSI-X vectors with a
# vhost-user netdev: QEMU 7.2 under TCG segfaults in
# msix_set_vector_notifiers when the guest starts such a device, so there
# the NIC gets vectors=0 (INTx); QEMU 10 runs it as libvirt configures it.
qemu_lane() {
	QEMU_LANE=${VDPA_QEMU:-system}
	case "$QEMU_LANE" in
	system) QEMU_BIN=qemu-system-x86_64 ;;
	10)
		if [ -z "${VDPA_QEMU10_DIR:-}" ]; then
			VDPA_QEMU10_DIR=$("$REPO_DIR/tests/qemu/fetch-qemu.sh" | tail -n1) ||
				fail "cannot fetch QEMU 10 (tests/qemu/fetch-qemu.sh)"
		fi
		QEMU_BIN=$VDPA_QEMU10_DIR/bin/qemu-system-x86_64 ;;
	*) fail "VDPA_QEMU=$QEMU_LANE: expected system or 10" ;;
	esac
	QEMU_VERSION=$("$QEMU_BIN" --version 2>/dev/null | sed -n '1s/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p')
	[ -n "$QEMU_VERSION" ] || fail "$QEMU_BIN does not run or says no version"
	QEMU_STRICT=0 QEMU_MSIX=0
	if [ "${QEMU_VERSION%%.*}" -ge 9 ]; then QEMU_STRICT=1 QEMU_MSIX=1; fi
	# VDPA_QEMU_MSIX=1 forces MSI-X on (to see 7.2's crash for oneself).
	QEMU_MSIX=${VDPA_QEMU_MSIX:-$QEMU_MSIX}
	[ "$QEMU_LANE" != 10 ] || [ "${QEMU_VERSION%%.*}" -ge 10 ] ||
		fail "VDPA_QEMU=10 runs $QEMU_BIN, which is QEMU $QEMU_VERSION"
	log "QEMU lane $QEMU_LANE: QEMU $QEMU_VERSION ($QEMU_BIN)"
}

# lib_unique SUFFIX: a name unique to this test run (netns names etc.).
lib_unique() { echo "vdpa-${TEST_NAME:0:12}-$$-$1"; }

# lib_on_cleanup CMD...: run CMD at exit (in reverse order of registration).
lib_on_cleanup() { LIB_CLEANUP+=("$(printf '%q ' "$@")"); }

# lib_bg LOGNAME CMD...: start CMD in the background, output to
# TEST_DIR/LOGNAME.log; its pid is in LIB_PID and it is killed at exit.
lib_bg() {
	local name=$1; shift
	# netns_exec is a shell function: run in the background it would be
	# a subshell with ip as its child, and killing LIB_PID would leave the
	# program running.  "ip netns exec" directly execs it: one pid.
	if [ "$1" = netns_exec ]; then
		shift
		set -- ip netns exec "$@"
	fi
	"$@" >"$TEST_DIR/$name.log" 2>&1 </dev/null &
	LIB_PID=$!
	LIB_PIDS+=("$LIB_PID")
}

# lib_kill PID [GRACE_SECONDS]: TERM, then KILL after the grace period.
lib_kill() {
	local pid=$1 grace=${2:-3} deadline
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null
	deadline=$(( $(lib_now_cs) + grace * 100 ))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(lib_now_cs)" -ge $deadline ]; then
			kill -KILL "$pid" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	return 0
}

lib_cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	set +e  # cleanup must run to the end whatever fails
	for vm in "${!VM_PID[@]}"; do vm_kill "$vm"; done
	for ((i = ${#LIB_PIDS[@]} - 1; i >= 0; i--)); do
		lib_kill "${LIB_PIDS[i]}" 2
	done
	for ((i = ${#LIB_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${LIB_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	exit $rc
}

# lib_wait_for TIMEOUT_S CMD...: poll CMD every 0.1 s until it succeeds.
lib_wait_for() {
	local deadline=$(( $(lib_now_cs) + $1 * 100 )); shift
	until "$@"; do
		[ "$(lib_now_cs)" -lt $deadline ] || return 1
		sleep 0.1
	done
}

# ---- network namespaces ---------------------------------------------------

# netns_create NS: a fresh namespace with lo up, deleted at exit.
netns_create() {
	ip netns add "$1" || fail "cannot create netns $1"
	lib_on_cleanup ip netns del "$1"
	ip -n "$1" link set lo up
}

# netns_exec NS CMD...
netns_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# netns_add_tap NS TAP [ADDR/LEN [multi_queue]]: a tap in NS, up, with an
# address.  Whoever opens it (QEMU, the agent) must run in NS and match the
# multi_queue flag (QEMU: queues=N > 1 on the netdev).
netns_add_tap() {
	ip -n "$1" tuntap add dev "$2" mode tap ${4:+"$4"} || fail "cannot create tap $2 in $1"
	[ -z "${3:-}" ] || ip -n "$1" addr add "$3" dev "$2"
	ip -n "$1" link set "$2" up
}

# netns_add_bridge NS BR ADDR/LEN: a bridge in NS, up, with the host's
# address (the "wire" two hosts' taps share in migration tests).
netns_add_bridge() {
	ip -n "$1" link add "$2" type bridge || fail "cannot create bridge $2 in $1"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$1" link set "$2" up
}

# netns_bridge_port NS BR IF: IF joins bridge BR, up.
netns_bridge_port() {
	ip -n "$1" link set "$3" master "$2" || fail "cannot add $3 to $2"
	ip -n "$1" link set "$3" up
}

# netns_add_veth NS IF PEER_NS PEER_IF [ADDR/LEN [PEER_ADDR/LEN]]: a veth
# pair between two namespaces (or within one), both ends up.
netns_add_veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" ||
		fail "cannot create veth $2/$4"
	[ -z "${5:-}" ] || ip -n "$1" addr add "$5" dev "$2"
	[ -z "${6:-}" ] || ip -n "$3" addr add "$6" dev "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# ---- VMs ------------------------------------------------------------------

# vm_start NAME [--netns NS] [--append "KERNEL ARGS"] [--smp N] [--mem 256M]
#          [-- EXTRA QEMU ARGS (netdev, device, -incoming ...)]
# Files: TEST_DIR/NAME.console (serial log), NAME.qemu.log (QEMU's
# stdout/stderr), NAME.qmp (QMP socket).  VM_PID[NAME] is QEMU's pid.
vm_start() {
	local name=$1; shift
	local ns="" append="" smp=1 mem=256M
	while [ $# -gt 0 ]; do
		case "$1" in
		--netns) ns=$2; shift 2 ;;
		--append) append=$2; shift 2 ;;
		--smp) smp=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--) shift; break ;;
		*) fail "vm_start: unknown option $1" ;;
		esac
	done
	local base=$TEST_DIR/$name fd
	rm -f "$base.con.in" "$base.con.out" "$base.qmp" "$base.console"
	mkfifo "$base.con.in" "$base.con.out" || fail "mkfifo failed"
	: >"$base.console"
	# The drain first: its open blocks until QEMU opens the FIFO.
	cat "$base.con.out" >>"$base.console" &
	VM_CATPID[$name]=$!
	exec {fd}<>"$base.con.in"
	VM_INFD[$name]=$fd
	VM_NETNS[$name]=$ns
	local cmd=("$QEMU_BIN"
		-name "$name" -machine "${VDPA_QEMU_MACHINE:-q35}" -accel "${VDPA_QEMU_ACCEL:-tcg}" -cpu max
		-smp "$smp" -m "$mem"
		-object "memory-backend-memfd,id=mem,size=$mem,share=on" -numa node,memdev=mem
		-display none -nodefaults -no-user-config -no-reboot
		-chardev "pipe,id=con,path=$base.con" -serial chardev:con
		-qmp "unix:$base.qmp,server=on,wait=off"
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/initramfs.gz"
		-append "console=ttyS0 loglevel=5 printk.time=1 panic=-1 $append"
		"$@")
	[ -z "$ns" ] || cmd=(ip netns exec "$ns" "${cmd[@]}")
	printf '%q ' "${cmd[@]}" >"$base.cmdline"
	# "-incoming unix:PATH": vm_wait_qmp waits for that socket too.
	local a prev="" inc=""
	for a in "$@"; do
		[ "$prev" != -incoming ] || case "$a" in unix:*) inc=${a#unix:} ;; esac
		prev=$a
	done
	VM_INCOMING[$name]=$inc
	"${cmd[@]}" >"$base.qemu.log" 2>&1 </dev/null &
	VM_PID[$name]=$!
	log "$name: QEMU pid ${VM_PID[$name]}${ns:+ in netns $ns}"
}

vm_alive() { kill -0 "${VM_PID[$1]}" 2>/dev/null; }

# vm_wait_qmp NAME [TIMEOUT_S=60]: wait until NAME's QMP socket exists and,
# for a VM started with "-incoming unix:PATH", its migration socket too:
# QEMU creates the QMP socket early and listens for the migration only once
# the machine is set up, so a "migrate" sent in between fails (seen on a
# loaded machine: "Failed to connect to ...: No such file or directory").
vm_wait_qmp() {
	local name=$1 t=${2:-60}
	lib_wait_for "$t" test -S "$TEST_DIR/$name.qmp" || fail "$name: no QMP socket within ${t}s"
	[ -z "${VM_INCOMING[$name]:-}" ] ||
		lib_wait_for "$t" test -S "${VM_INCOMING[$name]}" ||
		fail "$name: not listening on ${VM_INCOMING[$name]} within ${t}s"
}

# vm_console NAME [FROM_BYTE]: the console log, CRs removed.
vm_console() { tail -c +$(( ${2:-0} + 1 )) "$TEST_DIR/$1.console" | tr -d '\r'; }

# vm_console_offset NAME: current size of the console log (for "since").
vm_console_offset() { stat -c %s "$TEST_DIR/$1.console"; }

# vm_diag NAME: why a VM failed, on stderr.
vm_diag() {
	log "$1: last console lines:"
	vm_console "$1" | tail -n 25 | sed 's/^/    | /' >&2
	log "$1: QEMU log:"
	tail -n 15 "$TEST_DIR/$1.qemu.log" | sed 's/^/    | /' >&2
}

# vm_wait_console NAME REGEX [TIMEOUT_S=30] [FROM_BYTE=0]: wait for a console
# line matching the extended REGEX; print the first such line.
vm_wait_console() {
	local name=$1 re=$2 timeout=${3:-30} from=${4:-0} line deadline
	deadline=$(( $(lib_now_cs) + timeout * 100 ))
	for (( ; ; )); do
		# No grep -m1: an early exit would SIGPIPE the writer (pipefail).
		if line=$(vm_console "$name" "$from" | grep -E -- "$re"); then
			echo "${line%%$'\n'*}"
			return 0
		fi
		if ! vm_alive "$name"; then
			log "$name: QEMU exited while waiting for /$re/"
			vm_diag "$name"
			return 1
		fi
		if [ "$(lib_now_cs)" -ge $deadline ]; then
			log "$name: no /$re/ on the console within ${timeout}s"
			vm_diag "$name"
			return 1
		fi
		sleep 0.1
	done
}

# vm_wait_ready NAME [TIMEOUT_S=60]: wait for the guest's VDPA-GUEST-READY.
vm_wait_ready() {
	local line
	line=$(vm_wait_console "$1" '^VDPA-GUEST-READY' "${2:-60}") || return 1
	log "$1: ${line#VDPA-GUEST-READY }"
}

# vm_send NAME LINE: type one line on the guest's shell, do not wait.
vm_send() {
	[ -n "${VM_INFD[$1]:-}" ] || fail "vm_send: no VM $1"
	printf '%s\n' "$2" >&"${VM_INFD[$1]}"
}

# vm_run NAME CMD [TIMEOUT_S=30]: run CMD in the guest's shell; print its
# output (stdout and stderr) and return its exit status; 124 on timeout.
# Output of background guest jobs may interleave.  Kernel messages (warning
# level and up, e.g. "hrtimer: interrupt took ..." on a loaded host) go to
# the console from outside the tty and can cut a line of CMD's output in
# two: they are taken out and the line is joined again (vm_check_console
# reads them from the raw console log).
vm_run() {
	local name=$1 gcmd=$2 timeout=${3:-30} from tag out line
	LIB_SEQ=$((LIB_SEQ + 1))
	tag="VDPA-END-$$-$LIB_SEQ"
	from=$(vm_console_offset "$name")
	vm_send "$name" "{ $gcmd
} 2>&1; echo \"$tag rc=\$?\""
	# Not anchored at the line start: should the tty ever echo the
	# command, the echo ends in 'rc=$?' (no digits) and the real marker
	# may follow it on the same line.
	line=$(vm_wait_console "$name" "$tag rc=[0-9]+\$" "$timeout" "$from") || return 124
	out=$(vm_console "$name" "$from" | lib_strip_kmsg)
	printf '%s\n' "$out" | sed "/$tag rc=[0-9]/,\$d"
	return "${line##*rc=}"
}

# lib_strip_kmsg: a console stream without its kernel messages ("[ secs.usecs]
# text", printk.time=1), rejoining a line that one of them interrupted.
lib_strip_kmsg() {
	awk '{
		line = pending $0; pending = ""
		if (match(line, /\[ *[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]\] /)) {
			if (RSTART > 1) pending = substr(line, 1, RSTART - 1)
			next
		}
		print line
	}
	END { if (pending != "") print pending }'
}

# vm_check_console NAME: fail-worthy console lines (virtio errors, kernel
# BUG/WARNING/Oops/panic, init errors) are printed; status 1 if any.
vm_check_console() {
	local bad
	bad=$(vm_console "$1" | grep -E \
		'^\[ *[0-9]+\.[0-9]+\] .*(virtio|BUG|WARNING|Oops|Call Trace|panic|failover)|VDPA-GUEST-ERROR|VDPA-GUEST-SHELL-RESTART' || true)
	[ -z "$bad" ] && return 0
	log "$1: errors on the console:"
	printf '%s\n' "$bad" | sed 's/^/    | /' >&2
	return 1
}

# qmp NAME CMD...: QMP commands (JSON, or a bare command name) on NAME's
# socket; prints one reply per line; non-zero if any reply is an error.
# "qmp -e EVENT NAME ..." then waits for that event; "-t SEC" per reply.
qmp() {
	local opts=()
	while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do opts+=("$1" "$2"); shift 2; done
	local name=$1; shift
	"$QMPCMD" "${opts[@]}" "$TEST_DIR/$name.qmp" "$@"
}

# vm_stop NAME: QMP quit, then TERM/KILL if QEMU lingers.
vm_stop() {
	local name=$1
	[ -n "${VM_PID[$name]:-}" ] || return 0
	# QEMU may exit before it answers quit: not an error.
	if vm_alive "$name"; then qmp -t 3 "$name" quit >/dev/null 2>&1 || true; fi
	lib_wait_for 5 eval "! kill -0 ${VM_PID[$name]} 2>/dev/null" || true
	vm_kill "$name"
}

# vm_kill NAME: QEMU and the console drain go, now.
vm_kill() {
	local name=$1
	[ -n "${VM_PID[$name]:-}" ] || return 0
	lib_kill "${VM_PID[$name]}" 2
	lib_kill "${VM_CATPID[$name]}" 1
	local fd=${VM_INFD[$name]:-}
	[ -z "$fd" ] || exec {fd}>&-
	unset "VM_PID[$name]" "VM_CATPID[$name]" "VM_INFD[$name]" "VM_INCOMING[$name]"
}

# ---- traffic --------------------------------------------------------------

# traffic_both_ways VM NS HOST_IP GUEST_IP RATE SECS: UDP host->guest and
# guest->host at the same time (ports 5001 into the guest, 5002 into the
# host) for SECS at RATE datagrams/s, then checks both directions against
# what each sender says it sent: 0 corrupt, 0 duplicate, over 90% received.
# The guest's sender and receiver write to files in the guest, not to the
# console, where two programs' lines and kernel messages can interleave.
traffic_both_ways() {
	local vm=$1 ns=$2 hip=$3 gip=$4 rate=$5 secs=$6 host_recv host_send
	local host_sent guest_sent guest_traffic host_traffic
	# Receivers first: each end must be listening before anything is sent.
	lib_bg host-recv netns_exec "$ns" "$TRAFFICCHECK" recv --port 5002 \
		--duration $((secs + 60)) --idle-exit 3 --json
	host_recv=$LIB_PID
	vm_run "$vm" "rm -f /tmp/tbw-recv.out /tmp/tbw-send.out; trafficcheck recv --port 5001 --duration $((secs + 60)) --idle-exit 3 --json >/tmp/tbw-recv.out 2>&1 &
		i=0; while ! grep -q RECV-READY /tmp/tbw-recv.out && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done
		grep -q RECV-READY /tmp/tbw-recv.out" 15 >/dev/null || fail "guest receiver did not start"
	lib_wait_for 5 grep -q '^RECV-READY' "$TEST_DIR/host-recv.log" || fail "host receiver did not start"

	log "traffic both ways: $rate pps for ${secs}s"
	vm_send "$vm" "trafficcheck send --dst $hip:5002 --rate $rate --duration $secs --flow 2 >/tmp/tbw-send.out 2>&1 &"
	lib_bg host-send netns_exec "$ns" "$TRAFFICCHECK" send --dst "$gip:5001" \
		--rate "$rate" --duration "$secs" --flow 1
	host_send=$LIB_PID

	wait "$host_send" || fail "host sender failed: $(cat "$TEST_DIR/host-send.log")"
	host_sent=$(grep '^SENT ' "$TEST_DIR/host-send.log") || fail "host sender printed no SENT line"
	# Bounded loops in the guest: a vm_run that times out leaves its
	# command running in the guest's only shell.
	vm_run "$vm" "i=0; while ! { grep -q '^SENT ' /tmp/tbw-send.out && grep -q '^TRAFFIC ' /tmp/tbw-recv.out; } && [ \$i -lt 60 ]; do sleep 0.5; i=\$((i+1)); done" 40 >/dev/null ||
		fail "guest shell does not answer"
	guest_sent=$(vm_run "$vm" "grep '^SENT ' /tmp/tbw-send.out") ||
		fail "guest sender printed no SENT line: $(vm_run "$vm" "cat /tmp/tbw-send.out")"
	guest_traffic=$(vm_run "$vm" "grep '^TRAFFIC ' /tmp/tbw-recv.out | tail -n1") ||
		fail "guest receiver printed no TRAFFIC line: $(vm_run "$vm" "cat /tmp/tbw-recv.out")"
	wait "$host_recv" || fail "host receiver failed"
	host_traffic=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1) ||
		fail "host receiver printed no TRAFFIC line"
	log "host -> guest: $host_sent"
	log "         got : $guest_traffic"
	log "guest -> host: $guest_sent"
	log "         got : $host_traffic"
	traffic_check "host->guest" "$host_sent" "$guest_traffic"
	traffic_check "guest->host" "$guest_sent" "$host_traffic"
	# For tests that look further (e.g. the agent's counters).
	TRAFFIC_TO_GUEST=$guest_traffic TRAFFIC_TO_HOST=$host_traffic
}

# Long-running traffic for tests that act while it flows (switches,
# migrations): traffic_start VM NS HOST_IP GUEST_IP RATE starts UDP both ways
# (into the host on 5101, into the guest on 5201), traffic_host_received
# prints what the host has received so far (traffic_host_field any other
# count), and traffic_stop_check stops the senders and checks both
# directions.
traffic_start() {
	local vm=$1 ns=$2 hip=$3 gip=$4 rate=$5
	# The host's receiver runs until traffic_stop_check stops it (a guest
	# a test pauses is quiet for as long as the test takes); the durations
	# only bound a test that went wrong, the senders stop when told.
	lib_bg host-recv netns_exec "$ns" "$TRAFFICCHECK" recv --port 5101 --duration 3660 --json
	TRAFFIC_RECV_PID=$LIB_PID
	vm_send "$vm" "trafficcheck recv --port 5201 --duration 3660 --idle-exit 4 --json >/tmp/recv.out 2>&1 &"
	sleep 1
	vm_send "$vm" "trafficcheck send --dst $hip:5101 --rate $rate --duration 3600 --flow 1 >/tmp/send.out 2>&1 & echo \$! >/tmp/send.pid"
	lib_bg host-send netns_exec "$ns" "$TRAFFICCHECK" send --dst "$gip:5201" --rate "$rate" \
		--duration 3600 --flow 2
	TRAFFIC_SEND_PID=$LIB_PID
}

traffic_host_received() {
	traffic_host_field received
}

# traffic_host_field FIELD: a field of the host receiver's counts so far.
traffic_host_field() {
	local line v
	kill -USR1 "$TRAFFIC_RECV_PID" 2>/dev/null ||
		log "the host's receiver has exited: $(tail -n1 "$TEST_DIR/host-recv.log")"
	sleep 0.3
	line=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1 || true)
	v=$(printf '%s' "$line" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
	echo "${v:-0}"
}

# traffic_stop_check VM GUEST_IP MAX_LOST [MAX_DUP_TO_HOST]: stops both
# flows and checks them: nothing corrupt, at most MAX_LOST lost each way,
# no duplicate into the guest and at most MAX_DUP_TO_HOST (0 unless given)
# into the host.
traffic_stop_check() {
	local vm=$1 gip=$2 max_lost=$3 max_dup_h=${4:-0} g_recv h_recv
	vm_send "$vm" "kill -TERM \$(cat /tmp/send.pid)"
	kill -TERM "$TRAFFIC_SEND_PID" 2>/dev/null || true
	lib_wait_for 10 grep '^SENT ' "$TEST_DIR/host-send.log" >/dev/null ||
		fail "host sender did not stop"
	vm_run "$vm" "i=0; while ! grep TRAFFIC /tmp/recv.out >/dev/null && [ \$i -lt 40 ]; do sleep 0.5; i=\$((i+1)); done" 40 ||
		fail "guest shell does not answer"
	g_recv=$(vm_run "$vm" "grep TRAFFIC /tmp/recv.out") || fail "guest receiver did not finish"
	# The guest's sender stopped before its receiver finished: what has not
	# reached the host by now counts as lost.
	kill -TERM "$TRAFFIC_RECV_PID" 2>/dev/null || true
	lib_wait_for 20 eval "! kill -0 $TRAFFIC_RECV_PID 2>/dev/null" || fail "host receiver did not stop"
	h_recv=$(grep '^TRAFFIC ' "$TEST_DIR/host-recv.log" | tail -n1)
	log "host -> guest: $g_recv"
	log "guest -> host: $h_recv"
	expect "host -> guest corrupt" "$(json_field "$g_recv" corrupt)" -eq 0
	expect "host -> guest duplicate" "$(json_field "$g_recv" duplicate)" -eq 0
	expect "host -> guest lost" "$(json_field "$g_recv" lost)" -le "$max_lost"
	expect "guest -> host corrupt" "$(json_field "$h_recv" corrupt)" -eq 0
	expect "guest -> host duplicate" "$(json_field "$h_recv" duplicate)" -le "$max_dup_h"
	expect "guest -> host lost" "$(json_field "$h_recv" lost)" -le "$max_lost"
}

# traffic_check DIRECTION SENT_LINE TRAFFIC_LINE: what the receiver got
# against what the sender says it sent (never against a rate: a loaded
# machine sends fewer, and that is no fault of the product).
traffic_check() {
	local sent recv uniq
	sent=$(json_field "$2" sent)
	recv=$(json_field "$3" received)
	uniq=$(json_field "$3" unique)
	expect "$1 sent" "$sent" -gt 0
	expect "$1 corrupt" "$(json_field "$3" corrupt)" -eq 0
	expect "$1 duplicate" "$(json_field "$3" duplicate)" -eq 0
	expect "$1 unique received" "$uniq" -le "$sent"
	expect "$1 received x10" $((recv * 10)) -gt $((sent * 9))
}

# json_field LINE FIELD: a numeric field of a TRAFFIC/SENT line.
json_field() {
	local v
	v=$(printf '%s\n' "$1" | sed -n "s/.*\"$2\":\\([0-9][0-9]*\\).*/\\1/p")
	[ -n "$v" ] || { log "no field $2 in: $1"; echo -1; return 1; }
	echo "$v"
}

# expect NAME VALUE OP LIMIT: numeric check with a readable verdict, e.g.
# expect "guest corrupt" "$c" -eq 0.  Fails the test when false.
expect() {
	if test "$2" "$3" "$4" 2>/dev/null; then
		log "ok: $1 = $2 ($3 $4)"
	else
		fail "$1 = $2, expected $3 $4"
	fi
}
