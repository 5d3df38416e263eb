#!/usr/bin/env bash
# Memory per Vessel process: N idle API processes (`vessel --api-sock S`, nothing configured) side by
# side, started through the ./vessel launcher as users start them, without (VESSEL_AOT=0) and with the
# JVM's AOT cache; beside N hello-world JVMs (the floor any JVM process has) and Firecracker's published
# figure. Sourced by bench/density/run.sh, which runs it before the in-JVM density figures.
#
# Per process, after SETTLE seconds idle (default 8: the JVM trims its native heap every 2 s and frees
# its compilers' arenas every 5 s), the mean over the N processes of:
#   VmRSS    every page mapped and resident, shared ones included (libjvm's code, the JDK's class data):
#            a JVM sleeping in main() has 35-40 MiB of it, so it says little about many VMs per host;
#   private  pages only this process maps (smaps_rollup's Private_Dirty + Private_Clean): what one more
#            process adds to the host, the figure to compare with a native VMM's overhead;
#   PSS      private + each shared page divided among the processes mapping it.
# VESSEL_BENCH_BASE=DIR[:DIR...] measures other checkouts' launchers (their jar, cache and JVM options) in
# the same run, the baselines; VESSEL_BENCH_PROCESSES=N (default 10).

processes="${VESSEL_BENCH_PROCESSES:-10}"
settle="${SETTLE:-8}"

# mean VmRSS, RssAnon, private, PSS (MiB) and threads of the PIDs given
memory_line() {
  local pid
  for pid in "$@"; do
    awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^Threads/ { t = $2 } END { printf "%d %d %d ", r, a, t }' "/proc/$pid/status"
    awk '/^Pss:/ { p = $2 } /^Private_Dirty/ { d = $2 } /^Private_Clean/ { c = $2 } END { printf "%d %d\n", d + c, p }' \
      "/proc/$pid/smaps_rollup"
  done | awk '{ r += $1; a += $2; t += $3; v += $4; p += $5 }
    END { printf "private %.1f MiB, PSS %.1f MiB, VmRSS %.1f MiB (RssAnon %.1f), %d threads (mean of %d)\n",
          v / NR / 1024, p / NR / 1024, r / NR / 1024, a / NR / 1024, t / NR, NR }'
}

# N idle API processes of the checkout DIR, through its launcher; AOT=0 or 1. Prints the memory line.
idle_api_processes() {
  local dir="$1" aot="$2" work pids=() i ok
  work="$(mktemp -d -p "$top/target" density.XXXX)"
  for i in $(seq "$processes"); do
    VESSEL_AOT="$aot" "$dir/vessel" --api-sock "$work/$i.sock" >"$work/$i.out" 2>&1 &
    pids+=("$!")
  done
  ok=true
  for i in $(seq "$processes"); do
    for _ in $(seq 2400); do
      curl -s -o /dev/null --unix-socket "$work/$i.sock" http://localhost/ 2>/dev/null && break
      kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "bench: vessel ended: $(cat "$work/$i.out")" >&2; ok=false; break; }
      sleep 0.05
    done
  done
  $ok && sleep "$settle" && memory_line "${pids[@]}"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}

# N hello-world JVMs sleeping in main(), with the JVM options given.
hello_processes() {
  local work pids=() i
  work="$(mktemp -d -p "$top/target" density.XXXX)"
  printf 'public class Hello { public static void main(String[] a) throws Exception { System.out.println("ready"); Thread.sleep(3_600_000); } }\n' \
    >"$work/Hello.java"
  "$JAVA_HOME/bin/javac" -d "$work" "$work/Hello.java"
  for i in $(seq "$processes"); do
    "$JAVA_HOME/bin/java" "$@" -cp "$work" Hello >"$work/$i.out" 2>&1 &
    pids+=("$!")
  done
  for i in $(seq "$processes"); do
    for _ in $(seq 2400); do [ -s "$work/$i.out" ] && break; sleep 0.05; done
  done
  sleep "$settle"
  memory_line "${pids[@]}"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}

echo "bench: $processes idle processes side by side, memory per process after ${settle} s idle, $(nproc) host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
builds=("$top")
if [ -n "${VESSEL_BENCH_BASE:-}" ]; then
  IFS=: read -r -a bases <<<"$VESSEL_BENCH_BASE"
  for base in "${bases[@]}"; do builds+=("$(cd "$base" && pwd)"); done
fi
for build in "${builds[@]}"; do
  label="$([ "$build" = "$top" ] && echo this || echo "base $build")"
  # the cache, as ./vessel would build it on a first run (where KVM works; it trains by booting a guest)
  if [ ! -f "$build/target/vessel.aot" ] || [ "$build/target/vessel.aot" -ot "$build/target/vessel.jar" ]; then
    kvm_usable && "$build/scripts/aot-cache.sh" --quiet || true
  fi
  echo "[$label] idle API process, no AOT cache: $(idle_api_processes "$build" 0)"
  if [ -f "$build/target/vessel.aot" ] && [ "$build/target/vessel.aot" -nt "$build/target/vessel.jar" ]; then
    echo "[$label] idle API process, AOT cache:    $(idle_api_processes "$build" 1)"
  fi
done
echo "[floor] hello-world JVM, ./vessel's JVM options: $(hello_processes "${JVM_OPTIONS[@]}")"
echo "[floor] hello-world JVM, -XX:+UseSerialGC only: $(hello_processes -XX:+UseSerialGC)"
echo "[Firecracker] published: under 5 MiB of VMM overhead per microVM (its specification), a native process"
