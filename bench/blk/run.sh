#!/usr/bin/env bash
# 4 KiB random reads per second through VirtioBlock, driven by a synthetic in-process driver that posts
# chains into a VirtQueue in real guest memory and reaps the used entries (JMH; BlkRandomRead.java says
# what is and is not measured). Needs no KVM. Prints JMH's table, then one "result:" line per batch size.
# Extra arguments go to JMH (e.g. -p batch=32, -wi 1 -i 2 for a quick look).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$top/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
export JAVA_HOME
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Vessel's jar, then the benchmark against it (JMH 1.37 from Maven Central on first use).
if ! (cd "$top" && mvn -q -B -DskipTests package >"$log" 2>&1) ||
   ! (cd "$here" && mvn -q -B package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >"$log" 2>&1); then
  cat "$log" >&2
  exit 1
fi
classpath="$here/target/classes:$(cat "$here/target/classpath.txt")"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$classpath" org.openjdk.jmh.Main \
  -rf csv -rff "$here/target/result.csv" -prof gc "$@" 'vessel.bench.blk.BlkRandomRead'
# CSV columns: Benchmark, Mode, Threads, Samples, Score, Score Error, Unit, Param: batch
awk -F, 'NR > 1 {
    gsub(/"/, "")
    if ($1 == "vessel.bench.blk.BlkRandomRead.randomRead4k") rate[$8] = sprintf("%.0f (+- %.0f)", $5, $6)
    if ($1 ~ /gc.alloc.rate.norm$/) alloc[$8] = sprintf("%.1f", $5)
  }
  END { for (b in rate) printf "result: batch=%s requests_per_sec=%s alloc_bytes_per_request=%s\n", b, rate[b], alloc[b] }' \
  "$here/target/result.csv" | sort -t= -k2 -n
