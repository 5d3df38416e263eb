#!/usr/bin/env bash
# VM exits per second: Vessel (Java, full exit path) against a bare C KVM loop, same guest, same run.
# Prints both rates and the Java/C ratio (goal: 1.05 or better, i.e. Java within 5% of C).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
out="$top/target/bench-exits"
if [ -z "${VESSEL_BENCH_INNER:-}" ]; then
  mkdir -p "$out"
  make -s -C "$top/guests" O="$top/target/guests"
  gcc -O2 -Wall -Wextra -o "$out/exits" "$here/exits.c"
  (cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
  if ! kvm_usable && command -v qemu-system-x86_64 >/dev/null; then
    echo "bench: no usable /dev/kvm here; measuring inside a nested-KVM VM (scripts/nested-kvm.sh):"
    echo "bench: absolute rates there are those of KVM under QEMU's emulation; the Java/C ratio is the figure"
    exec env TCG_RW_DIRS="$top" TCG_TIMEOUT=1200 TCG_ENV="VESSEL_BENCH_INNER=1 ROUNDS=${ROUNDS:-3}" \
      "$top/scripts/nested-kvm.sh" "$here/run.sh"
  fi
fi
guest="$top/target/guests/bench-out.bin"
rounds="${ROUNDS:-3}"
c_best=0
for i in $(seq "$rounds"); do
  line="$("$out/exits" "$guest")"
  echo "$line"
  case "$line" in *skipped*) c_best=skip; break ;; esac
  rate="${line##*exits_per_sec=}"
  c_best=$(awk -v a="$c_best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
done
# The JIT a long-running VMM would use (C2); the launcher's C1-only setting is for start-up.
java_out="$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -cp "$top/target/classes:$top/target/lib/*" "$here/ExitRate.java" "$guest" "$rounds")"
echo "$java_out"
java_best="$(echo "$java_out" | sed -n 's/^java best exits_per_sec=//p')"
if [ "$c_best" = skip ] || [ -z "$java_best" ]; then
  echo "result: skipped (no /dev/kvm on this host)"
  exit 0
fi
awk -v c="$c_best" -v j="$java_best" 'BEGIN {
  printf "result: c_exits_per_sec=%.0f java_exits_per_sec=%.0f c_over_java_time_ratio=%.3f (1.00 = same speed; goal <= 1.05)\n", c, j, c / j }'
