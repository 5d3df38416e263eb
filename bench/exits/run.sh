#!/usr/bin/env bash
# VM exits per second: Vessel (Java, full exit path) against a bare C KVM loop, same guest, same run.
# Prints both rates and the Java/C ratio (goal: 1.05 or better, i.e. Java within 5% of C), and beside
# them the user-space CPU time each spends per exit (goal for Java: below 150 ns): on a host whose KVM
# is slow to exit (or busy with other work) the rates are mostly the kernel's, the user time is ours.
#
#   run.sh [--baseline REV] [--rounds N]      (N, or $ROUNDS, default 3)
#
# Each round runs the C loop, then (with --baseline) Vessel as it was at git revision REV (built under
# target/bench-exits/baseline, measured by this revision's ExitRate.java), then this Vessel, each in a
# fresh process, so a loaded host weighs on all of them alike. Per-exit figures are best and median
# over the rounds: user time is sampled at the kernel's tick, so a single round is noisy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
out="$top/target/bench-exits"
rounds="${ROUNDS:-3}"
baseline="${BASELINE:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "run.sh: unknown argument $1 (usage: run.sh [--baseline REV] [--rounds N])" >&2; exit 2 ;;
  esac
done
if [ -z "${VESSEL_BENCH_INNER:-}" ]; then
  mkdir -p "$out"
  make -s -C "$top/guests" O="$top/target/guests"
  gcc -O2 -Wall -Wextra -o "$out/exits" "$here/exits.c"
  (cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
  if [ -n "$baseline" ]; then
    baseline="$(baseline_tree "$baseline" "$out/baseline" target/classes/vessel mvn -q -B -o -Dstyle.color=never -DskipTests package)"
  fi
  if ! kvm_usable && command -v qemu-system-x86_64 >/dev/null; then
    echo "bench: no usable /dev/kvm here; measuring inside a nested-KVM VM (scripts/nested-kvm.sh):"
    echo "bench: absolute rates there are those of KVM under QEMU's emulation; the Java/C ratio is the figure"
    exec env TCG_RW_DIRS="$top" TCG_TIMEOUT=1200 \
      TCG_ENV="VESSEL_BENCH_INNER=1 ROUNDS=$rounds${baseline:+ BASELINE=$baseline}" "$top/scripts/nested-kvm.sh" "$here/run.sh"
  fi
fi
guest="$top/target/guests/bench-out.bin"
results="$out/results.txt"
: > "$results"

# java_round NAME TREE: one round of ExitRate.java against TREE's classes, its figures appended to $results.
java_round() {
  local name="$1" tree="$2" line
  line="$("$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -cp "$tree/target/classes:$tree/target/lib/*" \
    "$here/ExitRate.java" "$guest" 1 2>/dev/null | grep '^java round=' || true)"
  echo "$name: ${line:-java skipped or failed}"
  rate="$(echo "$line" | sed -n 's/.*exits_per_sec=\([0-9]*\).*/\1/p')"
  user="$(echo "$line" | sed -n 's/.* user_ns_per_exit=\([0-9]*\).*/\1/p')"
  alloc="$(echo "$line" | sed -n 's/.*alloc_bytes_per_exit=\([0-9.]*\).*/\1/p')"
  vmm="$(echo "$line" | sed -n 's/.*vmm_user_ns_per_exit=\(-*[0-9]*\).*/\1/p')"
  [ -n "$rate" ] && echo "$name $rate ${user:-nan} ${alloc:-nan} ${vmm:-nan}" >> "$results"
  case "$line" in *skipped*) return 1 ;; esac
  return 0
}

for i in $(seq "$rounds"); do
  line="$("$out/exits" "$guest")"
  echo "c: $line"
  case "$line" in *skipped*)
    echo "result: skipped (no /dev/kvm on this host)"
    exit 0 ;;
  esac
  rate="$(echo "$line" | sed -n 's/.*exits_per_sec=\([0-9]*\).*/\1/p')"
  user="$(echo "$line" | sed -n 's/.* user_ns_per_exit=\([0-9]*\).*/\1/p')"
  vmm="$(echo "$line" | sed -n 's/.*vmm_user_ns_per_exit=\(-*[0-9]*\).*/\1/p')"
  [ -n "$rate" ] && echo "c $rate $user 0 ${vmm:-nan}" >> "$results"
  if [ -n "$baseline" ]; then
    java_round "baseline($(basename "$baseline"))" "$baseline"
  fi
  java_round java "$top"
done

# The options ./vessel runs with on this host (scripts/jvm-options.sh), so this is the exit path users get.
echo "result: JVM options: ${JVM_OPTIONS[*]}"
echo "result: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs at the end"
awk '
  { k = $1; m = ++n[k]; rate[k, m] = $2; user[k, m] = $3; vmm[k, m] = $5
    if (!(k in alloc) || $4 + 0 > alloc[k] + 0) alloc[k] = $4
    if (!(k in seen)) { seen[k] = 1; name[++names] = k } }
  function best_rate(k,   i, b) { b = 0; for (i = 1; i <= n[k]; i++) if (rate[k, i] > b) b = rate[k, i]; return b }
  # "best=B median=M" of the figures f[k, 1..n[k]]
  function spread(f, k,   i, j, t, v, m) {
    m = n[k]
    for (i = 1; i <= m; i++) v[i] = f[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return sprintf("best=%.0f median=%.0f", v[1], (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2) }
  END {
    c = best_rate("c")
    for (i = 1; i <= names; i++) {
      k = name[i]
      printf "result: %-18s rounds=%d best_exits_per_sec=%.0f", k, n[k], best_rate(k)
      if (k != "c") printf " (c/it time %.3f)", c / best_rate(k)
      u = spread(user, k)
      o = spread(vmm, k)
      printf "; per exit, ns: user %s, own user (user - guest) %s", u, o
      if (k != "c") printf "; alloc max %s bytes", alloc[k]
      printf "\n"
    }
    print "result: goals: Java user ns per exit < 150 (own user: what the VMM adds), c/java time <= 1.05"
  }' "$results"
