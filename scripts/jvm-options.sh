# JVM options Vessel runs with: sourced by ./vessel, scripts/aot-cache.sh and the benchmarks, so that the
# AOT cache is trained under the options it is used with (the JVM ignores a cache made under others).
# --enable-native-access: FFM (KVM ioctls, mmap); --sun-misc-unsafe-memory-access=allow: aircompressor
# (LZ4/LZO kernel decompression) still uses Unsafe, which JDK 24+ would otherwise report on stderr;
# serial GC: a VMM process is small; a small heap that shrinks at once when a full collection frees it:
# the kernel's decompressed copy is garbage after boot and GuestSession collects it
# (cli.GuestSession.releaseBootGarbage).
# (-Xshare:auto, the default, is left implicit: the JVM refuses it next to -XX:AOTCacheOutput.)
JVM_OPTIONS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -XX:+UseSerialGC -Xms8m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:-ShrinkHeapInSteps)

# The JIT: C1 and C2 (tiered, the JVM's default) wherever the CPU is a real one or KVM's. C2's code is
# what keeps the vCPU loop's own cost per exit small (bench/exits: about 1 us of user time per exit with
# C1 alone, and 40 bytes allocated, which C2's escape analysis removes).
# C1 only where the JVM itself runs under QEMU's software emulation (TCG), as inside
# scripts/nested-kvm.sh's VM: there a JVM occasionally crashed at the entry of a method HotSpot had just
# patched to not-entrant while another thread ran it, which C2 replacing C1 code does for every hot
# method (see scripts/test); C1 code is also cheaper to compile where the compiler is emulated.
# The probe: QEMU names its CPU models in CPUID's brand string, which Linux shows as "model name":
# "QEMU TCG CPU version ..." for -cpu max under TCG (what nested-kvm.sh runs), "QEMU Virtual CPU ..." for
# qemu64/qemu32, which TCG and KVM both offer (C1 only there too: the safe side). Under KVM, -cpu host and
# -cpu max show the host's own brand string, and a real CPU shows its maker's.
# VESSEL_JIT=c1 or c2 overrides the probe (to compare the two, or if the probe is wrong for a host).
jvm_c1_only() {
  case "${VESSEL_JIT:-}" in
    c1) return 0 ;;
    c2) return 1 ;;
  esac
  grep -q -E '^model name[[:space:]]*:[[:space:]]*QEMU (TCG|Virtual) CPU' /proc/cpuinfo 2>/dev/null
}
if jvm_c1_only; then
  JVM_OPTIONS+=(-XX:TieredStopAtLevel=1)
fi
