# shellcheck shell=bash
# Helpers for tests that run a private libvirtd (test_libvirtd.sh,
# test_libvirt_migrate.sh).  Sourcing defines functions and LIBVIRT_DIRS
# only, so it may come before lib.sh; the functions marked (lib) need lib.sh
# (and agent.sh, for VDPA_BUILD) at call time.
#
#   libvirt_qemu_user                       the user and group libvirt-qemu
#   libvirt_mount_points / libvirt_remove_mount_points
#                                           the LIBVIRT_DIRS made when missing
#   libvirt_instance_setup ETC HOOK_CONF [QEMU_CONF_LINE...]
#                                           qemu.conf, the hook, its config
#   libvirt_libvirtd DIR PIDFILE            execs libvirtd (run it with &)
#   libvirt_virsh URI ARGS...               virsh against that libvirtd
#   libvirt_wait_up LABEL PID DIR URI       waits until libvirtd answers
#   libvirt_domain_xml [OPTIONS] NAME MAC PORT SOCKET CONSOLE [CMDLINE_EXTRA]
#                                           the test domain's XML
#   libvirt_define_start URI XML DOM QEMU_LOG_DIR [WHERE]
#   libvirt_wait_guest CONSOLE              the guest has booted

# What a private libvirtd covers with its own directories (tmpfs or bind
# mounts, in a private mount namespace).
LIBVIRT_DIRS=(/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt)
LIBVIRT_MADE=()

# libvirt_qemu_user: libvirtd's QEMU driver needs the user and group
# libvirt-qemu to exist even when QEMU runs as root: creates them when
# missing (and they are kept, as the package would).  On failure, says so
# on stdout and returns 1.
libvirt_qemu_user() {
	if ! getent group libvirt-qemu >/dev/null; then
		groupadd --system libvirt-qemu || { echo "FAIL: groupadd libvirt-qemu"; return 1; }
	fi
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
			--shell /usr/sbin/nologin --comment "Libvirt Qemu" libvirt-qemu ||
			{ echo "FAIL: useradd libvirt-qemu"; return 1; }
	fi
}

# libvirt_mount_points: creates those of LIBVIRT_DIRS that are missing (the
# mount points), each noted in LIBVIRT_MADE; on failure says so on stdout and
# returns 1.  libvirt_remove_mount_points removes what was made, last first.
libvirt_mount_points() {
	local d
	for d in "${LIBVIRT_DIRS[@]}"; do
		if [ ! -e "$d" ]; then
			mkdir "$d" || { echo "FAIL: mkdir $d"; return 1; }
			LIBVIRT_MADE+=("$d")
		fi
	done
}
libvirt_remove_mount_points() {
	local i
	for ((i = ${#LIBVIRT_MADE[@]} - 1; i >= 0; i--)); do rmdir "${LIBVIRT_MADE[i]}" 2>/dev/null || true; done
	LIBVIRT_MADE=()
}

# libvirt_instance_setup ETC HOOK_CONF [QEMU_CONF_LINE...] (lib): fills ETC,
# the directory that becomes /etc/libvirt: qemu.conf (QEMU as root, no
# security driver, cgroups or namespaces; then the QEMU_CONF_LINEs), the
# hook in hooks/qemu.d/ and HOOK_CONF (lines) in hooks/vdpa-migrate.conf,
# the default path an installed hook reads.  libvirtd.conf is the caller's.
libvirt_instance_setup() {
	local etc=$1 hookconf=$2; shift 2
	mkdir -p "$etc/hooks/qemu.d"
	{
		cat <<-'EOF'
		user = "root"
		group = "root"
		dynamic_ownership = 0
		remember_owner = 0
		security_driver = "none"
		cgroup_controllers = [ ]
		namespaces = [ ]
		EOF
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$etc/qemu.conf"
	install -m 0755 "$REPO_DIR/contrib/libvirt/qemu.d/50-vdpa-migrate" "$etc/hooks/qemu.d/"
	printf '%s\n' "$hookconf" >"$etc/hooks/vdpa-migrate.conf"
}

# libvirt_libvirtd DIR PIDFILE: execs libvirtd with this build's directory
# first in PATH (libvirtd passes its PATH to the hook: that is how the hook
# finds this build's vdpa-migrate) and its errors in DIR/libvirtd-errors.log.
# It execs: run it in the background (&), $! is then libvirtd's pid.
libvirt_libvirtd() {
	PATH=$VDPA_BUILD:$PATH LIBVIRT_LOG_OUTPUTS="3:file:$1/libvirtd-errors.log" \
		exec libvirtd -p "$2"
}

# libvirt_virsh URI ARGS...: virsh, quiet, at most 30 s.
libvirt_virsh() { local uri=$1; shift; timeout 30 virsh -q -c "$uri" "$@"; }

# libvirt_wait_up LABEL PID DIR URI (lib): waits up to 30 s for the libvirtd
# at URI to answer.  If PID (the libvirtd, or what runs it) has exited,
# libvirtd cannot run here: skips the test (exit 77), DIR/libvirtd.log and
# DIR/libvirtd-errors.log saying why; if it is just silent, fails.
libvirt_wait_up() {
	local label=$1 pid=$2 dir=$3 uri=$4
	lib_wait_for 30 libvirt_virsh "$uri" version >/dev/null 2>&1 && return 0
	kill -0 "$pid" 2>/dev/null || {
		log "$label exited: $(tail -5 "$dir/libvirtd.log" "$dir/libvirtd-errors.log" 2>/dev/null)"
		echo "SKIP: libvirtd does not run here: $(grep -m1 error "$dir/libvirtd-errors.log" 2>/dev/null)"
		exit 77
	}
	fail "$label does not answer within 30 s: $(tail -5 "$dir/libvirtd.log")"
}

# libvirt_domain_xml [--vdpa-dev DEV] [--console-append] NAME MAC PORT SOCKET
# CONSOLE [CMDLINE_EXTRA]: prints the XML of domain NAME: TCG on q35, the
# test guest of GUEST_DIR (its kernel command line ends with CMDLINE_EXTRA),
# 256 MiB of shared memfd memory, one vhost-user interface (MAC, client of
# SOCKET) that the metadata names port PORT (on DEV once it is a vdpa one),
# the serial console into the file CONSOLE (appended to with
# --console-append, as a migration's destination QEMU must).
libvirt_domain_xml() {
	local vdpadev="" append=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--vdpa-dev) vdpadev=" vdpa-dev=\"$2\""; shift 2 ;;
		--console-append) append=" append='on'"; shift ;;
		*) break ;;
		esac
	done
	local name=$1 mac=$2 port=$3 sock=$4 console=$5 extra=${6:+ $6}
	cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <metadata>
    <vm:vdpa-migrate xmlns:vm="https://vdpa-migrate.org/xmlns/domain/1">
      <vm:port mac="$mac" name="$port"$vdpadev/>
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
    <cmdline>console=ttyS0 loglevel=5 printk.time=1 panic=-1$extra</cmdline>
  </os>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='vhostuser'>
      <mac address='$mac'/>
      <source type='unix' path='$sock' mode='client'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$console'$append/>
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
}

# libvirt_define_start URI XML DOM QEMU_LOG_DIR [WHERE] (lib): defines the
# domain of file XML and starts DOM; fails (QEMU's log, QEMU_LOG_DIR/DOM.log,
# on stderr) if either does not work.  WHERE names the libvirtd in messages.
libvirt_define_start() {
	local uri=$1 xml=$2 dom=$3 qlog=$4/$3.log on=${5:+ on $5} out
	libvirt_virsh "$uri" define "$xml" >/dev/null || fail "virsh define$on failed"
	if ! out=$(libvirt_virsh "$uri" start "$dom" 2>&1); then
		tail -n 20 "$qlog" >&2 2>/dev/null || true
		fail "virsh start$on failed: $out"
	fi
}

# libvirt_wait_guest CONSOLE (lib): waits up to 60 s for the guest to say
# it is ready on its console (the file CONSOLE), logs that line.
libvirt_wait_guest() {
	lib_wait_for 60 grep -q '^VDPA-GUEST-READY' "$1" || {
		tail -n 20 "$1" >&2
		fail "the guest did not boot"
	}
	log "guest: $(grep -m1 '^VDPA-GUEST-READY' "$1" | tr -d '\r')"
}
