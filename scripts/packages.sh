# Sourced (bash): the Debian packages Vessel's tests need, and need_packages, which installs the missing
# ones as root (apt-get update first, once) or names them in one line and fails otherwise. scripts/test
# calls it, so README's two commands are the whole set-up on a fresh Debian machine; .ci/run only calls
# scripts/test.

# maven: the build; gcc, libc6-dev, make, binutils: the test guests and the struct-layout probe;
# linux-libc-dev: linux/kvm.h for that probe; acpica-tools: iasl, which checks the ACPI tables;
# gzip lz4 zstd xz-utils bzip2 lzop: the kernel decompression tests compress with the real tools;
# libzstd1: zstd kernels are decompressed through it (vessel.sys.LibZstd); e2fsprogs: e2fsck and debugfs
# check the disk a guest wrote; curl: the API tests drive the API socket with it, as Firecracker's guide
# does; iproute2: the network test makes its TAP with ip; cpio: the default guest's initramfs; gdb: the
# GDB stub's test drives Debian's gdb against `vessel run --gdb`; qemu-utils: qemu-img and qemu-io make
# the qcow2 images the disk tests read and check the ones they write; vncsnapshot: a real VNC client (TightVNC
# 1.2.8, RFB 3.3) captures the display in the VNC server's test; libnet-vnc-perl: Net::VNC, a second real
# client (RFB 3.8, VNC Authentication) that captures and types into the stock kernel's shell; tesseract-ocr reads the stock kernel's
# framebuffer console back from a screenshot; chromium opens the browser console (noVNC, xterm.js) headless;
# fdisk: sfdisk partitions the firmware boot's disk image (scripts/disk-image.sh, which also needs
# e2fsprogs' mke2fs).
TEST_PACKAGES=(maven gcc libc6-dev make binutils linux-libc-dev acpica-tools gzip lz4 zstd xz-utils bzip2
  lzop libzstd1 e2fsprogs curl iproute2 cpio gdb qemu-utils vncsnapshot libnet-vnc-perl tesseract-ocr
  chromium fdisk)
# The nested-KVM VM (scripts/nested-kvm.sh): QEMU, and busybox-static, cpio and kmod for its initramfs.
NESTED_KVM_PACKAGES=(qemu-system-x86 busybox-static cpio kmod)

# need_packages WHO PKG...: WHO names the caller in messages ("test", "vessel").
need_packages() {
  local who="$1" missing=() p
  shift
  if ! command -v dpkg-query >/dev/null; then
    return 0 # not Debian: the README's package list is all we can offer
  fi
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$who: missing Debian packages: ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}" >&2
  if [ -z "${VESSEL_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
      { echo "$who: apt-get update failed" >&2; return 1; }
    export VESSEL_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "$who: apt-get install ${missing[*]} failed" >&2; return 1; }
}
