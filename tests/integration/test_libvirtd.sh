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

DIRS=(/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt)

# ---- outside: prerequisites, mount points, the namespace ------------------------
if [ -z "${VDPA_LIBVIRTD_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
	for t in libvirtd virtlogd virsh unshare qemu-system-x86_64; do
		command -v "$t" >/dev/null 2>&1 ||
			{ echo "SKIP: $t is not installed (contrib/install-deps.sh)"; exit 77; }
	done
	if ! getent group libvirt-qemu >/dev/null; then
		groupadd --system libvirt-qemu || { echo "FAIL: groupadd libvirt-qemu"; exit 1; }
	fi
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
			--shell /usr/sbin/nologin --comment "Libvirt Qemu" libvirt-qemu ||
			{ echo "FAIL: useradd libvirt-qemu"; exit 1; }
	fi
	made=()
	for d in "${DIRS[@]}"; do
		if [ ! -e "$d" ]; then
			mkdir "$d" || { echo "FAIL: mkdir $d"; exit 1; }
			made+=("$d")
		fi
	done
	rc=0
	VDPA_LIBVIRTD_INNER=1 unshare --mount --propagation private -- bash "$0" "$@" || rc=$?
	for ((i = ${#made[@]} - 1; i >= 0; i--)); do rmdir "${made[i]}" 2>/dev/null || true; done
	exit $rc
fi

# ---- inside the namespace -------------------------------------------------------
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
lib_init

for d in "${DIRS[@]}"; do
	mount -t tmpfs -o mode=0755 "vdpa-$TEST_NAME" "$d" || fail "cannot mount a tmpfs on $d"
done
mkdir -p /etc/libvirt/hooks/qemu.d
cat >/etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
EOF
: >/etc/libvirt/libvirtd.conf
: >/etc/libvirt/virtlogd.conf

agent_start lv
RT=$(agent_rt lv)
PORT=lvt-net0
MAC=52:54:00:77:00:02
DOM=vdpa-lvt-$$
install -m 0755 "$REPO_DIR/contrib/libvirt/qemu.d/50-vdpa-migrate" /etc/libvirt/hooks/qemu.d/
# The default configuration path: what an installed hook reads.
cat >/etc/libvirt/hooks/vdpa-migrate.conf <<EOF
agent = unix:$RT/control.sock
socket-dir = $RT
backend = sw
endpoint = null
EOF

virtlogd -d -p "$TEST_DIR/virtlogd.pid" || fail "virtlogd did not start"
lib_wait_for 5 test -s "$TEST_DIR/virtlogd.pid" || fail "virtlogd wrote no pid file"
lib_on_cleanup kill "$(cat "$TEST_DIR/virtlogd.pid")"
# libvirtd passes its PATH to hooks: that is how the hook finds this build's
# vdpa-migrate.  Errors of libvirtd go to a log of the test.  Not lib_bg:
# libvirtd must outlive the cleanup that destroys the domain (below).
PATH=$VDPA_BUILD:$PATH LIBVIRT_LOG_OUTPUTS="3:file:$TEST_DIR/libvirtd-errors.log" \
	libvirtd -p "$TEST_DIR/libvirtd.pid" >"$TEST_DIR/libvirtd.log" 2>&1 </dev/null &
LIBVIRTD_PID=$!
lib_on_cleanup lib_kill "$LIBVIRTD_PID" 5
virsh() { timeout 30 virsh -q -c qemu:///system "$@"; }
if ! lib_wait_for 30 virsh version >/dev/null 2>&1; then
	kill -0 "$LIBVIRTD_PID" 2>/dev/null || {
		log "libvirtd exited: $(tail -5 "$TEST_DIR/libvirtd.log" "$TEST_DIR/libvirtd-errors.log" 2>/dev/null)"
		echo "SKIP: libvirtd does not run here: $(grep -m1 error "$TEST_DIR/libvirtd-errors.log" 2>/dev/null)"
		exit 77
	}
	fail "libvirtd does not answer within 30 s"
fi
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

cat >"$TEST_DIR/$DOM.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$DOM</name>
  <metadata>
    <vm:vdpa-migrate xmlns:vm="https://vdpa-migrate.org/xmlns/domain/1">
      <vm:port mac="$MAC" name="$PORT" vdpa-dev="/dev/vhost-vdpa-0"/>
    </vm:vdpa-migrate>
  </metadata>
  <memory unit='MiB'>256</memory>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$GUEST_DIR/vmlinuz</kernel>
    <initrd>$GUEST_DIR/initramfs.gz</initrd>
    <cmdline>console=ttyS0 loglevel=5 printk.time=1 panic=-1</cmdline>
  </os>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='vhostuser'>
      <mac address='$MAC'/>
      <source type='unix' path='$RT/$PORT.sock' mode='client'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$TEST_DIR/console.log'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <!-- DESIGN.md: with TCG and vhost-user, virtio-net-pci needs vectors=0 -->
    <qemu:arg value='-global'/>
    <qemu:arg value='virtio-net-pci.vectors=0'/>
  </qemu:commandline>
</domain>
EOF

# ---- start: prepare creates the port, QEMU connects ---------------------------
agent_cli lv port show "$PORT" >/dev/null 2>&1 && fail "port $PORT exists before the start"
virsh define "$TEST_DIR/$DOM.xml" >/dev/null || fail "virsh define failed"
if ! out=$(virsh start "$DOM" 2>&1); then
	tail -n 20 /var/log/libvirt/qemu/"$DOM".log >&2 2>/dev/null || true
	fail "virsh start failed: $out"
fi
log "domain $DOM started"
show=$(agent_cli lv -j port show "$PORT") || fail "the hook's prepare did not create $PORT: $show"
grep -qF "\"mac\": \"$MAC\"" <<<"$show" || fail "port $PORT has not the domain's mac: $show"
log "ok: prepare begin created port $PORT"

lib_wait_for 60 grep -q '^VDPA-GUEST-READY' "$TEST_DIR/console.log" || {
	tail -n 20 "$TEST_DIR/console.log" >&2
	fail "the guest did not boot"
}
log "guest: $(grep -m1 '^VDPA-GUEST-READY' "$TEST_DIR/console.log" | tr -d '\r')"
running() { agent_cli lv -j port show "$PORT" | grep -q '"state": "running"'; }
lib_wait_for 20 running || fail "port $PORT does not run: $(agent_cli lv port show "$PORT")"
show=$(agent_cli lv -j port show "$PORT")
conns=$(sed -n 's/.*"connections": \([0-9]*\).*/\1/p' <<<"$show")
feat=$(sed -n 's/.*"features": "\(0x[0-9a-f]*\)".*/\1/p' <<<"$show")
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
