#!/usr/bin/env bash
# VM exits per second: Vessel (Java, full exit path) against a bare C KVM loop, same guest, same run.
# Prints both rates and the Java/C ratio (goal: 1.05 or better, i.e. Java within 5% of C).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$top/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
out="$top/target/bench-exits"
mkdir -p "$out"
make -s -C "$top/guests" O="$top/target/guests"
gcc -O2 -Wall -Wextra -o "$out/exits" "$here/exits.c"
(cd "$top" && JAVA_HOME="$JAVA_HOME" mvn -q -B -Dstyle.color=never -DskipTests package)
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
java_out="$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$top/target/classes" \
  "$here/ExitRate.java" "$guest" "$rounds")"
echo "$java_out"
java_best="$(echo "$java_out" | sed -n 's/^java best exits_per_sec=//p')"
if [ "$c_best" = skip ] || [ -z "$java_best" ]; then
  echo "result: skipped (no /dev/kvm on this host)"
  exit 0
fi
awk -v c="$c_best" -v j="$java_best" 'BEGIN {
  printf "result: c_exits_per_sec=%.0f java_exits_per_sec=%.0f c_over_java_time_ratio=%.3f (1.00 = same speed; goal <= 1.05)\n", c, j, c / j }'
