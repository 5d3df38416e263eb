#!/usr/bin/env bash
# Firmware boot benchmark: time from starting the VMM to GRUB's menu and to the login prompt of the
# Debian disk scripts/disk-image.sh builds, booted through SeaBIOS and GRUB: Vessel (--firmware, Debian's
# SeaBIOS) side by side with QEMU (-M pc, its own SeaBIOS, KVM) on copies of the same disk, in one run.
#
#   bench/firmware-disk/run.sh [ROUNDS]     (default 1)
#
# On a host without a usable /dev/kvm, or whose KVM emulates guest code, it re-runs itself inside
# scripts/nested-kvm.sh: the figures are then those of KVM nested under QEMU's software emulation, the
# same for both VMMs, comparable side by side only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
rounds="${1:-1}"
timeout_s="${BOOT_TIMEOUT:-900}"
[ -n "${VESSEL_BENCH_INNER:-}" ] || "$top/scripts/disk-image.sh" --quiet
[ -n "${VESSEL_BENCH_INNER:-}" ] || "$top/scripts/firmware.sh" --quiet
bench_in_kvm $((timeout_s * 2 * rounds + 600)) "BOOT_TIMEOUT=$timeout_s" "$here/run.sh" "$rounds"

disk_dir="${VESSEL_DISK_DIR:-$top/.cache/disk}"
seabios="${VESSEL_FIRMWARE_DIR:-$top/.cache/firmware}/bios-256k.bin"
out="$top/target/bench-firmware-disk"
mkdir -p "$out"
menu_marker="(Vessel disk)"
login_marker="vessel login:"

# Runs "$@" (a VMM booting $out/disk.img) with output to a file; prints "MENU_S LOGIN_S", a figure being
# "timeout" or "stopped" where the marker never came.
time_to_markers() {
  local log="$out/console" start now pid menu=timeout login=timeout
  cp --sparse=always "$disk_dir/disk.img" "$out/disk.img"
  : > "$log"
  start=$(date +%s%N)
  "$@" > "$log" 2>&1 < /dev/null &
  pid=$!
  while [ $(( ($(date +%s%N) - start) / 1000000000 )) -lt "$timeout_s" ]; do
    now=$(date +%s%N)
    if [ "$menu" = timeout ] && grep -a -q -F "$menu_marker" "$log"; then
      menu=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    fi
    if grep -a -q -F "$login_marker" "$log"; then
      login=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      [ "$menu" = timeout ] && menu=stopped
      login=stopped
      break
    fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$menu $login"
}

# Both run in the background only; exec makes $! the VMM process itself.
vessel() {
  exec "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$top/target/vessel.jar" run --quiet --firmware "$seabios" \
    --memory 512M --cpus 1 --drive path="$out/disk.img"
}

qemu() {
  exec qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config \
    -display none -serial stdio -no-reboot -drive file="$out/disk.img",format=raw,if=virtio
}

echo "bench: SeaBIOS + GRUB + Debian disk, to GRUB's menu and to the login prompt, $rounds round(s), $(nproc) host CPUs, $(sed -n 's/^kernel_package=//p' "$disk_dir/VERSION")"
# "MENU_S LOGIN_S" split with set --: the nested VM's /dev has no /dev/fd, so no <(...) process substitution.
for i in $(seq "$rounds"); do
  set -- $(time_to_markers vessel)
  echo "round $i: vessel --firmware: GRUB menu $1 s, login prompt $2 s"
  if command -v qemu-system-x86_64 >/dev/null; then
    set -- $(time_to_markers qemu)
    echo "round $i: qemu -M pc:        GRUB menu $1 s, login prompt $2 s"
  else
    echo "round $i: qemu: not installed (apt-get install qemu-system-x86)"
  fi
done
