#!/usr/bin/env bash
# 4 KiB random reads per second through VirtioBlock, driven by a synthetic in-process driver that posts
# chains into a VirtQueue in real guest memory and reaps the used entries (JMH; BlkRandomRead.java says
# what is and is not measured). Needs no KVM. Prints JMH's table, then one "result:" line per batch size.
#
#   run.sh [--baseline REV] [--rounds N] [JMH arguments, e.g. -p batch=32, -wi 1 -i 2]
#
# --baseline REV also builds Vessel and this benchmark as they were at git revision REV (under
# target/baseline) and runs the two in turns, REV first, N rounds (default 2), so a loaded host weighs on
# both alike; the result lines then say which build each figure is from, per round and averaged.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh" # top, JAVA_HOME, baseline_tree
baseline=""
rounds=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) break ;;
  esac
done
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Builds Vessel's jar at $1 (a source tree), then the benchmark in $1/bench/blk against it (JMH 1.37
# from Maven Central on first use).
build() {
  if ! (cd "$1" && mvn -q -B -DskipTests package >"$log" 2>&1) ||
     ! (cd "$1/bench/blk" && mvn -q -B package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >"$log" 2>&1); then
    cat "$log" >&2
    exit 1
  fi
}

# Runs the benchmark built in $1/bench/blk, results to $2 (CSV), further arguments to JMH.
bench() {
  local dir="$1/bench/blk" csv="$2"
  shift 2
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$dir/target/classes:$(cat "$dir/target/classpath.txt")" \
    org.openjdk.jmh.Main -rf csv -rff "$csv" -prof gc "$@" 'vessel.bench.blk.BlkRandomRead'
}

# The result lines of CSV files $2...: build label $1, batch, requests/s, bytes per request.
# CSV columns: Benchmark, Mode, Threads, Samples, Score, Score Error, Unit, Param: batch, Param: engine
# (a baseline build from before the engine parameter has no ninth column: its engine is "threads").
results() {
  local label="$1"
  shift
  awk -F, -v label="$label" 'FNR > 1 {
      gsub(/"/, "")
      k = $8 " engine=" ($9 == "" ? "THREADS" : $9)
      if ($1 == "vessel.bench.blk.BlkRandomRead.randomRead4k") { rate[k] += $5; err[k] = err[k] " " sprintf("%.0f+-%.0f", $5, $6); n[k]++ }
      if ($1 ~ /gc.alloc.rate.norm$/) { alloc[k] += $5; na[k]++ }
    }
    END { for (b in rate) printf "result: build=%s batch=%s requests_per_sec=%.0f alloc_bytes_per_request=%.1f (rounds:%s)\n",
          label, b, rate[b] / n[b], alloc[b] / na[b], err[b] }' "$@" | sort -t= -k3 -n
}

build "$top"
if [[ -z "$baseline" ]]; then
  bench "$top" "$here/target/result.csv" "$@"
  results current "$here/target/result.csv"
  exit 0
fi

old="$(baseline_tree "$baseline" "$here/target/baseline" bench/blk/target/classpath.txt build .)"
rev="$(basename "$old")"
rm -f "$here"/target/result-baseline-*.csv "$here"/target/result-current-*.csv
for ((round = 1; round <= rounds; round++)); do
  bench "$old" "$here/target/result-baseline-$round.csv" "$@"
  bench "$top" "$here/target/result-current-$round.csv" "$@"
done
echo
results "baseline($rev)" "$here"/target/result-baseline-*.csv
results current "$here"/target/result-current-*.csv
