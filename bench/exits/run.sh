#!/usr/bin/env bash
# VM exits per second: Vessel (Java, full exit path) against a bare C KVM loop, same guest, same run.
# Prints both rates and the Java/C ratio (goal: 1.05 or better, i.e. Java within 5% of C), and beside
# them the user-space CPU time each spends per exit (goal for Java: below 150 ns): on a host whose KVM
# is slow to exit (or busy with other work) the rates are mostly the kernel's, the user time is ours.
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
c_user=""
for i in $(seq "$rounds"); do
  line="$("$out/exits" "$guest")"
  echo "$line"
  case "$line" in *skipped*) c_best=skip; break ;; esac
  rate="$(echo "$line" | sed -n 's/.*exits_per_sec=\([0-9]*\).*/\1/p')"
  user="$(echo "$line" | sed -n 's/.*user_ns_per_exit=\([0-9]*\).*/\1/p')"
  c_best=$(awk -v a="$c_best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')
  c_user=$(awk -v a="$c_user" -v b="$user" 'BEGIN { print (a == "" || b < a) ? b : a }')
done
# The options ./vessel runs with on this host (scripts/jvm-options.sh), so this is the exit path users get.
java_out="$("$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" \
  -cp "$top/target/classes:$top/target/lib/*" "$here/ExitRate.java" "$guest" "$rounds")"
echo "$java_out"
java_best="$(echo "$java_out" | sed -n 's/^java best exits_per_sec=\([0-9]*\).*/\1/p')"
java_user="$(echo "$java_out" | sed -n 's/^java best .*user_ns_per_exit=\([0-9]*\).*/\1/p')"
if [ "$c_best" = skip ] || [ -z "$java_best" ]; then
  echo "result: skipped (no /dev/kvm on this host)"
  exit 0
fi
echo "result: JVM options: ${JVM_OPTIONS[*]}"
awk -v c="$c_best" -v j="$java_best" -v cu="$c_user" -v ju="${java_user:-nan}" 'BEGIN {
  printf "result: c_exits_per_sec=%.0f java_exits_per_sec=%.0f c_over_java_time_ratio=%.3f (1.00 = same speed; goal <= 1.05)\n", c, j, c / j
  printf "result: c_user_ns_per_exit=%s java_user_ns_per_exit=%s (best round each; goal for Java < 150)\n", cu, ju }'
