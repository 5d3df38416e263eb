#!/usr/bin/env bash
# Builds Vessel's default guest from Debian's own packages into a cache folder:
#   vmlinuz            the cloud kernel's bzImage, as Debian ships it
#   initramfs.cpio.gz  busybox-static, /init (scripts/image/init) and the kernel's virtio modules
#   data.ext4          a 64 MiB ext4 disk holding hello.txt
#   cmdline            the default kernel command line
#   VERSION            what was built from what (key=value); also the stamp that makes a rerun a no-op
# Packages come only through `apt-get download` and are unpacked with `dpkg-deb -x`: no root needed.
#
# Usage: scripts/image.sh [--refresh] [--quiet]
#   --refresh  ask apt for the package versions again and rebuild if they changed (otherwise a
#              complete cache is reused without asking apt anything, so a rerun needs no network
#              and takes milliseconds). apt only knows what its lists say: `apt-get update` first.
#   --quiet    print nothing when there is nothing to do (./vessel run uses it)
# The folder is ${VESSEL_IMAGE_DIR:-<repo>/.cache/image}.
set -euo pipefail

# A no-op run should cost a few milliseconds, so the path to it forks little (no dirname, no sed).
self="${BASH_SOURCE[0]}"
[[ "$self" == */* ]] || self="./$self"
here="$(cd "${self%/*}" && pwd)"
dir="${VESSEL_IMAGE_DIR:-${here%/*}/.cache/image}"
outputs=(vmlinuz initramfs.cpio.gz data.ext4 cmdline VERSION)

# Default kernel command line, chosen for a fast boot on slow (nested, emulated) hosts. Each option:
#   console=ttyS0       kernel messages and /dev/console on COM1, the one console Vessel has
#   quiet               only warnings reach the console: every byte written to the UART is a VM exit
#   panic=-1            a panic reboots at once, so a crashed guest ends the VM instead of hanging it
#   reboot=k            reboot through the keyboard controller (port 0x64), which Vessel's i8042
#                       implements, rather than trying ACPI first
#   i8042.noaux         do not probe for a PS/2 mouse (probing waits on timeouts)
#   i8042.nomux         do not probe for an active-multiplexing PS/2 controller (same reason)
#   8250.nr_uarts=1     register ttyS0 only; no probing of the three other legacy COM ports
#   tsc=reliable        trust the TSC: no clocksource watchdog that would mark it unstable when a
#                       slow host makes the guest's clocks disagree
#   no_timer_check      skip the IO-APIC timer check, which counts ticks and misjudges slow guests
#   nowatchdog          no hard/soft lockup detectors: a descheduled vCPU is not a lockup (this
#                       covers nosoftlockup too)
#   cryptomgr.notests   skip the crypto self-tests at boot (this kernel runs them: not disabled in
#                       its config)
# Left out on purpose: random.trust_cpu=on (already the default: CONFIG_RANDOM_TRUST_CPU=y);
# pci=off and noapic (virtio devices are PCI and want the IO-APIC); mitigations=off (a security
# trade-off that saves no measurable boot time).
cmdline="console=ttyS0 quiet panic=-1 reboot=k i8042.noaux i8042.nomux 8250.nr_uarts=1 tsc=reliable no_timer_check nowatchdog cryptomgr.notests"

# Modules /init loads, by module name (- and _ are the same, as for modprobe). Dependencies come from
# the kernel's modules.dep; a module built into the kernel is skipped. A trailing ? marks one that
# may be absent from a kernel without harm (virtio_pci merged these helpers in older kernels);
# crc32c_generic is listed because ext4 needs the crc32c algorithm through the crypto API, which
# modules.dep does not record.
wanted_modules=(virtio virtio_ring virtio_pci_modern_dev? virtio_pci_legacy_dev? virtio_pci
  virtio_blk virtio_net virtio_rng vsock vmw_vsock_virtio_transport_common
  vmw_vsock_virtio_transport virtio_mem crc32c_generic? ext4)
# The balloon (Vessel gives inflated pages back to the host) and virtio-pmem with what it needs:
# libnvdimm's pmem block driver makes /dev/pmemN of the region the virtio driver registers.
wanted_modules+=(virtio_balloon virtio_pmem nd_pmem)

say() { printf 'image: %s\n' "$*"; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/debs.sh"

refresh=false
quiet=false
for arg in "$@"; do
  case "$arg" in
    --refresh) refresh=true ;;
    --quiet) quiet=true ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: scripts/image.sh [--refresh] [--quiet])" ;;
  esac
done

[ -d "$dir" ] || mkdir -p "$dir"
# Two runs at once (parallel tests) would build into the same folder: the second waits, then finds
# the cache complete.
exec 9>"$dir/.lock"
flock 9

# The recipe is this script plus /init: editing either rebuilds on the next run.
recipe="$(cat "$self" "$here/image/init" | sha256sum)"
recipe="${recipe%% *}"

complete=true
for file in "${outputs[@]}"; do
  [ -s "$dir/$file" ] || complete=false
done
declare -A stamp
if $complete; then
  while IFS='=' read -r key value; do
    stamp[$key]="$value"
  done <"$dir/VERSION"
fi
if ! $refresh && $complete && [ "${stamp[recipe]:-}" = "$recipe" ]; then
  $quiet || say "up to date in $dir (${stamp[kernel_package]:-} ${stamp[kernel_version]:-}, busybox-static ${stamp[busybox_version]:-})"
  exit 0
fi

# --- Resolve package versions (apt's local lists; no network) ---------------------------------------

# Every apt-cache call reads all of apt's lists (seconds where apt keeps no binary cache), so there
# are two: one for the kernel's name, one for every version.
meta=linux-image-cloud-amd64
if ! depends="$(LC_ALL=C apt-cache depends "$meta" 2>/dev/null)"; then
  [ "$(id -u)" = 0 ] || die "apt has no package lists (no $meta): run 'apt-get update' as root, then again"
  say "apt has no package lists: running apt-get update"
  apt-get update -qq || die "apt-get update failed"
  depends="$(LC_ALL=C apt-cache depends "$meta")" || die "apt has no $meta even after apt-get update"
fi
# The meta package depends on exactly one versioned kernel package (its candidate's dependency).
kernel_package="$(sed -n '/^ *Depends: linux-image-[0-9]/{s/^ *Depends: //p;q}' <<<"$depends")"
[ -n "$kernel_package" ] || die "cannot resolve $meta to a versioned kernel package (apt-cache depends $meta)"
kernel_release="${kernel_package#linux-image-}"

mkfs="$(PATH="$PATH:/sbin:/usr/sbin" command -v mkfs.ext4 || true)"
packages=("$kernel_package" busybox-static)
if [ -z "$mkfs" ]; then
  # e2fsprogs' mkfs.ext4 needs its own two libraries, which a host without e2fsprogs may lack too.
  packages+=(e2fsprogs libext2fs2 libcom-err2)
fi
declare -A version
while read -r package candidate; do
  version[$package]="$candidate"
done < <(LC_ALL=C apt-cache policy "${packages[@]}" 2>/dev/null |
  awk '/^[^ ].*:$/ { package = substr($0, 1, length($0) - 1) } /^ *Candidate:/ { print package, $2 }')
for package in "${packages[@]}"; do
  case "${version[$package]:-}" in
    ""|"(none)") die "apt has no candidate for $package (run 'apt-get update' as root?)" ;;
  esac
done
# --refresh on a complete cache: nothing to do unless apt now offers other versions.
if $complete && [ "${stamp[recipe]:-}" = "$recipe" ] && [ "${stamp[kernel_package]:-}" = "$kernel_package" ] &&
  [ "${stamp[kernel_version]:-}" = "${version[$kernel_package]}" ] &&
  [ "${stamp[busybox_version]:-}" = "${version[busybox-static]}" ]; then
  $quiet || say "up to date in $dir ($kernel_package ${version[$kernel_package]}, busybox-static ${version[busybox-static]}: apt has nothing newer)"
  exit 0
fi

# --- Download (reusing .debs already in the cache) and unpack --------------------------------------

debs="$dir/debs"
build="$dir/.build"
rm -rf "$build"
mkdir -p "$debs" "$build"
trap 'rm -rf "$build"' EXIT

used_debs=()
for package in "${packages[@]}"; do
  deb_unpack "$debs" "$package" "${version[$package]}" "$build/pkg/$package"
  used_debs+=("$deb")
done

kernel_root="$build/pkg/$kernel_package"
bb="$build/pkg/busybox-static/bin/busybox"
[ -x "$bb" ] || die "busybox-static has no bin/busybox"
[ -f "$kernel_root/boot/vmlinuz-$kernel_release" ] || die "$kernel_package has no boot/vmlinuz-$kernel_release"
# Debian moves /lib to /usr/lib over time; accept either.
moddir=
for candidate_dir in "$kernel_root/lib/modules/$kernel_release" "$kernel_root/usr/lib/modules/$kernel_release"; do
  [ -d "$candidate_dir" ] && moddir="$candidate_dir" && break
done
[ -n "$moddir" ] || die "$kernel_package has no lib/modules/$kernel_release"

# --- Modules: order from modules.dep --------------------------------------------------------------

# A .deb carries no modules.dep (its postinst runs depmod on the target): make one. busybox's own
# depmod reads plain, .gz and .xz modules, needs no host tool, and writes paths relative to moddir.
if [ -n "$(find "$moddir" -name '*.ko.zst' -print -quit)" ]; then
  command -v zstd >/dev/null || die "$kernel_package has zstd-compressed modules: install zstd"
  find "$moddir" -name '*.ko.zst' -exec zstd -q -d --rm {} +
fi
mkdir -p "$build/depmod/lib/modules"
ln -s "$moddir" "$build/depmod/lib/modules/$kernel_release"
"$bb" depmod -b "$build/depmod" "$kernel_release"

# Sets $name to the module name of a path (kernel/drivers/char/hw_random/virtio-rng.ko.xz: virtio_rng),
# without a subshell: it runs once per module in the kernel.
module_name() { name="${1##*/}"; name="${name%%.ko*}"; name="${name//-/_}"; }

declare -A path_of deps_of builtin placed
while IFS= read -r line; do
  path="${line%%:*}"
  module_name "$path"
  path_of[$name]="$path"
  deps_of[$path]="${line#*:}"
done <"$moddir/modules.dep"
while IFS= read -r line; do
  module_name "$line"
  builtin[$name]=1
done <"$moddir/modules.builtin"

order=()
order_names=()
# Depth first: a module's dependencies go into the list before it, each once.
place() {
  local path="$1" dep
  [ -z "${placed[$path]:-}" ] || return 0
  placed[$path]=1
  for dep in ${deps_of[$path]}; do
    place "$dep"
  done
  order+=("$path")
  module_name "$path"
  order_names+=("$name")
}
built_in=()
for entry in "${wanted_modules[@]}"; do
  wanted="${entry%\?}"
  if [ -n "${path_of[$wanted]:-}" ]; then
    place "${path_of[$wanted]}"
  elif [ -n "${builtin[$wanted]:-}" ]; then
    built_in+=("$wanted")
  elif [ "$entry" = "$wanted" ]; then
    die "$kernel_release has no module $wanted, and it is not built in"
  fi
done

# --- initramfs tree --------------------------------------------------------------------------------

root="$build/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc/vessel-checks.d,lib/modules}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
install -m 0755 "$here/image/init" "$root/init"

# busybox insmod loads only plain .ko files: decompress while copying.
: >"$root/etc/modules.order"
for path in "${order[@]}"; do
  target="/lib/modules/$kernel_release/${path%.ko*}.ko"
  mkdir -p "$root$(dirname "$target")"
  case "$path" in
    *.ko.xz) "$bb" xzcat "$moddir/$path" ;;
    *.ko.gz) "$bb" zcat "$moddir/$path" ;;
    *) cat "$moddir/$path" ;;
  esac >"$root$target"
  echo "$target" >>"$root/etc/modules.order"
done

# Entries the host cannot (or need not) make as files are written here, straight into a second newc
# archive: /dev/console, which the kernel opens before it runs /init and only root may mknod, and
# one symlink per busybox applet (hundreds of `ln` processes would cost seconds on a slow host).
# newc: "070701", then 13 fields of 8 hex digits (ino mode uid gid nlink mtime filesize devmajor
# devminor rdevmajor rdevminor namesize check), the name and its NUL padded to 4 bytes, the data
# padded to 4 bytes.
padding=('' '\0' '\0\0' '\0\0\0')
inode=0
newc_entry() {
  local name="$1" mode="$2" rdev_major="$3" rdev_minor="$4" data="${5:-}"
  local namesize=$((${#name} + 1))
  inode=$((inode + 1))
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0%b' \
    "$inode" "$mode" 0 0 1 0 "${#data}" 0 0 "$rdev_major" "$rdev_minor" "$namesize" 0 \
    "$name" "${padding[(4 - (110 + namesize) % 4) % 4]}"
  printf '%s%b' "$data" "${padding[(4 - ${#data} % 4) % 4]}"
}
# The kernel unpacks concatenated archives one after another into the same root.
(
  export LC_ALL=C # ${#name} and ${#data} must count bytes
  cd "$root"
  find . | sort | "$bb" cpio -o -H newc -R 0:0 2>/dev/null
  newc_entry dev/console $((8#020600)) 5 1
  # Where busybox itself says each applet belongs: bin/sh, sbin/insmod, usr/bin/awk... Its list
  # names bin/busybox too, which must stay the binary.
  while IFS= read -r applet; do
    [ "$applet" != bin/busybox ] || continue
    newc_entry "$applet" $((8#0120777)) 0 0 /bin/busybox
  done < <("$bb" --list-full)
  newc_entry 'TRAILER!!!' 0 0 0
) | "$bb" gzip -9 >"$build/initramfs.cpio.gz"

# --- data disk ------------------------------------------------------------------------------------

mkdir -p "$build/data"
printf 'hello from the host\n' >"$build/data/hello.txt"
mkfs_env=()
if [ -n "$mkfs" ]; then
  mkfs_from="host $mkfs"
else
  # The downloaded one: its libraries and its own mke2fs.conf (the host may have none).
  e2fs="$build/pkg/e2fsprogs"
  mkfs="$e2fs/sbin/mkfs.ext4"
  mkfs_from="e2fsprogs ${version[e2fsprogs]}"
  libs="$(find "$e2fs" "$build/pkg/libext2fs2" "$build/pkg/libcom-err2" -name '*.so.*' -printf '%h\n' |
    sort -u | paste -sd:)"
  mkfs_env=("LD_LIBRARY_PATH=$libs" "MKE2FS_CONFIG=$e2fs/etc/mke2fs.conf")
fi
# -d fills the file system from a folder, as the user running this; root_owner makes / root's.
env "${mkfs_env[@]}" "$mkfs" -q -F -L vessel-data -E root_owner=0:0 -d "$build/data" "$build/data.ext4" 64M >/dev/null ||
  die "mkfs.ext4 failed ($mkfs_from)"

# --- install -----------------------------------------------------------------------------------------

cp "$kernel_root/boot/vmlinuz-$kernel_release" "$build/vmlinuz"
printf '%s\n' "$cmdline" >"$build/cmdline"
{
  echo "# Vessel default guest, built by scripts/image.sh (key=value)"
  echo "kernel_package=$kernel_package"
  echo "kernel_version=${version[$kernel_package]}"
  echo "kernel_release=$kernel_release"
  echo "busybox_version=${version[busybox-static]}"
  echo "mkfs=$mkfs_from"
  echo "modules=${order_names[*]}"
  echo "built_in=${built_in[*]}"
  echo "recipe=$recipe"
} >"$build/VERSION"
# VERSION goes first and comes back last: a build cut short never looks complete.
rm -f "$dir/VERSION"
for file in "${outputs[@]}"; do
  mv -f "$build/$file" "$dir/$file"
done
# Keep only the .debs this build used, so kernel updates do not pile up.
for deb in "$debs"/*.deb; do
  case " ${used_debs[*]} " in *" $deb "*) ;; *) rm -f "$deb" ;; esac
done
say "built in $dir: $kernel_package ${version[$kernel_package]}, busybox-static ${version[busybox-static]}, ${#order[@]} modules"
