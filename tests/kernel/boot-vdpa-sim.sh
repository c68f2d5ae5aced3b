#!/usr/bin/env bash
# The kernel rig of the vhost-vdpa carrier (issue 11): boots Debian 12's own
# 6.12 kernel under QEMU (TCG) with the kernel's vDPA simulator, so that a
# real /dev/vhost-vdpa-0 exists, checks that it answers the vhost-vdpa
# ioctls (tests/kernel/vdpa_probe.c), then runs vdpa-agentd on it with the
# synthetic front end (tests/kernel/inside-carrier.sh; the checks are
# listed in tests/integration/test_kernel_vdpa.sh, which runs this in
# make check).
#
#   tests/kernel/boot-vdpa-sim.sh        (make check-kernel)
#
# VDPA_BUILD (default ./build) holds the vdpa-agentd and vdpa-migrate put
# into the guest; VDPA_KERNEL_CONSOLE names the console log (default in
# the cache).
#
# Debian's 6.12 build ships vdpa, vhost, vhost_iotlb, vhost_vdpa and vduse
# as modules but not vringh, vdpa_sim or vdpa_sim_net (CONFIG_VDPA_SIM is
# off): those are built here out of tree, from linux-source-6.12, against
# linux-headers of the same version, unpacked with dpkg -x (nothing is
# installed).  The headers' arch Makefile only includes the common one by
# an absolute /usr/src path, so make runs the common Makefile with -f;
# CONFIG_DEBUG_INFO_BTF_MODULES is switched off (no pahole needed).  The
# kernel does not force module signatures: the built modules load and
# taint it.  Packages are fetched with apt-get download from the system's
# own apt sources and cached in $VDPA_KERNEL_CACHE (default
# ~/.cache/vdpa-migrate/kernel); the version is linux-source-6.12's
# candidate, and the image and headers must exist in that version.
#
# Needs: apt-get, dpkg, xz, cpio, gzip, make, gcc, objcopy, busybox-static,
# iproute2 (vdpa), qemu-system-x86_64.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VDPA_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdpa-migrate/kernel}
timeout_s=${VDPA_KERNEL_BOOT_TIMEOUT:-300}

log() { printf '[boot-vdpa-sim] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for t in apt-get apt-cache dpkg xz cpio gzip make gcc objcopy qemu-system-x86_64 ldd; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found"
done
[ -x /bin/busybox ] || die "busybox-static not installed"
vdpa_tool=$(command -v vdpa || echo /sbin/vdpa)
[ -x "$vdpa_tool" ] || die "iproute2's vdpa tool not found"

# ---- the version: linux-source-6.12's candidate, and its ABI name ----------------
pkgver=$(apt-cache policy linux-source-6.12 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
if { [ -z "$pkgver" ] || [ "$pkgver" = "(none)" ]; } && [ "$(id -u)" = 0 ]; then
	# A fresh machine may have no package lists yet.
	apt-get update -q >/dev/null 2>&1 || true
	pkgver=$(apt-cache policy linux-source-6.12 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
fi
[ -n "$pkgver" ] && [ "$pkgver" != "(none)" ] || die "no linux-source-6.12 in the apt lists (apt-get update?)"
abi="${pkgver%%-*}+deb12"		# 6.12.118-1~deb12u1 -> 6.12.118+deb12
krel=$abi-amd64
pkgs=("linux-image-$krel" "linux-headers-$krel" "linux-headers-$abi-common"
	"linux-kbuild-$abi" linux-source-6.12)
w=$cache/$krel
mkdir -p "$w/debs" "$w/root" "$w/src" "$w/build" "$w/logs"
exec {lockfd}>"$cache/.lock"
command -v flock >/dev/null 2>&1 && flock "$lockfd"

# ---- fetch and unpack -------------------------------------------------------------------
want=()
for p in "${pkgs[@]}"; do
	compgen -G "$w/debs/${p}_*.deb" >/dev/null || want+=("$p=$pkgver")
done
if [ ${#want[@]} -gt 0 ]; then
	log "downloading ${want[*]}"
	(cd "$w/debs" && apt-get -qq -o APT::Sandbox::User=root download "${want[@]}") ||
		die "apt-get download failed"
fi
for deb in "$w"/debs/*.deb; do
	stamp=$w/root/.unpacked.$(basename "$deb")
	[ -e "$stamp" ] && continue
	dpkg -x "$deb" "$w/root" || die "dpkg -x $(basename "$deb") failed"
	touch "$stamp"
done
moddir=$w/root/lib/modules/$krel
vmlinuz=$w/root/boot/vmlinuz-$krel
[ -f "$vmlinuz" ] || die "no $vmlinuz in the packages"

# modinfo_field FILE FIELD: a field of a module's .modinfo (no kmod needed).
modinfo_field() {
	local t
	t=$(mktemp -d)
	case "$1" in *.xz) xz -dc "$1" >"$t/m.ko" ;; *) cp "$1" "$t/m.ko" ;; esac
	objcopy -O binary -j .modinfo "$t/m.ko" "$t/mi"
	tr '\0' '\n' <"$t/mi" | sed -n "s/^$2=//p"
	rm -rf "$t"
}

# ---- the modules Debian leaves out ----------------------------------------------------
built=(vringh vdpa_sim vdpa_sim_net)
if [ ! -f "$w/build/vdpa_sim_net.ko" ]; then
	s=$w/src/linux-source-6.12
	tar -xJf "$w/root/usr/src/linux-source-6.12.tar.xz" -C "$w/src" --wildcards \
		'linux-source-6.12/drivers/vhost/vringh.c' 'linux-source-6.12/drivers/vdpa/vdpa_sim/*' ||
		die "cannot extract the sources"
	cp "$s/drivers/vhost/vringh.c" "$s"/drivers/vdpa/vdpa_sim/*.[ch] "$w/build/"
	# Their only config test is IS_REACHABLE(CONFIG_VHOST_IOTLB): true (=m).
	echo 'obj-m := vringh.o vdpa_sim.o vdpa_sim_net.o' >"$w/build/Kbuild"
	make -C "$w/root/usr/src/linux-headers-$krel" -f "$w/root/usr/src/linux-headers-$abi-common/Makefile" \
		M="$w/build" CONFIG_DEBUG_INFO_BTF_MODULES= modules >"$w/logs/build.log" 2>&1 ||
		die "module build failed (see $w/logs/build.log)"
fi
# The same simulator without SUSPEND and RESUME (their two ops lines taken
# out of vdpa_sim.c): a device the agent can stop only by a reset.
if [ ! -f "$w/build-nosuspend/vdpa_sim_net.ko" ]; then
	mkdir -p "$w/build-nosuspend"
	cp "$w"/build/*.[ch] "$w/build/Kbuild" "$w/build-nosuspend/"
	sed -i '/^\t\.suspend[[:space:]]*= vdpasim_suspend,$/d; /^\t\.resume[[:space:]]*= vdpasim_resume,$/d' \
		"$w/build-nosuspend/vdpa_sim.c"
	! grep -q '= vdpasim_suspend,' "$w/build-nosuspend/vdpa_sim.c" || die "cannot take SUSPEND out of vdpa_sim.c"
	make -C "$w/root/usr/src/linux-headers-$krel" -f "$w/root/usr/src/linux-headers-$abi-common/Makefile" \
		M="$w/build-nosuspend" CONFIG_DEBUG_INFO_BTF_MODULES= modules >"$w/logs/build-nosuspend.log" 2>&1 ||
		die "module build without SUSPEND failed (see $w/logs/build-nosuspend.log)"
fi
for m in "${built[@]}"; do
	vm=$(modinfo_field "$w/build/$m.ko" vermagic)
	case "$vm" in "$krel "*) ;; *) die "$m.ko: vermagic '$vm' is not $krel" ;; esac
done

# ---- the initramfs: busybox, the modules in load order, vdpa, the probe ----------
ird=$w/initramfs
rm -rf "$ird"
mkdir -p "$ird"/{bin,sbin,dev,proc,sys,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
: >"$ird/lib/modules/order"
for m in drivers/vhost/vhost_iotlb drivers/vdpa/vdpa drivers/vhost/vhost virt/lib/irqbypass \
	drivers/vhost/vhost_vdpa; do
	xz -dc "$moddir/kernel/$m.ko.xz" >"$ird/lib/modules/${m##*/}.ko" ||
		die "the kernel package has no $m"
	echo "${m##*/}" >>"$ird/lib/modules/order"
done
for m in "${built[@]}"; do
	cp "$w/build/$m.ko" "$ird/lib/modules/"
	echo "$m" >>"$ird/lib/modules/order"
done
mkdir -p "$ird/lib/modules/nosuspend"
cp "$w/build-nosuspend/vdpa_sim.ko" "$w/build-nosuspend/vdpa_sim_net.ko" "$ird/lib/modules/nosuspend/"
cp "$vdpa_tool" "$ird/sbin/vdpa"
ldd "$vdpa_tool" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u | while read -r lib; do
	mkdir -p "$ird$(dirname "$lib")"
	cp -L "$lib" "$ird$lib"
done
gcc -O2 -Wall -Wextra -static -o "$ird/sbin/vdpa_probe" "$here/vdpa_probe.c" ||
	die "cannot build vdpa_probe"
# The product and its synthetic front end, with their shared libraries.
repo=$(cd "$here/../.." && pwd)
agentd=${VDPA_BUILD:-$repo/build}/vdpa-agentd
[ -x "$agentd" ] || die "no $agentd (make programs)"
gcc -std=gnu11 -O2 -Wall -Wextra -I"$repo" -o "$ird/sbin/vufront" "$repo/tests/tools/vufront.c" ||
	die "cannot build vufront"
cp "$agentd" "$ird/sbin/vdpa-agentd"
cp "${agentd%/*}/vdpa-migrate" "$ird/sbin/vdpa-migrate"
cp "$here/inside-carrier.sh" "$ird/sbin/inside-carrier.sh"
for b in "$agentd" "${agentd%/*}/vdpa-migrate" "$ird/sbin/vufront"; do
	ldd "$b" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u | while read -r lib; do
		mkdir -p "$ird$(dirname "$lib")"
		cp -L "$lib" "$ird$lib"
	done
done
cat >"$ird/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
rc=0
while read -r m; do
	insmod "/lib/modules/$m.ko" || { echo "insmod $m: FAILED"; rc=1; }
done </lib/modules/order
vdpa mgmtdev show || rc=1
# The MAC vufront's frames go to: vdpa_sim_net loops back only frames for it.
vdpa dev add name vdpa0 mgmtdev vdpasim_net mac 02:00:00:00:00:02 || rc=1
vdpa dev show || rc=1
ls -l /sys/bus/vdpa/devices/vdpa0/driver 2>&1
[ -c /dev/vhost-vdpa-0 ] || { echo "/dev/vhost-vdpa-0 missing"; rc=1; }
vdpa_probe /dev/vhost-vdpa-0 || rc=1
echo "VDPA-SIM-RESULT $([ $rc = 0 ] && echo PASS || echo FAIL)"
mkdir -p /run /tmp
[ $rc = 0 ] && sh /sbin/inside-carrier.sh
poweroff -f
EOF
chmod +x "$ird/init"
(cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$w/initramfs.gz"

# ---- boot ----------------------------------------------------------------------------
console=${VDPA_KERNEL_CONSOLE:-$w/logs/console.log}
log "booting $krel with vdpa_sim_net (TCG); console in $console"
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 1024 -nographic -no-reboot -nic none \
	-kernel "$vmlinuz" -initrd "$w/initramfs.gz" -append 'console=ttyS0 rdinit=/init panic=-1' \
	</dev/null >"$console" 2>&1 || rc=$?
grep -a -E '^(probe |vdpa0:|VDPA-SIM-RESULT|CARRIER)' "$console" >&2 || true
grep -aq 'VDPA-SIM-RESULT PASS' "$console" || die "the guest did not pass (QEMU exit $rc; see $console)"
log "PASS: /dev/vhost-vdpa-0 of vdpa_sim_net answers in Debian's $krel"
grep -aq 'CARRIER-RESULT PASS' "$console" ||
	die "the agent on device=vhost-vdpa:/dev/vhost-vdpa-0 did not pass (see $console)"
log "PASS: vdpa-agentd serves a port on the kernel's vdpa_sim_net through vhost-vdpa"
