#!/usr/bin/env bash
# Builds a bootable PC disk of Debian from Debian's own packages, for `vessel run --firmware`:
#   disk.img   raw, 128 MiB: an MBR partition table with one ext4 root partition (sectors 2048..end,
#              marked bootable), GRUB in the MBR and in the gap before the partition (as grub-install
#              puts it on a BIOS machine), and on the root partition:
#                /boot/vmlinuz-R, /boot/initrd.img-R  Debian's generic kernel (linux-image-amd64) and
#                                   an initramfs that loads virtio_pci, virtio_blk and ext4 from that
#                                   kernel's own modules, mounts root= and switch_roots to it
#                                   (scripts/disk-image/init)
#                /boot/grub         grub.cfg (serial console, a 1 s menu) and GRUB's i386-pc modules
#                /bin/busybox, ...  busybox-static: init, a getty on ttyS0, login, sh
#              root's password is "vessel".
#   VERSION    what was built from what (key=value); also the stamp that makes a rerun a no-op
# Packages come only through `apt-get download` and are unpacked with `dpkg-deb -x`; GRUB's own tools
# grub-mkimage (grub-common) runs from the unpacked package, with grub-pc-bin's modules and boot images. The
# file system is filled by `mke2fs -d` and the disk is assembled with sfdisk and dd: no root, no loop
# devices, no mounts.
#
# Usage: scripts/disk-image.sh [--refresh] [--quiet]   (or ./vessel image --disk ...)
#   --refresh  ask apt for the package versions again and rebuild if they changed
#   --quiet    print nothing when there is nothing to do
# The folder is ${VESSEL_DISK_DIR:-<repo>/.cache/disk}.
set -euo pipefail

self="${BASH_SOURCE[0]}"
[[ "$self" == */* ]] || self="./$self"
here="$(cd "${self%/*}" && pwd)"
dir="${VESSEL_DISK_DIR:-${here%/*}/.cache/disk}"
outputs=(disk.img VERSION)
disk_mib=128
# The first partition starts at 1 MiB, as every partitioning tool puts it: sectors 1..2047 hold GRUB's core.img.
part_start=2048
password=vessel

# The kernel command line GRUB passes: the default guest's fast-boot options (scripts/image.sh explains
# each) and the root partition. `rw`: the initramfs mounts the root read-write, there is no fsck.
cmdline="root=/dev/vda1 rw console=ttyS0 quiet panic=-1 reboot=k i8042.noaux i8042.nomux 8250.nr_uarts=1 tsc=reliable no_timer_check nowatchdog cryptomgr.notests"
# GRUB's modules built into core.img: what reads the disk (biosdisk, part_msdos, ext2), the menu and
# its script (normal, configfile, echo, test), the serial console (serial, terminal) and the Linux loader.
grub_modules=(biosdisk part_msdos ext2 normal configfile echo test serial terminal linux boot)

say() { printf 'disk-image: %s\n' "$*"; }
die() { printf 'disk-image: %s\n' "$*" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/debs.sh"

refresh=false
quiet=false
for arg in "$@"; do
  case "$arg" in
    --refresh) refresh=true ;;
    --quiet) quiet=true ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: scripts/disk-image.sh [--refresh] [--quiet])" ;;
  esac
done

[ -d "$dir" ] || mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

recipe="$(cat "$self" "$here"/disk-image/* | sha256sum)"
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
  $quiet || say "up to date in $dir (${stamp[kernel_package]:-} ${stamp[kernel_version]:-}, grub ${stamp[grub_version]:-})"
  exit 0
fi

PATH="$PATH:/sbin:/usr/sbin"
for tool in sfdisk mke2fs; do
  command -v "$tool" >/dev/null || die "$tool is needed (apt-get install fdisk e2fsprogs)"
done

# --- Resolve package versions (apt's local lists) ---------------------------------------------------
meta=linux-image-amd64
if ! depends="$(LC_ALL=C apt-cache depends "$meta" 2>/dev/null)"; then
  die "apt has no $meta: run 'apt-get update' as root, then again"
fi
kernel_package="$(sed -n '/^ *Depends: linux-image-[0-9]/{s/^ *Depends: //p;q}' <<<"$depends")"
[ -n "$kernel_package" ] || die "cannot resolve $meta to a versioned kernel package (apt-cache depends $meta)"
kernel_release="${kernel_package#linux-image-}"
packages=("$kernel_package" busybox-static grub-pc-bin grub-common)
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
if $complete && [ "${stamp[recipe]:-}" = "$recipe" ] && [ "${stamp[kernel_package]:-}" = "$kernel_package" ] &&
  [ "${stamp[kernel_version]:-}" = "${version[$kernel_package]}" ] &&
  [ "${stamp[grub_version]:-}" = "${version[grub-pc-bin]}" ] &&
  [ "${stamp[busybox_version]:-}" = "${version[busybox-static]}" ]; then
  $quiet || say "up to date in $dir (apt has nothing newer)"
  exit 0
fi

# --- Download (reusing .debs in the cache) and unpack ----------------------------------------------
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
grub_lib="$build/pkg/grub-pc-bin/usr/lib/grub/i386-pc"
mkimage="$build/pkg/grub-common/usr/bin/grub-mkimage"
[ -x "$bb" ] || die "busybox-static has no bin/busybox"
[ -f "$kernel_root/boot/vmlinuz-$kernel_release" ] || die "$kernel_package has no boot/vmlinuz-$kernel_release"
[ -f "$grub_lib/boot.img" ] || die "grub-pc-bin has no usr/lib/grub/i386-pc/boot.img"
[ -x "$mkimage" ] || die "grub-common has no usr/bin/grub-mkimage"
"$mkimage" --version >/dev/null 2>&1 || die "grub-common's grub-mkimage does not run here (a library missing? ldd $mkimage)"
moddir=
for candidate_dir in "$kernel_root/lib/modules/$kernel_release" "$kernel_root/usr/lib/modules/$kernel_release"; do
  [ -d "$candidate_dir" ] && moddir="$candidate_dir" && break
done
[ -n "$moddir" ] || die "$kernel_package has no lib/modules/$kernel_release"

# --- initramfs: busybox, /init, the modules a virtio-blk ext4 root needs with their dependencies --------
if [ -n "$(find "$moddir" -name '*.ko.zst' -print -quit)" ]; then
  command -v zstd >/dev/null || die "$kernel_package has zstd-compressed modules: install zstd"
  find "$moddir" -name '*.ko.zst' -exec zstd -q -d --rm {} +
fi
mkdir -p "$build/depmod/lib/modules"
ln -s "$moddir" "$build/depmod/lib/modules/$kernel_release"
"$bb" depmod -b "$build/depmod" "$kernel_release"
declare -A deps_of path_of
while IFS= read -r line; do
  path="${line%%:*}"
  name="${path##*/}"; name="${name%%.ko*}"; name="${name//-/_}"
  path_of[$name]="$path"
  deps_of[$path]="${line#*:}"
done <"$moddir/modules.dep"
initrd_root="$build/initrd"
mkdir -p "$initrd_root"/{bin,dev,proc,sys,newroot}
cp "$bb" "$initrd_root/bin/busybox"
install -m 0755 "$here/disk-image/init" "$initrd_root/init"
declare -A copied
copy_module() {
  local path="$1" dep
  [ -z "${copied[$path]:-}" ] || return 0
  copied[$path]=1
  for dep in ${deps_of[$path]}; do copy_module "$dep"; done
  mkdir -p "$initrd_root/lib/modules/$kernel_release/$(dirname "$path")"
  case "$path" in
    *.ko.xz) "$bb" xzcat "$moddir/$path" >"$initrd_root/lib/modules/$kernel_release/${path%.xz}" ;;
    *) cp "$moddir/$path" "$initrd_root/lib/modules/$kernel_release/$path" ;;
  esac
}
modules=()
for wanted in virtio_pci virtio_blk crc32c_generic ext4; do
  # A module built into this kernel is not in modules.dep, and needs no loading.
  if [ -n "${path_of[$wanted]:-}" ]; then
    copy_module "${path_of[$wanted]}"
    modules+=("$wanted")
  fi
done
"$bb" depmod -b "$initrd_root" "$kernel_release"
# /dev/console must be in the archive (the kernel opens it before /init runs), and only root may mknod:
# one newc entry written by hand (format: scripts/image.sh).
newc_entry() {
  local name="$1" mode="$2" rdev_major="$3" rdev_minor="$4" namesize=$((${#1} + 1))
  local pad=$(((4 - (110 + namesize) % 4) % 4))
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
    1 "$mode" 0 0 1 0 0 0 0 "$rdev_major" "$rdev_minor" "$namesize" 0 "$name"
  head -c "$pad" /dev/zero
}
(
  export LC_ALL=C
  cd "$initrd_root"
  find . | sort | "$bb" cpio -o -H newc -R 0:0 2>/dev/null
  newc_entry dev/console $((8#020600)) 5 1
  newc_entry 'TRAILER!!!' 0 0 0
) | "$bb" gzip -9 >"$build/initrd.img"

# --- root file system ---------------------------------------------------------------------------------
root="$build/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc/init.d,boot/grub}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$bb" "$root/bin/busybox"
while IFS= read -r applet; do
  [ "$applet" != bin/busybox ] || continue
  ln -s /bin/busybox "$root/$applet"
done < <("$bb" --list-full)
install -m 0644 "$here/disk-image/inittab" "$root/etc/inittab"
install -m 0755 "$here/disk-image/rcS" "$root/etc/init.d/rcS"
echo vessel >"$root/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'root:%s:20000:0:99999:7:::\n' "$("$bb" mkpasswd -m sha512 "$password")" >"$root/etc/shadow"
chmod 0600 "$root/etc/shadow"
printf 'Debian busybox-static on Vessel (root password: %s)\n\n' "$password" >"$root/etc/issue"
cp "$kernel_root/boot/vmlinuz-$kernel_release" "$root/boot/vmlinuz-$kernel_release"
cp "$kernel_root/boot/config-$kernel_release" "$root/boot/config-$kernel_release"
cp "$build/initrd.img" "$root/boot/initrd.img-$kernel_release"
mkdir -p "$root/boot/grub/i386-pc"
cp "$grub_lib"/*.mod "$grub_lib"/*.lst "$root/boot/grub/i386-pc/"
# GRUB's own serial terminal only: its "console" terminal goes through the BIOS's int 10h, which
# SeaBIOS's serial console would copy to the same port, so every character would come twice.
cat >"$root/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=1
set default=0
menuentry 'Debian GNU/Linux, with Linux $kernel_release (Vessel disk)' {
	echo 'Loading Linux $kernel_release ...'
	linux /boot/vmlinuz-$kernel_release $cmdline
	echo 'Loading initial ramdisk ...'
	initrd /boot/initrd.img-$kernel_release
}
EOF

# --- the disk: partition table, ext4 at sector 2048, GRUB before it -----------------------------------
disk="$build/disk.img"
truncate -s "${disk_mib}M" "$disk"
printf 'label: dos\nstart=%d, type=83, bootable\n' "$part_start" | sfdisk -q "$disk" >/dev/null ||
  die "sfdisk could not partition $disk"
part_sectors=$(($disk_mib * 2048 - part_start))
mke2fs -q -F -t ext4 -L vessel-root -E root_owner=0:0 -d "$root" "$build/root.ext4" "$((part_sectors / 2))k" >/dev/null ||
  die "mke2fs failed"
dd if="$build/root.ext4" of="$disk" bs=512 seek="$part_start" conv=notrunc,sparse status=none
# core.img: GRUB's kernel with the modules it needs to find and read its prefix, the root partition's
# /boot/grub. Then what grub-bios-setup does on a BIOS disk (it cannot be run on a plain file: it insists
# on finding the host device holding its directory): boot.img into the MBR's first 440 bytes (the disk
# signature and partition table after them stay), core.img into sectors 1.., and the pointers between
# them (GRUB's include/grub/i386/pc/boot.h and diskboot.S):
#   boot.img 0x5c  u64  the sector holding core.img's first sector (diskboot.img): 1
#   boot.img 0x66  jmp  replaced by two NOPs: a hard disk, so a BIOS passing a boot drive without 0x80 is
#                       taken to mean 0x80 (grub-bios-setup does this unless --allow-floppy)
#   core.img 0x1f4 u64  where the rest of core.img starts: sector 2
#   core.img 0x1fc u16  how many sectors it has
grub_dir="$build/grub"
mkdir -p "$grub_dir"
"$mkimage" -O i386-pc -d "$grub_lib" -o "$grub_dir/core.img" -p '(hd0,msdos1)/boot/grub' "${grub_modules[@]}" ||
  die "grub-mkimage failed"
core_sectors=$(( ($(stat -c %s "$grub_dir/core.img") + 511) / 512 ))
[ "$core_sectors" -lt "$part_start" ] || die "core.img ($core_sectors sectors) does not fit before sector $part_start"
le() { # le VALUE BYTES: VALUE as BYTES little-endian bytes
  local value="$1" bytes="$2" i out=
  for ((i = 0; i < bytes; i++)); do
    out+="$(printf '\\x%02x' $(((value >> (8 * i)) & 0xff)))"
  done
  printf "$out"
}
patch() { # patch FILE OFFSET BYTES VALUE
  le "$4" "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cp "$grub_lib/boot.img" "$grub_dir/boot.img"
patch "$grub_dir/boot.img" $((0x5c)) 8 1
patch "$grub_dir/boot.img" $((0x66)) 2 $((0x9090))
patch "$grub_dir/core.img" $((0x1f4)) 8 2
patch "$grub_dir/core.img" $((0x1fc)) 2 $((core_sectors - 1))
dd if="$grub_dir/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$grub_dir/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none

{
  echo "# Vessel disk image, built by scripts/disk-image.sh (key=value)"
  echo "kernel_package=$kernel_package"
  echo "kernel_version=${version[$kernel_package]}"
  echo "kernel_release=$kernel_release"
  echo "busybox_version=${version[busybox-static]}"
  echo "grub_version=${version[grub-pc-bin]}"
  echo "grub_common_version=${version[grub-common]}"
  echo "initrd_modules=${modules[*]}"
  echo "core_img_sectors=$core_sectors"
  echo "root_password=$password"
  echo "cmdline=$cmdline"
  echo "recipe=$recipe"
} >"$build/VERSION"
rm -f "$dir/VERSION"
for file in "${outputs[@]}"; do
  mv -f "$build/$file" "$dir/$file"
done
for deb in "$debs"/*.deb; do
  case " ${used_debs[*]} " in *" $deb "*) ;; *) rm -f "$deb" ;; esac
done
say "built $dir/disk.img: $kernel_package ${version[$kernel_package]}, grub-pc-bin ${version[grub-pc-bin]}, busybox-static ${version[busybox-static]}"
