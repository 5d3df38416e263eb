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

# Memory each Vessel process keeps to itself (issue 15; bench/density/run.sh measures it: N idle API
# processes side by side, private memory and PSS). Measured 2026-12-04 on a 2-CPU kvm_pvm host, private
# memory (smaps' Private_Dirty + Private_Clean) of an idle API process without / with the AOT cache:
# 34.7 / 36.9 MiB before these two options, 21.8 / 20.2 MiB with both (10 processes; the figures per
# option below are from 4 processes, before Jackson was dropped); CPU time to the API's first answer
# unchanged.
# - Native heap trimming every 2 s (malloc_trim(3) from a JVM thread, 0.1-0.6 ms each): the JIT's arenas,
#   class parsing and start-up leave 7-17 MiB free but still resident in glibc's malloc arenas (17 with the
#   AOT cache), which glibc only hands back when asked. -7.0 / -17.4 MiB. (MALLOC_ARENA_MAX=2 instead, or
#   as well: no change beyond 0.3 MiB, so it is not set.)
# - The class-data archive (the JDK's CDS archive, or target/vessel.aot) mapped at the address it was made
#   for instead of a random one: relocating it at start writes a pointer into nearly every page of it,
#   turning 6-10 MiB of shared, file-backed pages into private copies in every process. The cost: the
#   archive's class metadata sits at a fixed address (0x800000000) in every Vessel process, as it did in
#   JVMs before relocation became their default; the rest (libjvm, heap, stacks, guest memory) stays
#   randomized. -Xlog:aot (or cds) shows both archives mapped there, with no fallback to relocation.
#   The option is a diagnostic one in JDK 25, hence the unlock. -6.4 / -9.8 MiB.
#   VESSEL_ARCHIVE_ASLR=1 keeps the JVM's relocation.
# Tried and left out: -XX:-UsePerfData and -XX:+UseCompactObjectHeaders (no change beyond 0.1 MiB); -Xss is
# left as it is (a thread's stack is resident only as deep as it ran: 1.5 MiB for 20 threads); -Xms4m (-1.5 / -2 MiB, but twice the young collections before the API answers, and
# with the AOT cache below 4 MiB the JVM refuses to start: the cache's 1.6 MiB of objects must fit the
# initial old generation).
JVM_OPTIONS+=(-XX:TrimNativeHeapInterval=2000)
if [ "${VESSEL_ARCHIVE_ASLR:-0}" != 1 ]; then
  JVM_OPTIONS+=(-XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0)
fi

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
