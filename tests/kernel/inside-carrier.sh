#!/bin/sh
# Runs inside the check-kernel guest (busybox sh), after vdpa_sim_net's
# /dev/vhost-vdpa-0 exists: vdpa-agentd serves ports on that device
# (device=vhost-vdpa:/dev/vhost-vdpa-0; one front end at a time, the
# device opens when it connects) and the synthetic front end
# (tests/tools/vufront.c) drives them.  Prints CARRIER lines for the host
# script and "CARRIER-RESULT PASS|FAIL".
#
# vufront's log mode: logging on from the start, frames checked byte by
# byte, every page written checked against QEMU's log per frame (right
# after the used index moved), logging off from 3/4 of the frames to 7/8,
# then on again.  vdpa_sim_net loops each frame back unchanged (the agent's
# loop endpoint swaps the MACs): vufront counts the frames that came back
# unchanged ("as_sent"), which tells exactly how many the device moved.
#
#   p0  dirty-tracking=auto: the device has no log, so while QEMU logs it
#       serves shadow rings and the agent relays (every frame on the device)
#   p1  dirty-tracking=software: while QEMU logs the rings run in software
#       (frames 3/4..7/8 alone on the device)
#   p2  (added at run time) a device without SUSPEND
FRAMES=400
OFF=$((FRAMES * 3 / 4))
ON=$((FRAMES * 7 / 8))
DEV=vhost-vdpa:/dev/vhost-vdpa-0
rt=/run/agent
mkdir -p $rt
rc=0
bad() { echo "CARRIER FAIL: $*"; rc=1; }
export VUFRONT_AS_SENT=1 VUFRONT_RING_SIZE=256
# VERSION_1 and STATUS only: vdpa_sim_net offers neither EVENT_IDX nor
# MRG_RXBUF nor INDIRECT_DESC.
export VUFRONT_FEATURES=0x100010000
ctl() { vdpa-migrate --agent unix:$rt/control.sock "$@"; }

# check_log NAME LOGFILE VUFRONT_EXIT AS_SENT: the LOGCHECK line says FRAMES
# frames, AS_SENT of them unchanged, nothing missed or bad.
check_log() {
	line=$(grep '^LOGCHECK ' "$2")
	echo "CARRIER $1: vufront exit $3: $line"
	[ "$3" = 0 ] || { bad "$1: vufront exited $3"; sed 's/^/CARRIER vufront| /' "$2" | head -20; }
	case "$line" in
	*'"frames":'$FRAMES,*'"missed":0,"bad":0,"stale_log_marks":0,"calls_missing":0,"as_sent":'$4'}') ;;
	*) bad "$1: LOGCHECK is not $FRAMES frames, $4 of them unchanged, nothing missed or bad" ;;
	esac
}

# wait_paused LOGFILE K: vufront printed PAUSED K.
wait_paused() {
	i=0
	while ! grep -q "^PAUSED" "$1" && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q "^PAUSED $2\$" "$1" || bad "vufront did not pause at frame $2"
}

vdpa-agentd --runtime-dir $rt --state-dir $rt \
	--port "name=p0,socket=$rt/p0.sock,endpoint=loop,backend=accel,device=$DEV" \
	--port "name=p1,socket=$rt/p1.sock,endpoint=loop,backend=accel,device=$DEV,dirty-tracking=software" \
	>$rt/agent.log 2>&1 &
agent=$!
i=0
while [ ! -S $rt/p1.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $rt/p1.sock ] || bad "the agent's sockets did not appear"

# 1. The relay: all frames on the device, logging or not.
timeout 120 vufront log $rt/p0.sock --frames $FRAMES >$rt/vf-relay.log 2>&1
check_log relay $rt/vf-relay.log $? $FRAMES
for want in "port p0: rings on the accelerator $DEV" "vhost-vdpa: net device, features" \
	"port p0: ring 1 relayed through shadow rings from avail index 0\$" \
	"port p0: ring 1 direct on the device from avail index $OFF\$" \
	"port p0: ring 1 relayed through shadow rings from avail index $ON\$"; do
	grep -q "$want" $rt/agent.log || bad "no '$want' in the agent's log"
done
show=$(ctl port show p0 2>&1)
relayed=$(echo "$show" | sed -n 's/^dirty tracking: *relay (shadow rings while QEMU logs: \([0-9]*\) chains relayed)$/\1/p')
echo "CARRIER relay: port show: ${relayed:-?} chains relayed"
# Logging was on for frames 0..OFF-1 and ON..FRAMES-1, a TX and an RX chain
# each; RX buffers posted ahead may add a few.
[ -n "$relayed" ] && [ "$relayed" -ge $(((OFF + FRAMES - ON) * 2)) ] ||
	bad "port show does not count the relayed chains: $(echo "$show" | grep -i dirty)"

# 2. QEMU's switchover as vufront --at-stop plays it: logging on, frames,
# GET_VRING_BASE of both rings; only then every page written must be in the
# log, and the bases must be exact (vufront checks both).
timeout 120 vufront log $rt/p0.sock --frames 200 --at-stop >$rt/vf-stop.log 2>&1
vrc=$?
echo "CARRIER at-stop: vufront exit $vrc: $(grep '^LOGCHECK ' $rt/vf-stop.log)"
[ $vrc = 0 ] || { bad "vufront --at-stop exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vf-stop.log | head -20; }

# 3. A live switch both ways (vdpa-migrate switch) with the rings on the
# device and RX buffers posted, while logging is off; nothing lost or
# repeated, every frame on the device but those the switch put in software
# (none: the port is back before the next frame).
timeout 180 vufront log $rt/p0.sock --frames $FRAMES --pause-at $((OFF + 10)) --until $rt/go1 \
	>$rt/vf-switch.log 2>&1 &
vf=$!
wait_paused $rt/vf-switch.log $((OFF + 10))
ctl switch p0 --to sw || bad "switch to sw failed"
ctl port show p0 | grep -q '^engine: *sw' || bad "not in software after the switch"
ctl switch p0 --to accel || bad "switch to accel failed"
ctl port show p0 | grep -q '^engine: *accel' || bad "not on the device after the switch back"
# vdpa_sim_net offers neither MRG_RXBUF, INDIRECT_DESC nor EVENT_IDX: a
# front end that acks one is served in software, and port show names them.
ctl port show p0 | grep -q '^not on device: *0x0000000030008000 MRG_RXBUF INDIRECT_DESC EVENT_IDX$' ||
	bad "port show p0 does not name the features the device lacks: $(ctl port show p0 | grep -i device | tr '\n' ' ')"
touch $rt/go1
wait $vf
check_log switch $rt/vf-switch.log $? $FRAMES

# 4. dirty-tracking=software: the rings leave the device while QEMU logs and
# come back when logging ends: frames OFF..ON-1 alone on the device.
timeout 120 vufront log $rt/p1.sock --frames $FRAMES >$rt/vf-sw.log 2>&1
check_log software $rt/vf-sw.log $? $((ON - OFF))
for want in "port p1: QEMU logs dirty pages and the port has dirty-tracking=software: the rings leave the device $DEV while it logs" \
	"port p1: logging ended: the rings are back on the accelerator"; do
	grep -q "$want" $rt/agent.log || bad "no '$want' in the agent's log"
done
ctl port show p1 | grep -q '^dirty tracking: *software (the rings leave the device while QEMU logs: 2 times)' ||
	bad "port show p1 does not say the rings left the device twice"

if grep -E 'falling back|failed|refused|error' $rt/agent.log; then
	bad "the agent logged an error"
fi
kill -0 $agent 2>/dev/null || bad "the agent died"

# 5. The device deleted (vdpa dev del) while p0 relays (logging on): vufront
# pauses before frame PAUSE, the device is deleted, and the frames after it
# must pass in software: nothing lost, corrupt or duplicated, frames
# 0..PAUSE-1 alone came back unchanged.  The kernel finishes the deletion
# only when the agent closes the device's fd.
PAUSE=100
timeout 180 vufront log $rt/p0.sock --frames $FRAMES --pause-at $PAUSE --until $rt/go2 \
	>$rt/vf-del.log 2>&1 &
vf=$!
wait_paused $rt/vf-del.log $PAUSE
vdpa dev del vdpa0 &
del=$!
i=0
while kill -0 $del 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $del 2>/dev/null && bad "vdpa dev del did not finish in 30 s (the agent kept the device open)"
[ -c /dev/vhost-vdpa-0 ] && bad "/dev/vhost-vdpa-0 is still there"
touch $rt/go2
wait $vf
check_log deleted $rt/vf-del.log $? $PAUSE
for want in "is gone (the vDPA device was deleted)" \
	"port p0: falling back to software: the accelerator reports an error"; do
	grep -q "$want" $rt/agent.log || bad "no '$want' in the agent's log"
done
kill -0 $agent 2>/dev/null || bad "the agent died"

# 6. A device without SUSPEND (vdpa_sim built with its suspend and resume
# ops taken out): the agent stops it by a reset, so its rings always run
# through shadow rings, whose indexes the agent keeps; before a reset the
# relay waits for the transmit chains it forwarded.  Every frame on the
# device, logging or not; QEMU's switchover exact; a live switch both ways.
rmmod vdpa_sim_net vdpa_sim || bad "rmmod vdpa_sim_net vdpa_sim failed"
insmod /lib/modules/nosuspend/vdpa_sim.ko && insmod /lib/modules/nosuspend/vdpa_sim_net.ko ||
	bad "the simulator without SUSPEND did not load"
vdpa dev add name vdpa1 mgmtdev vdpasim_net mac 02:00:00:00:00:02 || bad "vdpa dev add vdpa1 failed"
node=$(ls /dev/vhost-vdpa-* 2>/dev/null | head -n1)
[ -n "$node" ] || bad "no /dev/vhost-vdpa-N for vdpa1"
ctl port add "name=p2,socket=$rt/p2.sock,endpoint=loop,backend=accel,device=vhost-vdpa:$node" ||
	bad "port add p2 failed"
timeout 120 vufront log $rt/p2.sock --frames $FRAMES >$rt/vf-ns.log 2>&1
check_log nosuspend $rt/vf-ns.log $? $FRAMES
grep -q "vhost-vdpa: $node offers no SUSPEND" $rt/agent.log || bad "the agent did not see vdpa1 lacks SUSPEND"
timeout 120 vufront log $rt/p2.sock --frames 200 --at-stop >$rt/vf-ns-stop.log 2>&1
vrc=$?
echo "CARRIER nosuspend at-stop: vufront exit $vrc: $(grep '^LOGCHECK ' $rt/vf-ns-stop.log)"
[ $vrc = 0 ] || { bad "vufront --at-stop on p2 exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vf-ns-stop.log | head -20; }
timeout 180 vufront log $rt/p2.sock --frames $FRAMES --pause-at $((OFF + 10)) --until $rt/go3 \
	>$rt/vf-ns-switch.log 2>&1 &
vf=$!
wait_paused $rt/vf-ns-switch.log $((OFF + 10))
ctl switch p2 --to sw || bad "p2: switch to sw failed"
ctl switch p2 --to accel || bad "p2: switch to accel failed"
ctl port show p2 | grep -q '^engine: *accel' || bad "p2 not on the device after the switch back"
# Without SUSPEND the rings always run through the relay, which serves the
# guest's EVENT_IDX itself: only the two chain-layout features are lacking.
ctl port show p2 | grep -q '^not on device: *0x0000000010008000 MRG_RXBUF INDIRECT_DESC$' ||
	bad "port show p2 does not name the features the device lacks: $(ctl port show p2 | grep -i device | tr '\n' ' ')"
touch $rt/go3
wait $vf
check_log nosuspend-switch $rt/vf-ns-switch.log $? $FRAMES
if grep -E 'p2: .*(falling back|failed|refused|error)|not completed' $rt/agent.log; then
	bad "the agent logged an error on p2"
fi
kill -0 $agent 2>/dev/null || bad "the agent died"
sed "s/^/CARRIER agent| /" $rt/agent.log | tail -12
kill $agent 2>/dev/null
echo "CARRIER-RESULT $([ $rc = 0 ] && echo PASS || echo FAIL)"
