#!/usr/bin/env bash
# Boot benchmark: time from starting the VMM to the default guest's /init marker, Vessel (kernel
# decompressed on the host, and by the guest) side by side with QEMU (-M pc and -M microvm, KVM) on the
# same Debian kernel and initramfs in one run. Also: Vessel's process start to its first vCPU entry, and
# Vessel's resident memory beyond guest RAM. Where QEMU stops early, prints how far it got.
#
#   bench/boot/run.sh [ROUNDS]        (default 1; a boot takes minutes on hosts that emulate guest code)
#
# On a host without /dev/kvm it re-runs itself inside scripts/nested-kvm.sh: the figures then come from
# KVM nested under QEMU's software emulation, slow in absolute terms, but the same for every VMM measured.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
rounds="${1:-1}"
timeout_s="${BOOT_TIMEOUT:-900}"

bench_in_kvm $((timeout_s * 6 * rounds + 600)) "BOOT_TIMEOUT=$timeout_s" "$here/run.sh" "$rounds"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cmdline="$(cat "$image/cmdline") vessel.check"
marker="VESSEL-INIT: started"

# Runs "$@" with output to a file; prints seconds until the marker, or "stopped:<last line>" / "timeout".
time_to_marker() {
  local log="$out/console" start now pid
  : > "$log"
  start=$(date +%s%N)
  "$@" > "$log" 2>&1 &
  pid=$!
  while :; do
    if grep -q "$marker" "$log"; then
      now=$(date +%s%N)
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }'
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "stopped:$(grep -a -v '^\s*$' "$log" | tail -1 | tr -d '\r' | cut -c1-100)"
      return
    fi
    if [ $(( ($(date +%s%N) - start) / 1000000000 )) -ge "$timeout_s" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      echo "timeout:${timeout_s}s last:$(grep -a -v '^\s*$' "$log" | tail -1 | tr -d '\r' | cut -c1-80)"
      return
    fi
    sleep 0.05
  done
}

# Both run in the background only; exec makes $! the VMM process itself (for /proc/PID/smaps).
vessel() {
  exec "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$top/target/vessel.jar" run --kernel "$image/vmlinuz" \
    --initrd "$image/initramfs.cpio.gz" --memory 512M --cpus 1 --cmdline "$cmdline" "$@"
}

qemu() {
  local machine="$1"
  exec qemu-system-x86_64 -M "$machine" -enable-kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config \
    -display none -serial stdio -no-reboot -kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" \
    -append "$cmdline"
}

echo "bench: boot to '$marker', $rounds round(s), $(nproc) host CPUs, kernel $(sed -n 's/^kernel_package=//p' "$image/VERSION" 2>/dev/null)"
for i in $(seq "$rounds"); do
  echo "round $i: vessel --kernel-decompress host: $(time_to_marker vessel --kernel-decompress host) s"
  echo "round $i: vessel --kernel-decompress guest: $(time_to_marker vessel --kernel-decompress guest) s"
  if command -v qemu-system-x86_64 >/dev/null; then
    echo "round $i: qemu -M pc: $(time_to_marker qemu pc) s"
    echo "round $i: qemu -M microvm: $(time_to_marker qemu microvm,x-option-roms=off,rtc=on) s"
  else
    echo "round $i: qemu: not installed (apt-get install qemu-system-x86)"
  fi
done

# Process start to the first vCPU entry, as Vessel logs it, and resident memory beyond guest RAM once
# the guest's /init is up: RSS of the process minus what the guest's RAM mapping itself has resident.
# This guest stays up at its shell (vessel.check=none), so its process can be measured.
log="$out/first"
cmdline="$(cat "$image/cmdline") vessel.check=none"
vessel --log-level debug --kernel-decompress host > "$log" 2>&1 &
pid=$!
for _ in $(seq $((timeout_s * 10))); do grep -q "$marker" "$log" && break; sleep 0.1; done
sleep 2 # let /init settle into the shell
sed -n 's/.*starting vCPUs \([0-9]*\) ms after process start.*/vessel: process start to first vCPU entry: \1 ms/p' "$log"
if [ -r "/proc/$pid/smaps" ]; then
  # Guest RAM is what lies in the host ranges Vessel logged; the rest of the RSS is the VMM's own.
  ranges="$(sed -n 's/.*guest RAM slot [0-9]*: host \([0-9a-f]*\)-\([0-9a-f]*\).*/\1 \2/p' "$log" | tr '\n' ' ')"
  awk -v ranges="$ranges" '
    function hex(h,   i, v) { v = 0; h = tolower(h); for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
    BEGIN { n = split(ranges, r, " ") }
    /^[0-9a-f]+-[0-9a-f]+ / { split($1, a, "-"); lo = hex(a[1]); hi = hex(a[2]); ing = 0
      for (i = 1; i < n; i += 2) if (lo < hex(r[i + 1]) && hi > hex(r[i])) ing = 1 } # overlap: VMAs may merge
    /^Rss:/ { total += $2; if (ing) guest += $2 }
    END { printf "vessel: resident memory %d KiB, guest RAM %d KiB of it: %d KiB beyond guest RAM\n", total, guest, total - guest }
  ' "/proc/$pid/smaps"
fi
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
