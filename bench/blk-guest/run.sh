#!/usr/bin/env bash
# In-guest virtio-blk throughput: the default guest runs busybox dd with O_DIRECT against a raw scratch
# disk (sequential 1 MiB writes with a final fsync, then sequential 1 MiB reads), under Vessel and
# under QEMU (-M pc, KVM, virtio-blk-pci) in the same run, same kernel, initramfs and disk size.
#
#   bench/blk-guest/run.sh [MIB]      (default 64 MiB each way)
#
# On a host without /dev/kvm it re-runs itself inside scripts/nested-kvm.sh (as bench/boot does): the
# figures are then those of KVM nested under QEMU's software emulation, useful side by side only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
mib="${1:-64}"
timeout_s="${BENCH_TIMEOUT:-900}"

bench_in_kvm $((timeout_s * 3 + 600)) "BENCH_TIMEOUT=$timeout_s" "$here/run.sh" "$mib"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# The benchmark script joins the default initramfs as one more archive; /init sources it with its checks.
mkdir -p "$out/root/etc/vessel-checks.d"
cat > "$out/root/etc/vessel-checks.d/90-dd.sh" <<SCRIPT
up() { read -r t _ </proc/uptime; echo "\$t"; }
a=\$(up); dd if=/dev/zero of=/dev/vda bs=1M count=$mib oflag=direct conv=fsync 2>/dev/null; b=\$(up)
dd if=/dev/vda of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null; c=\$(up)
echo "VESSEL-BENCH write \$a \$b read \$b \$c"
SCRIPT
bench_initrd "$out/root" "$out/initrd"
cmdline="$(cat "$image/cmdline") vessel.check"
export top image out cmdline

# Runs "$@" until the guest powers off or the timeout; prints the MB/s figures from its console.
measure() {
  local log="$out/console"
  truncate -s "${mib}M" "$out/disk.img"
  # timeout runs programs, not shell functions: hand it the function's text.
  timeout "$timeout_s" bash -c "$(declare -f "$1"); $1" > "$log" 2>&1 || true
  awk -v mib="$mib" '/VESSEL-BENCH/ { w = $4 - $3; r = $7 - $6
      printf "write %.1f MB/s (%.2f s), read %.1f MB/s (%.2f s)\n", mib * 1.048576 / w, w, mib * 1.048576 / r, r; found = 1 }
    END { if (!found) print "no result" }' "$log"
  grep -q VESSEL-BENCH "$log" || tail -5 "$log"
}

vessel() {
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$top/target/vessel.jar" run --kernel "$image/vmlinuz" --initrd "$out/initrd" \
    --memory 512M --cpus 1 --cmdline "$cmdline" --drive "path=$out/disk.img"
}

qemu() {
  qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -display none \
    -serial stdio -no-reboot -kernel "$image/vmlinuz" -initrd "$out/initrd" -append "$cmdline" \
    -drive "file=$out/disk.img,if=none,id=d0,format=raw,cache=writeback" -device virtio-blk-pci,drive=d0
}

echo "bench: in-guest dd, $mib MiB each way, O_DIRECT, 1 MiB blocks; $(nproc) host CPUs"
echo "vessel: $(measure vessel)"
if command -v qemu-system-x86_64 >/dev/null; then
  echo "qemu -M pc: $(measure qemu)"
else
  echo "qemu: not installed (apt-get install qemu-system-x86)"
fi
