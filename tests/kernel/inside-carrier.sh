#!/bin/sh
# Runs inside the check-kernel guest (busybox sh), after vdpa_sim_net's
# /dev/vhost-vdpa-0 exists: vdpa-agentd serves a port on that device
# (device=vhost-vdpa:/dev/vhost-vdpa-0) and the synthetic front end
# (tests/tools/vufront.c) drives it.  Prints CARRIER lines for the host
# script and "CARRIER-RESULT PASS|FAIL".
#
# vufront's log mode: logging on from the start, frames checked byte by
# byte (vdpa_sim_net loops each transmitted frame back to receive), every
# page written checked against QEMU's log per frame, logging off from 3/4
# of the frames to 7/8, then on again.  The device has no dirty log, so
# the port serves in software while logging is on and on the device while
# it is off: frames 3/4..7/8 went through the kernel's vDPA device, which
# loops them back unchanged (the agent's loop endpoint swaps the MACs):
# vufront counts those ("as_sent"), and exactly those must come back so.
FRAMES=400
OFF=$((FRAMES * 3 / 4))
ON=$((FRAMES * 7 / 8))
rt=/run/agent
mkdir -p $rt
rc=0
bad() { echo "CARRIER FAIL: $*"; rc=1; }

vdpa-agentd --runtime-dir $rt --state-dir $rt --port \
	"name=p0,socket=$rt/p0.sock,endpoint=loop,backend=accel,device=vhost-vdpa:/dev/vhost-vdpa-0" \
	>$rt/agent.log 2>&1 &
agent=$!
i=0
while [ ! -S $rt/p0.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $rt/p0.sock ] || bad "the agent's socket did not appear"

# VERSION_1 and STATUS only: vdpa_sim_net offers neither EVENT_IDX nor
# MRG_RXBUF nor INDIRECT_DESC.
VUFRONT_AS_SENT=1 VUFRONT_RING_SIZE=256 VUFRONT_FEATURES=0x100010000 timeout 120 vufront log $rt/p0.sock --frames $FRAMES >$rt/vf.log 2>&1
vrc=$?
line=$(grep '^LOGCHECK ' $rt/vf.log)
echo "CARRIER vufront exit $vrc: $line"
[ $vrc = 0 ] || { bad "vufront exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vf.log | head -20; }
case "$line" in
*'"frames":'$FRAMES,*'"missed":0,"bad":0,"stale_log_marks":0,"calls_missing":0,"as_sent":'$((ON - OFF))'}') ;;
*) bad "LOGCHECK is not $FRAMES frames, $((ON - OFF)) of them unchanged (the device's loop), nothing missed or bad" ;;
esac
for want in "port p0: rings on the accelerator vhost-vdpa:/dev/vhost-vdpa-0" \
	"vhost-vdpa: net device, features" \
	"port p0: QEMU logs dirty pages and the device vhost-vdpa:/dev/vhost-vdpa-0 has no log of its own" \
	"port p0: logging ended: the rings are back on the accelerator" \
	"port p0: ring 1 started on the accelerator at avail index $OFF\$" \
	"port p0: ring 1 stopped on the accelerator at avail index $ON\$"; do
	grep -q "$want" $rt/agent.log || bad "no '$want' in the agent's log"
done
if grep -E 'falling back|failed|refused|error' $rt/agent.log; then
	bad "the agent logged an error"
fi
kill -0 $agent 2>/dev/null || bad "the agent died"
show=$(vdpa-migrate --agent unix:$rt/control.sock port show p0 2>&1)
echo "$show" | grep -q '^dirty tracking: *software (the rings leave the device while QEMU logs: 2 times)' ||
	bad "port show does not say the rings left the device twice: $(echo "$show" | grep -i 'dirty\|engine')"

# QEMU's switchover as vufront --at-stop plays it: logging on, frames,
# GET_VRING_BASE of both rings; only then every page written must be in
# the log, and the bases must be exact (vufront checks both).
VUFRONT_RING_SIZE=256 VUFRONT_FEATURES=0x100010000 timeout 120 \
	vufront log $rt/p0.sock --frames 200 --at-stop >$rt/vfs.log 2>&1
vrc=$?
line=$(grep '^LOGCHECK ' $rt/vfs.log)
echo "CARRIER at-stop: vufront exit $vrc: $line"
[ $vrc = 0 ] || { bad "vufront --at-stop exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vfs.log | head -20; }

# A live switch both ways (vdpa-migrate switch) with the rings on the
# device and RX buffers posted: vufront pauses before frame OFF + 10, the
# port goes to software and back; the frames after run on the device again
# (all OFF..ON-1 come back unchanged), nothing lost or repeated.
VUFRONT_AS_SENT=1 VUFRONT_RING_SIZE=256 VUFRONT_FEATURES=0x100010000 timeout 180 \
	vufront log $rt/p0.sock --frames $FRAMES --pause-at $((OFF + 10)) --until $rt/go1 >$rt/vf1.log 2>&1 &
vf=$!
i=0
while ! grep -q "^PAUSED" $rt/vf1.log && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "^PAUSED $((OFF + 10))" $rt/vf1.log || bad "vufront did not reach frame $((OFF + 10))"
vdpa-migrate --agent unix:$rt/control.sock switch p0 --to sw || bad "switch to sw failed"
vdpa-migrate --agent unix:$rt/control.sock port show p0 | grep -q '^engine: *sw' || bad "not in software after the switch"
vdpa-migrate --agent unix:$rt/control.sock switch p0 --to accel || bad "switch to accel failed"
vdpa-migrate --agent unix:$rt/control.sock port show p0 | grep -q '^engine: *accel' || bad "not on the device after the switch back"
touch $rt/go1
wait $vf
vrc=$?
line=$(grep '^LOGCHECK ' $rt/vf1.log)
echo "CARRIER switched at frame $((OFF + 10)): vufront exit $vrc: $line"
[ $vrc = 0 ] || { bad "vufront exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vf1.log | head -20; }
case "$line" in
*'"frames":'$FRAMES,*'"missed":0,"bad":0,"stale_log_marks":0,"calls_missing":0,"as_sent":'$((ON - OFF))'}') ;;
*) bad "LOGCHECK is not $FRAMES frames, $((ON - OFF)) of them unchanged, nothing missed or bad" ;;
esac

# The device deleted under the port (vdpa dev del) while its rings run on
# it: the same front end pauses before frame PAUSE (the rings are back on
# the device since frame OFF), the device is deleted, and the frames after
# it must pass in software: nothing lost, corrupt or duplicated, the
# frames OFF..PAUSE-1 alone came back unchanged.  The kernel finishes the
# deletion only when the agent closes the device's fd.
PAUSE=$((OFF + 20))
VUFRONT_AS_SENT=1 VUFRONT_RING_SIZE=256 VUFRONT_FEATURES=0x100010000 timeout 180 \
	vufront log $rt/p0.sock --frames $FRAMES --pause-at $PAUSE --until $rt/go >$rt/vf2.log 2>&1 &
vf=$!
i=0
while ! grep -q "^PAUSED" $rt/vf2.log && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "^PAUSED $PAUSE" $rt/vf2.log || bad "vufront did not reach frame $PAUSE"
vdpa dev del vdpa0 &
del=$!
i=0
while kill -0 $del 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $del 2>/dev/null && bad "vdpa dev del did not finish in 30 s (the agent kept the device open)"
[ -c /dev/vhost-vdpa-0 ] && bad "/dev/vhost-vdpa-0 is still there"
touch $rt/go
wait $vf
vrc=$?
line=$(grep '^LOGCHECK ' $rt/vf2.log)
echo "CARRIER deleted at frame $PAUSE: vufront exit $vrc: $line"
[ $vrc = 0 ] || { bad "vufront exited $vrc"; sed 's/^/CARRIER vufront| /' $rt/vf2.log | head -20; }
case "$line" in
*'"frames":'$FRAMES,*'"missed":0,"bad":0,"stale_log_marks":0,"calls_missing":0,"as_sent":'$((PAUSE - OFF))'}') ;;
*) bad "LOGCHECK is not $FRAMES frames, $((PAUSE - OFF)) of them unchanged, nothing missed or bad" ;;
esac
for want in "is gone (the vDPA device was deleted)" \
	"port p0: falling back to software: the accelerator reports an error"; do
	grep -q "$want" $rt/agent.log || bad "no '$want' in the agent's log"
done
kill -0 $agent 2>/dev/null || bad "the agent died"
sed "s/^/CARRIER agent| /" $rt/agent.log | tail -12
kill $agent 2>/dev/null
echo "CARRIER-RESULT $([ $rc = 0 ] && echo PASS || echo FAIL)"
