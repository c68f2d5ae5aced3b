#!/usr/bin/env bash
# vdpa-migrate with a real libvirtd: the hook installed in
# /etc/libvirt/hooks/qemu.d/, a TCG domain whose vhost-user interface is
# served by an agent port, and libvirt mode of "vdpa-migrate migrate":
#   - starting the domain runs the hook's prepare: the port appears on the
#     agent (nothing else creates it) and QEMU connects to it (port show:
#     connections, negotiated features, the guest driver's rings running);
#   - "migrate DOMAIN --to qemu+ssh://example/system --dry-run" prints the
#     destination XML: the interface becomes type='vdpa' (--to-backend accel,
#     the metadata names a vdpa-dev) or a socket in --socket-dir (sw);
#   - a migration libvirt refuses (to this very host) exits 4, the domain
#     still running;
#   - destroying the domain runs release: the port is gone.
#
# Isolation: libvirtd and virtlogd run in a private mount namespace with
# tmpfs over /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt (the mount points are created when missing and
# removed afterwards), QEMU runs as root by the private qemu.conf, pid files
# live in the test's directory.  libvirtd's QEMU driver needs the user and
# group libvirt-qemu to exist even so: they are created when missing (and
# kept, as the package would).  A real migration needs a second host:
# libvirt refuses a migration to the host it runs on.
set -euo pipefail

. "$(dirname "$0")/libvirt.sh"

# ---- outside: prerequisites, mount points, the namespace ------------------------
if [ -z "${VDPA_LIBVIRTD_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
	for t in libvirtd virtlogd virsh unshare qemu-system-x86_64; do
		command -v "$t" >/dev/null 2>&1 ||
			{ echo "SKIP: $t is not installed (contrib/install-deps.sh)"; exit 77; }
	done
	libvirt_qemu_user || exit 1
	libvirt_mount_points || exit 1
	rc=0
	VDPA_LIBVIRTD_INNER=1 unshare --mount --propagation private -- bash "$0" "$@" || rc=$?
	libvirt_remove_mount_points
	exit $rc
fi

# ---- inside the namespace -------------------------------------------------------
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

for d in "${LIBVIRT_DIRS[@]}"; do
	mount -t tmpfs -o mode=0755 "vdpa-$TEST_NAME" "$d" || fail "cannot mount a tmpfs on $d"
done
: >/etc/libvirt/libvirtd.conf
: >/etc/libvirt/virtlogd.conf

agent_start lv
RT=$(agent_rt lv)
PORT=lvt-net0
MAC=52:54:00:77:00:02
DOM=vdpa-lvt-$$
libvirt_instance_setup /etc/libvirt "agent = unix:$RT/control.sock
socket-dir = $RT
backend = sw
endpoint = null"

virtlogd -d -p "$TEST_DIR/virtlogd.pid" || fail "virtlogd did not start"
lib_wait_for 5 test -s "$TEST_DIR/virtlogd.pid" || fail "virtlogd wrote no pid file"
lib_on_cleanup kill "$(cat "$TEST_DIR/virtlogd.pid")"
# Errors of libvirtd go to a log of the test.  Not lib_bg: libvirtd must
# outlive the cleanup that destroys the domain (below).
libvirt_libvirtd "$TEST_DIR" "$TEST_DIR/libvirtd.pid" >"$TEST_DIR/libvirtd.log" 2>&1 </dev/null &
LIBVIRTD_PID=$!
lib_on_cleanup lib_kill "$LIBVIRTD_PID" 5
virsh() { libvirt_virsh qemu:///system "$@"; }
libvirt_wait_up libvirtd "$LIBVIRTD_PID" "$TEST_DIR" qemu:///system
log "libvirtd: pid $LIBVIRTD_PID, $(virsh version | grep -m1 'Running hypervisor')"

# Whatever happens, no QEMU outlives the test: destroy through libvirtd (runs
# before libvirtd is stopped: cleanups run last registered first), then by
# the pid file should libvirtd not answer.
domain_gone() {
	local pidf=/run/libvirt/qemu/$DOM.pid pid
	virsh destroy "$DOM" >/dev/null 2>&1 || true
	virsh undefine "$DOM" >/dev/null 2>&1 || true
	pid=$(cat "$pidf" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	log "QEMU $pid of $DOM still runs: killing it"
	lib_kill "$pid" 2
}
lib_on_cleanup domain_gone

libvirt_domain_xml --vdpa-dev /dev/vhost-vdpa-0 "$DOM" "$MAC" "$PORT" "$RT/$PORT.sock" \
	"$TEST_DIR/console.log" >"$TEST_DIR/$DOM.xml"

# ---- start: prepare creates the port, QEMU connects ---------------------------
agent_cli lv port show "$PORT" >/dev/null 2>&1 && fail "port $PORT exists before the start"
libvirt_define_start qemu:///system "$TEST_DIR/$DOM.xml" "$DOM" /var/log/libvirt/qemu
log "domain $DOM started"
show=$(agent_cli lv -j port show "$PORT") || fail "the hook's prepare did not create $PORT: $show"
grep -qF "\"mac\":\"$MAC\"" <<<"$show" || fail "port $PORT has not the domain's mac: $show"
log "ok: prepare begin created port $PORT"

libvirt_wait_guest "$TEST_DIR/console.log"
running() { agent_cli lv -j port show "$PORT" | grep -q '"state":"running"'; }
lib_wait_for 20 running || fail "port $PORT does not run: $(agent_cli lv port show "$PORT")"
show=$(agent_cli lv -j port show "$PORT")
conns=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<<"$show")
feat=$(sed -n 's/.*"features":"\(0x[0-9a-f]*\)".*/\1/p' <<<"$show")
expect "QEMU connections to $PORT" "${conns:-0}" -ge 1
[ -n "$feat" ] && [ $((feat)) -ne 0 ] || fail "no negotiated features on $PORT: $show"
log "ok: QEMU connected, features $feat, rings running"

# ---- libvirt mode: the destination XML (dry run) --------------------------------
"$VMCLI" migrate "$DOM" --to qemu+ssh://example/system --to-backend accel --dry-run \
	>"$TEST_DIR/dest-accel.xml" 2>"$TEST_DIR/dry.err" ||
	fail "migrate --dry-run (accel) failed: $(cat "$TEST_DIR/dry.err")"
grep -q '<interface type="vdpa">' "$TEST_DIR/dest-accel.xml" ||
	fail "--to-backend accel: no vdpa interface in $(cat "$TEST_DIR/dest-accel.xml")"
grep -q '<source dev="/dev/vhost-vdpa-0"/>' "$TEST_DIR/dest-accel.xml" ||
	fail "--to-backend accel: no <source dev='/dev/vhost-vdpa-0'/>"
grep -q "<mac address=\"$MAC\"/>" "$TEST_DIR/dest-accel.xml" || fail "--to-backend accel: mac lost"
grep -q 'vhostuser' "$TEST_DIR/dest-accel.xml" && fail "--to-backend accel: a vhostuser is left"
log "ok: dry run, accel: the interface becomes vdpa on /dev/vhost-vdpa-0"

# sw: the interface stays vhost-user, on the destination's socket directory.
"$VMCLI" migrate "$DOM" --to qemu+ssh://example/system --to-backend sw \
	--socket-dir /srv/agent --dry-run >"$TEST_DIR/dest-sw.xml" 2>"$TEST_DIR/dry.err" ||
	fail "migrate --dry-run (sw) failed: $(cat "$TEST_DIR/dry.err")"
grep -q "<source type=\"unix\" path=\"/srv/agent/$PORT.sock\" mode=\"client\"/>" \
	"$TEST_DIR/dest-sw.xml" ||
	fail "--to-backend sw: the interface is not on /srv/agent/$PORT.sock: $(grep -A3 '<interface' "$TEST_DIR/dest-sw.xml")"
grep -q '<memballoon model="none"/>' "$TEST_DIR/dest-sw.xml" || fail "--to-backend sw: devices lost"
log "ok: dry run, sw: the interface is vhost-user on /srv/agent/$PORT.sock"

# ---- a migration libvirt refuses: exit 4, the guest still runs here --------------
rc=0
"$VMCLI" migrate "$DOM" --to qemu:///system --to-backend sw --socket-dir "$RT" \
	>"$TEST_DIR/refused.out" 2>"$TEST_DIR/refused.err" || rc=$?
log "migrate to this host: exit $rc: $(tail -n 2 "$TEST_DIR/refused.err" | tr '\n' ' ')"
expect "exit status of a refused migration" "$rc" -eq 4
grep -q "still runs on the source" "$TEST_DIR/refused.err" || fail "no verdict on stderr"
[ "$(virsh domstate "$DOM")" = running ] || fail "$DOM is not running after the refused migration"
running || fail "port $PORT stopped after the refused migration"

# ---- stop: release removes the port ---------------------------------------------
virsh destroy "$DOM" >/dev/null || fail "virsh destroy failed"
lib_wait_for 10 eval "! agent_cli lv port show $PORT >/dev/null 2>&1" ||
	fail "the hook's release did not remove $PORT"
log "ok: release end removed port $PORT"
virsh undefine "$DOM" >/dev/null || fail "virsh undefine failed"
agent_check_alive lv
log "PASS"
