#!/usr/bin/env bash
# vdpa-simd, the simulated accelerator, end to end without the agent:
# tests/tools/simctl plays the vfio-user client and the guest driver.
#  - the vfio-user view: VERSION with its capabilities, 2 regions, one irq
#    index with a vector per vring, a doorbell eventfd per notify page;
#  - a TX frame rung through the io eventfd comes back on RX over --wire
#    loop with the RX call eventfd signalled; with LOG_ALL the device log
#    has exactly the RX buffer page, at 4 KiB and at 2 MiB granularity, and
#    not the used ring; LOG_ALL off keeps the rings running, logs nothing;
#  - GET_VRING_BASE: EBUSY while running, the next avail indexes after stop,
#    and nothing moves after stop; a wrong log granularity is refused;
#  - a descriptor outside the DMA mappings breaks that ring only (EIO, a log
#    line), DMA_UNMAP under running rings stops the device (EIO), no crash,
#    and the next client gets a fresh device;
#  - --fault die-after-packets=3 exits with status 3 after exactly 3 frames;
#    --fault stall-ms=300 delays a doorbell by 300 ms;
#  - bad options exit 2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

SIMD=$VDPA_BUILD/vdpa-simd
[ -x "$SIMD" ] || fail "no $SIMD: build it with make BUILD=$VDPA_BUILD"
SIMCTL=$(tool_build_with_libs simctl)

# simd_start NAME ARGS...: vdpa-simd on TEST_DIR/NAME.sock, log NAME.log.
simd_start() {
	local name=$1; shift
	local sock=$TEST_DIR/$name.sock
	rm -f "$sock"
	lib_bg "$name" "$SIMD" --socket "$sock" "$@"
	SIMD_PID=$LIB_PID
	lib_wait_for 5 test -S "$sock" || fail "vdpa-simd $name did not start: $(cat "$TEST_DIR/$name.log")"
}

# simctl_run NAME SCENARIO ARGS...: runs simctl against NAME's socket; the
# output lands in TEST_DIR/NAME.SCENARIO.out and in OUT.
simctl_run() {
	local name=$1 sc=$2; shift 2
	local out=$TEST_DIR/$name.$sc.out
	timeout 20 "$SIMCTL" "$TEST_DIR/$name.sock" "$sc" "$@" >"$out" 2>&1 ||
		fail "simctl $sc against $name failed: $(tail -5 "$out")"
	OUT=$(cat "$out")
}

expect_out() { # PATTERN WHAT
	grep -qE -- "$1" <<<"$OUT" || fail "$2: want /$1/ in: $(tr '\n' ' ' <<<"$OUT")"
}

expect_log() { # NAME PATTERN WHAT
	grep -qE -- "$2" "$TEST_DIR/$1.log" || fail "$3: want /$2/ in $1.log: $(tail -5 "$TEST_DIR/$1.log")"
}

alive() { kill -0 "$SIMD_PID" 2>/dev/null || fail "vdpa-simd died: $(tail -5 "$TEST_DIR/$1.log")"; }

# ---- 4 KiB log, loop wire; then more clients on the same device ------------
simd_start s4k --wire loop --log-granularity 4096
simctl_run s4k loop 4096
expect_out '^version=0\.1$' "VERSION"
expect_out '^regions=2 irqs=1$' "DEVICE_GET_INFO"
expect_out '^region0 size=4096 flags=0x3$' "mailbox region"
expect_out '^region1 size=8192 flags=0x2$' "notify region"
expect_out '^irq0 count=2$' "irq vectors"
expect_out '^io_fds=2$' "doorbell eventfds"
expect_out '^log_wrong_granularity=Invalid argument$' "wrong log granularity"
expect_out '^rx_irq=1 ' "RX call eventfd"
expect_out '^rx_frame=ok$' "looped frame"
expect_out '^log_pages=1 at 0x40400000$' "4 KiB log: the RX buffer page only"
expect_out '^running_get_vring_base=Device or resource busy$' "GET_VRING_BASE while running"
expect_out '^log_off_pages=0$' "LOG_ALL off"
expect_out '^base0=2 base1=2$' "GET_VRING_BASE after stop"
expect_out '^after_stop_quiet=1$' "no DMA after stop"
expect_out '^PASS loop$' "loop scenario"
lat=$(sed -n 's/^rx_irq=1 latency_ms=\([0-9]*\)$/\1/p' <<<"$OUT")
[ "${lat:-999}" -lt 250 ] || fail "a round trip without stall took ${lat} ms"
log "4 KiB: frame looped in ${lat} ms, log has the RX buffer page and not the used ring"
expect_log s4k 'dirty log at IOVA 0x10000000, 33024 bytes, 4096 bytes per bit' "log base"

simctl_run s4k oob
expect_out '^broken_ring_status=Input/output error$' "broken ring status"
expect_out '^healthy_ring_status=Device or resource busy$' "the other ring"
expect_out '^base0=1 base1=1$' "bases after a DMA fault"
expect_out '^PASS oob$' "oob scenario"
expect_log s4k 'client 2: ring 1: device error, ring stopped: descriptor address outside guest memory' \
	"DMA fault log line"
alive s4k
log "DMA outside the mappings: ring 1 broken (EIO), ring 0 fine, device alive"

simctl_run s4k unmap
expect_out '^after_unmap_status=Input/output error$' "status after DMA_UNMAP"
expect_out '^base0=1 base1=1$' "bases after DMA_UNMAP"
expect_out '^restart_unmapped=Bad address$' "start without memory"
expect_out '^PASS unmap$' "unmap scenario"
expect_log s4k 'client 3: device error, stopping the device: DMA_UNMAP of IOVA 0x40000000' \
	"DMA_UNMAP log line"
alive s4k
log "DMA_UNMAP under running rings: device stopped with an error, no crash"

# A fourth client after all that finds a fresh device.
simctl_run s4k loop 4096
expect_out '^PASS loop$' "a client after the errors"
lib_kill "$SIMD_PID"
expect_log s4k 'vdpa-simd: stopping' "clean stop on SIGTERM"

# ---- 2 MiB log ---------------------------------------------------------------
simd_start s2m --wire loop --log-granularity 2097152
simctl_run s2m loop 2097152
expect_out '^log_wrong_granularity=Invalid argument$' "wrong log granularity at 2 MiB"
expect_out '^log_pages=1 at 0x40400000$' "2 MiB log: the RX buffer's 2 MiB page only"
expect_out '^PASS loop$' "loop scenario at 2 MiB"
expect_log s2m '72 bytes, 2097152 bytes per bit' "2 MiB log base"
lib_kill "$SIMD_PID"
log "2 MiB: the RX buffer's page marked, the rings' page (0x40000000) not"

# ---- faults ------------------------------------------------------------------
simd_start sdie --wire null --fault die-after-packets=3
simctl_run sdie tx 6
expect_out '^tx_completed=3 tx_used=3 device_gone=1$' "die-after-packets=3"
st=0
wait "$SIMD_PID" || st=$?
[ "$st" = 3 ] || fail "die-after-packets: exit status $st, want 3"
expect_log sdie 'fault die-after-packets=3' "fault log line"
log "die-after-packets=3: 3 frames sent, exit status 3"

simd_start sstall --wire loop --fault stall-ms=300
simctl_run sstall loop 4096
expect_out '^PASS loop$' "loop scenario with a stall"
lat=$(sed -n 's/^rx_irq=1 latency_ms=\([0-9]*\)$/\1/p' <<<"$OUT")
[ "${lat:-0}" -ge 300 ] || fail "stall-ms=300: the round trip took only ${lat} ms"
lib_kill "$SIMD_PID"
log "stall-ms=300: round trip ${lat} ms"

# ---- bad options ---------------------------------------------------------------
for args in "--queues 0" "--log-granularity 3000" "--fault explode" "--wire foo" "--bogus 1" \
	"--queues"; do
	st=0
	# shellcheck disable=SC2086
	timeout 5 "$SIMD" --socket "$TEST_DIR/bad.sock" $args >/dev/null 2>&1 </dev/null || st=$?
	[ "$st" = 2 ] || fail "vdpa-simd $args: exit status $st, want 2"
done
st=0
timeout 5 "$SIMD" --wire loop >/dev/null 2>&1 </dev/null || st=$?
[ "$st" = 2 ] || fail "vdpa-simd without --socket: exit status $st, want 2"
log "bad options: exit status 2"
log "PASS"
