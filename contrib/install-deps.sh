#!/usr/bin/env bash
# Installs the Debian packages that vdpa-migrate's build, tests, demo and
# benchmarks need, and only those that are missing.  Idempotent: a second run
# installs nothing and says so.  Run as root (or with sudo available).
#
#   contrib/install-deps.sh [build|test|all]     (default: all)
set -euo pipefail

build_pkgs=(
	gcc make pkg-config
	libjson-c-dev libsystemd-dev zlib1g-dev libvirt-dev libxml2-dev libcmocka-dev
	clang libclang-rt-14-dev      # make fuzz: libFuzzer; make check-asan
	groff-base                    # man page lint in make check
)
test_pkgs=(
	qemu-system-x86 qemu-utils    # integration tests drive real QEMU (TCG)
	busybox-static cpio           # the test guest's initramfs
	iproute2 procps psmisc util-linux
	systemd                       # systemd-analyze, systemd-socket-activate
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients  # the libvirt hook test
	openssh-server openssh-client # ssh:// agents against a real sshd (test-only, private port)
	mmdebstrap e2fsprogs          # make check-debian: the Debian 12 image, its disks
	xz-utils binutils             # the kernel rig (test_kernel_vdpa): modules, initramfs
	dpdk dpdk-dev librte-net-vhost23 librte-mempool-ring23 librte-net-virtio23
)

want=()
case "${1:-all}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${test_pkgs[@]}") ;;
all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
*) echo "install-deps: unknown group '$1' (build, test or all)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#want[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: apt-get not found; install by hand: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/vdpa-install-deps.log 2>&1; then
	# The package lists may be missing or stale on a fresh machine.
	"${sudo[@]}" apt-get update -q >>/tmp/vdpa-install-deps.log 2>&1 || true
	if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/vdpa-install-deps.log 2>&1; then
		echo "install-deps: apt-get install failed; last lines of /tmp/vdpa-install-deps.log:" >&2
		tail -n 15 /tmp/vdpa-install-deps.log >&2
		exit 1
	fi
fi
echo "install-deps: done"
