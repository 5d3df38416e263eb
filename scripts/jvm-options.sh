# JVM options Vessel runs with: sourced by ./vessel, scripts/aot-cache.sh and the benchmarks, so that the
# AOT cache is trained under the options it is used with (the JVM ignores a cache made under others).
# --enable-native-access: FFM (KVM ioctls, mmap); --sun-misc-unsafe-memory-access=allow: aircompressor
# (LZ4/LZO kernel decompression) still uses Unsafe, which JDK 24+ would otherwise report on stderr;
# serial GC and C1 only: a VMM process is small and short of start-up time, not of peak throughput;
# a small heap that shrinks at once when a full collection frees it: the kernel's decompressed copy is
# garbage after boot and GuestSession collects it (cli.GuestSession.releaseBootGarbage).
# (-Xshare:auto, the default, is left implicit: the JVM refuses it next to -XX:AOTCacheOutput.)
JVM_OPTIONS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xms8m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30
  -XX:-ShrinkHeapInSteps)
