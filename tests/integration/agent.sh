# shellcheck shell=bash
# Helpers for tests that run vdpa-agentd (source after lib.sh):
#
#   agent_start NAME [--netns NS] -- AGENT_ARGS...   runtime dir TEST_DIR/NAME.rt
#   agent_sock NAME PORT                             the port's vhost-user socket path
#   agent_cli NAME ARGS...                           vdpa-migrate against that agent
#   agent_check_alive NAME                           fails the test if it died
#   vu_netdev_args ID SOCK                           QEMU args for a vhost-user NIC

VDPA_BUILD=${VDPA_BUILD:-$REPO_DIR/build}
AGENTD=$VDPA_BUILD/vdpa-agentd
VMCLI=$VDPA_BUILD/vdpa-migrate
declare -A AGENT_PID=()

agent_start() {
	local name=$1; shift
	local ns=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--netns) ns=$2; shift 2 ;;
		--) shift; break ;;
		*) fail "agent_start: unknown option $1" ;;
		esac
	done
	local rt=$TEST_DIR/$name.rt
	mkdir -p "$rt"
	local cmd=("$AGENTD" --runtime-dir "$rt" --state-dir "$rt" "$@")
	[ -z "$ns" ] || cmd=(ip netns exec "$ns" "${cmd[@]}")
	lib_bg "agent-$name" "${cmd[@]}"
	AGENT_PID[$name]=$LIB_PID
	lib_wait_for 10 test -S "$rt/control.sock" ||
		fail "agent $name did not start: $(tail -5 "$TEST_DIR/agent-$name.log")"
	log "agent $name: pid ${AGENT_PID[$name]}${ns:+ in netns $ns}"
}

agent_rt() { echo "$TEST_DIR/$1.rt"; }
agent_sock() { echo "$TEST_DIR/$1.rt/$2.sock"; }
agent_cli() { local name=$1; shift; "$VMCLI" --agent "unix:$(agent_rt "$name")/control.sock" "$@"; }

agent_check_alive() {
	kill -0 "${AGENT_PID[$1]}" 2>/dev/null ||
		fail "agent $1 died: $(tail -20 "$TEST_DIR/agent-$1.log")"
}

vu_netdev_args() { # ID SOCK [MAC] [QUEUES]
	local id=$1 sock=$2 mac=${3:-52:54:00:77:00:02} q=${4:-1} mq="" vec=",vectors=0"
	[ "$q" -le 1 ] || mq=",mq=on"
	# MSI-X as libvirt configures it where QEMU allows (qemu_lane in lib.sh).
	[ "${QEMU_MSIX:-0}" != 1 ] || vec=""
	printf '%s\n' -chardev "socket,id=c$id,path=$sock,reconnect=1" \
		-netdev "vhost-user,id=$id,chardev=c$id,queues=$q" \
		-device "virtio-net-pci,netdev=$id,mac=$mac$vec$mq"
}

# MIGRATE_DOWNTIME_LIMIT (ms, default 300): QEMU's downtime-limit.
# migrate_vm SRC DST URI [TIMEOUT_S=120] [DST_PAUSED=0]: live-migrates VM
# SRC into DST (started with "-incoming URI", and -S when DST_PAUSED=1); on
# success prints "downtime_ms total_ms" and leaves SRC paused (quit it), DST
# running (or paused, with -S).
migrate_vm() {
	local src=$1 dst=$2 uri=$3 timeout=${4:-120} paused=${5:-0} deadline st out
	qmp "$src" "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"downtime-limit\":${MIGRATE_DOWNTIME_LIMIT:-300}}}" \
		>/dev/null || fail "$src: migrate-set-parameters failed"
	qmp "$src" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"$uri\"}}" >/dev/null ||
		fail "$src: migrate command refused"
	deadline=$(( $(lib_now_cs) + timeout * 100 ))
	for (( ; ; )); do
		out=$(qmp "$src" query-migrate) || fail "$src: query-migrate failed"
		st=$(printf '%s' "$out" | sed -n 's/.*"status": *"\([a-z-]*\)".*/\1/p' | head -n1)
		case "$st" in
		completed) break ;;
		failed|cancelled) fail "$src -> $dst: migration $st: $out" ;;
		esac
		[ "$(lib_now_cs)" -lt $deadline ] || fail "$src -> $dst: migration not done in ${timeout}s ($st)"
		sleep 0.2
	done
	printf '%s\n' "$out" >"$TEST_DIR/migrate-$src-$dst.json"
	local down total
	down=$(printf '%s' "$out" | sed -n 's/.*"downtime": *\([0-9]*\).*/\1/p')
	total=$(printf '%s' "$out" | sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p')
	local want='"running"'
	[ "$paused" = 0 ] || want='"status": "prelaunch"\|"status": "paused"'
	lib_wait_for 10 eval "$QMPCMD $TEST_DIR/$dst.qmp query-status | grep '$want' >/dev/null" ||
		fail "$dst is not ${want//\"/} after migration: $($QMPCMD "$TEST_DIR/$dst.qmp" query-status)"
	echo "${down:-?} ${total:-?}"
}

# ram_compare SRC DST BYTES: the guest-physical RAM [0, BYTES) of two paused
# VMs must be identical after a migration: a page a backend wrote but did
# not mark in the dirty log keeps its old bytes on the destination.  Each
# comparison logs one "RAM-COMPARE" line (counted in the notes).
#
# QEMU_STRICT=1 (QEMU 9.0 and later, the VDPA_QEMU=10 lane): every differing
# page is fatal, whatever it holds.  On QEMU 7.2 (QEMU_STRICT=0) TCG itself
# can lose guest stores from its migration dirty bitmap (fixed upstream in
# 9.0 by "physmem: Fix migration dirty bitmap coherency with TCG memory
# access"): with QEMU's own tap backend and no vhost-user at all, a
# migration under load left 21 pages different (NIC_TAP=1 in test_migrate.sh
# runs that control).  There the differences are reported, pages inside a
# received datagram ("VDPT", the traffic checker's magic, and the frame
# around it) apart from the rest, and are not fatal; RAM_STRICT=1 makes
# them fatal on any QEMU.
ram_compare() {
	local a=$TEST_DIR/$1.ram b=$TEST_DIR/$2.ram p offs magics rx=() other=()
	qmp -t 30 "$1" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,\"size\":$3,\"filename\":\"$a\"}}" >/dev/null ||
		fail "$1: pmemsave failed"
	qmp -t 30 "$2" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,\"size\":$3,\"filename\":\"$b\"}}" >/dev/null ||
		fail "$2: pmemsave failed"
	if cmp -s "$a" "$b"; then
		log "RAM-COMPARE identical $1 -> $2 ($(($3 >> 20)) MiB, QEMU $QEMU_VERSION)"
		rm -f "$a" "$b"
		return 0
	fi
	# One line per differing page: the page, then its differing offsets.
	# A page counts as a receive buffer when one of them lies in a frame
	# around a magic of the source page (the virtio-net, Ethernet, IP and
	# UDP headers before it, at most an MTU after it).
	while read -r p offs; do
		magics=$(dd if="$a" bs=4096 skip="$p" count=1 status=none | grep -abo VDPT | cut -d: -f1 | tr '\n' ' ' || true)
		if [ -n "$magics" ] && awk -v m="$magics" -v o="$offs" '
			BEGIN {
				n = split(m, mm, " "); k = split(o, oo, " ")
				for (j = 1; j <= k; j++)
					for (i = 1; i <= n; i++)
						if (oo[j] >= mm[i] - 64 && oo[j] < mm[i] + 1500)
							exit 0
				exit 1
			}'; then
			rx+=("$(printf '0x%x' $((p * 4096)))")
		else
			other+=("$(printf '0x%x' $((p * 4096)))")
		fi
	done < <({ cmp -l "$a" "$b" || true; } | awk '
		{ b = $1 - 1; p = int(b / 4096); d = b - p * 4096
		  if (!(p in offs)) { order[++n] = p; offs[p] = d } else offs[p] = offs[p] " " d }
		END { for (i = 1; i <= n; i++) print order[i], offs[order[i]] }')
	rm -f "$a" "$b"
	local what="$((${#rx[@]} + ${#other[@]})) page(s) ($((${#rx[@]})) inside received datagrams${rx[0]:+ at GPA ${rx[*]:0:8}}; $((${#other[@]})) other${other[0]:+ at GPA ${other[*]:0:8}})"
	log "RAM-COMPARE differs $1 -> $2: $what, QEMU $QEMU_VERSION"
	if [ "${QEMU_STRICT:-0}" = 1 ] || [ "${RAM_STRICT:-0}" = 1 ]; then
		fail "guest RAM differs after migration $1 -> $2 in $what (QEMU $QEMU_VERSION: every differing page is a write missing from the dirty log)"
	fi
	log "WARNING: not fatal on QEMU $QEMU_VERSION: its TCG can lose guest stores from the migration bitmap (fixed in QEMU 9.0); the VDPA_QEMU=10 lane is strict"
	RAM_DIFFS=$((${RAM_DIFFS:-0} + 1))
	RAM_DIFF_WHAT="$1 -> $2: $what"
	return 0
}

# tool_build NAME: compiles tests/tools/NAME.c into $VDPA_BUILD/tools/NAME
# when missing or older than its source; prints the path.
tool_build() {
	local src=$REPO_DIR/tests/tools/$1.c out=$VDPA_BUILD/tools/$1
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		mkdir -p "$VDPA_BUILD/tools"
		gcc -std=gnu11 -O2 -Wall -Wextra -I"$REPO_DIR" -o "$out" "$src" ||
			fail "cannot build $1"
	fi
	echo "$out"
}

# vufront_build: compiles tests/tools/vufront.c (the synthetic vhost-user
# front end) into $VDPA_BUILD/tools/vufront when missing or older than its
# source or the wire header it includes; sets VUFRONT.  Built under a
# temporary name and renamed, so tests running side by side never see a
# half-written binary.
vufront_build() {
	local src=$REPO_DIR/tests/tools/vufront.c hdr=$REPO_DIR/protocol/vhost_user.h
	VUFRONT=$VDPA_BUILD/tools/vufront
	if [ ! -x "$VUFRONT" ] || [ "$src" -nt "$VUFRONT" ] || [ "$hdr" -nt "$VUFRONT" ]; then
		mkdir -p "$VDPA_BUILD/tools"
		gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Werror \
			-I"$REPO_DIR" -o "$VUFRONT.$$" "$src" &&
			mv -f "$VUFRONT.$$" "$VUFRONT" ||
			fail "cannot build $src"
	fi
}

# tool_build_with_libs NAME: like tool_build, but links the project's own
# static libraries of $VDPA_BUILD (libprotocol.a, libdirtylog.a: build them
# first with make) for tools that use the codecs; warnings are errors.
# Built under a temporary name and renamed, as vufront_build does.
tool_build_with_libs() {
	local src=$REPO_DIR/tests/tools/$1.c out=$VDPA_BUILD/tools/$1 lib newer=0
	local libs=("$VDPA_BUILD/libprotocol.a" "$VDPA_BUILD/libdirtylog.a")
	for lib in "${libs[@]}"; do
		[ -f "$lib" ] || fail "cannot build $1: $lib is missing (run make BUILD=$VDPA_BUILD)"
		[ "$lib" -nt "$out" ] && newer=1
	done
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ $newer = 1 ]; then
		mkdir -p "$VDPA_BUILD/tools"
		# Libraries of a sanitized build (make check-asan) need the runtimes.
		local san=()
		nm "${libs[0]}" 2>/dev/null | grep -q __asan_ &&
			san=(-fsanitize=address,undefined -fno-omit-frame-pointer)
		gcc -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Werror "${san[@]}" \
			-I"$REPO_DIR" -o "$out.$$" "$src" "${libs[@]}" -lpthread &&
			mv -f "$out.$$" "$out" ||
			fail "cannot build $1"
	fi
	echo "$out"
}

# simd_start NAME [--netns NS] -- SIMD_ARGS...: a vdpa-simd (the simulated
# accelerator) serving TEST_DIR/NAME.sock; simd_sock NAME prints the path.
declare -A SIMD_PID=()
simd_sock() { echo "$TEST_DIR/$1.sock"; }
simd_start() {
	local name=$1; shift
	local ns=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--netns) ns=$2; shift 2 ;;
		--) shift; break ;;
		*) fail "simd_start: unknown option $1" ;;
		esac
	done
	local cmd=("$VDPA_BUILD/vdpa-simd" --socket "$(simd_sock "$name")" "$@")
	[ -z "$ns" ] || cmd=(ip netns exec "$ns" "${cmd[@]}")
	lib_bg "simd-$name" "${cmd[@]}"
	SIMD_PID[$name]=$LIB_PID
	lib_wait_for 10 test -S "$(simd_sock "$name")" ||
		fail "vdpa-simd $name did not start: $(tail -5 "$TEST_DIR/simd-$name.log")"
	log "vdpa-simd $name: pid ${SIMD_PID[$name]}${ns:+ in netns $ns}"
}

# agent_addr NAME: the agent's address as vdpa-migrate takes it (--from, --to).
agent_addr() { echo "unix:$(agent_rt "$1")/control.sock"; }

# migrate_qmp SRC DST URI [ARGS...]: "vdpa-migrate -j migrate" in QMP mode
# from VM SRC to VM DST (started with -incoming URI or -incoming defer),
# extra ARGS (--port, --from, --to, ...) passed on.  The JSON summary goes
# to TEST_DIR/migrate-SRC-DST.json, the progress to migrate-SRC-DST.log;
# returns vdpa-migrate's exit status.
migrate_qmp() {
	local src=$1 dst=$2 uri=$3; shift 3
	"$VMCLI" -j migrate --qmp "$TEST_DIR/$src.qmp" --dest-qmp "$TEST_DIR/$dst.qmp" \
		--to-uri "$uri" "$@" >"$TEST_DIR/migrate-$src-$dst.json" \
		2>"$TEST_DIR/migrate-$src-$dst.log"
}

# json_flat FILE: the file's JSON on one line without spaces, for matching
# members with grep and sed (no jq needed).
json_flat() { tr -d ' \n' <"$1"; }
