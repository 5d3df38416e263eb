#!/usr/bin/env bash
# API benchmark: (1) process start to the API socket answering GET / (no KVM needed), without and with
# the JVM's AOT cache (scripts/aot-cache.sh, JEP 483/514); (2) InstanceStart to the guest's first console
# byte, for waiter.elf (a tiny multiboot guest) and the default Linux guest, without and with the cache.
#
#   bench/api/run.sh [ROUNDS]        (default 10 for (1), ROUNDS/3 rounded up, at least 1, for (2))
#
# (2) needs KVM: on a host without /dev/kvm it runs inside scripts/nested-kvm.sh after (1), and its
# figures are then those of KVM nested under QEMU's software emulation (the JVM itself runs emulated there).
# Each figure: the median and the minimum over the rounds, in milliseconds, measured from outside the
# process (date +%s%N around a curl poll every 5 ms, so a figure carries up to ~10 ms of polling), with
# the process's CPU time (user + system, all its threads, JIT included) at that moment: on a loaded host
# the wall time is mostly waiting for a CPU. Then, once per mode: classes loaded before the first answer,
# the idle API process's resident and private memory, and (where KVM works here) process start to a flat guest's
# first console byte through `vessel run` (guests/idle.S). VESSEL_BENCH_BASE=DIR also measures the jar
# (and AOT cache) built in another checkout DIR, the baseline, in the same run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
rounds="${1:-10}"
kvm_rounds=$(( (rounds + 2) / 3 ))
jar="$top/target/vessel.jar"
aot="$top/target/vessel.aot"
work="$(mktemp -d)"
pids=()
trap 'for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) / 1e6 }'; }
# median and minimum of the numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %d ms, min %d ms (%d rounds)\n", m, v[1], NR }'; }

# Starts vessel (extra JVM options first, then --) in the background; sets $vpid, output in $work/out.
start_vessel() {
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  rm -f "$work/api.sock"
  : > "$work/out"
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" ${opts[@]+"${opts[@]}"} -jar "$jar" --api-sock "$work/api.sock" "$@" \
    > "$work/out" 2> "$work/err" &
  vpid=$!
  pids+=("$vpid")
}
answers() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$work/api.sock" http://localhost/ 2>/dev/null | grep -q 200; }
await_socket() {
  for _ in $(seq 12000); do
    answers && return 0
    kill -0 "$vpid" 2>/dev/null || { echo "bench: vessel ended: $(cat "$work/err")" >&2; return 1; }
    sleep 0.005
  done
  echo "bench: socket did not answer" >&2
  return 1
}
stop_vessel() { kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; }
api() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$work/api.sock" -X "$1" "http://localhost$2" -d "$3"; }

cpu_ms() { local st; read -r -a st < "/proc/$1/stat"; echo $(( (st[13] + st[14]) * 1000 / $(getconf CLK_TCK) )); }

startup_round() {
  local t0 t1 cpu
  t0=$(now_ns)
  start_vessel "$@" --
  await_socket
  t1=$(now_ns)
  cpu=$(cpu_ms "$vpid")
  stop_vessel
  echo "$(ms "$t0" "$t1") $cpu"
}

# Classes loaded by the first answer, and memory after 8 s idle (the JVM trims its native heap every 2 s
# and frees its compilers' arenas every 5 s): VmRSS, and its private dirty pages (smaps_rollup's
# Private_Dirty: what each further process adds; a lone process's clean file pages, such as the AOT
# cache's, count as private too but a second process shares them; bench/density runs several side by side).
footprint() {
  local classes rss private
  start_vessel "$@" -Xlog:class+load:file="$work/classes" --
  await_socket
  classes=$(wc -l < "$work/classes")
  sleep 8
  rss=$(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$vpid/status")
  private=$(awk '/^Private_Dirty/ { print int($2 / 1024) }' "/proc/$vpid/smaps_rollup")
  stop_vessel
  echo "$classes classes loaded by the first answer, idle RSS $rss MiB, private dirty $private MiB"
}

# Process start to the first console byte of guests/idle.S (a flat binary) through `vessel run`.
flat_round() {
  local t0 t1
  : > "$work/flat"
  t0=$(now_ns)
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" "$@" -jar "$jar" run --kernel "$top/target/guests/idle.bin" --entry real \
    --memory 32M --quiet > "$work/flat" 2>/dev/null &
  local fpid=$!
  pids+=("$fpid")
  for _ in $(seq 12000); do [ -s "$work/flat" ] && break; sleep 0.005; done
  t1=$(now_ns)
  kill "$fpid" 2>/dev/null || true
  wait "$fpid" 2>/dev/null || true
  ms "$t0" "$t1"
}

# InstanceStart of KERNEL (INITRD, BOOT_ARGS optional) to the first byte on the console.
first_byte_round() {
  local kernel="$1" initrd="$2" args="$3" t0 t1 boot
  shift 3
  start_vessel "$@" --
  await_socket
  api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}' >/dev/null
  boot="{\"kernel_image_path\": \"$kernel\""
  [ -n "$initrd" ] && boot="$boot, \"initrd_path\": \"$initrd\""
  [ -n "$args" ] && boot="$boot, \"boot_args\": \"$args\""
  api PUT /boot-source "$boot}" >/dev/null
  t0=$(now_ns)
  code=$(api PUT /actions '{"action_type": "InstanceStart"}')
  [ "$code" = 204 ] || { echo "bench: InstanceStart answered $code: $(cat "$work/err")" >&2; stop_vessel; return 1; }
  for _ in $(seq 120000); do
    [ -s "$work/out" ] && break
    sleep 0.005
  done
  t1=$(now_ns)
  stop_vessel
  ms "$t0" "$t1"
}

if [ -z "${VESSEL_BENCH_INNER:-}" ]; then
  (cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
  make -s -C "$top/guests" O="$top/target/guests"
  "$top/scripts/aot-cache.sh" --quiet
  echo "bench: API start-up, $rounds rounds, $(nproc) host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  builds=("$top")
  [ -n "${VESSEL_BENCH_BASE:-}" ] && builds+=("$VESSEL_BENCH_BASE")
  for build in "${builds[@]}"; do
    jar="$build/target/vessel.jar"
    aot="$build/target/vessel.aot"
    label="$([ "$build" = "$top" ] && echo this || echo "base $build")"
    for mode in plain aot; do
      opts=()
      [ "$mode" = aot ] && { [ -f "$aot" ] || continue; opts=(-XX:AOTCache="$aot"); }
      startup_round ${opts[@]+"${opts[@]}"} > /dev/null   # warm the page cache
      for _ in $(seq "$rounds"); do startup_round ${opts[@]+"${opts[@]}"}; done > "$work/$mode"
      echo "[$label] process start to GET / answered ($mode): $(cut -d' ' -f1 "$work/$mode" | stats); CPU $(cut -d' ' -f2 "$work/$mode" | stats | sed 's/ ([0-9]* rounds)//')"
      echo "[$label] ($mode): $(footprint ${opts[@]+"${opts[@]}"})"
      if kvm_usable; then
        for _ in $(seq "$rounds"); do flat_round ${opts[@]+"${opts[@]}"}; done > "$work/f-$mode"
        echo "[$label] process start to a flat guest's first console byte ($mode): $(stats < "$work/f-$mode")"
      fi
    done
  done
  # The baseline the issue names for start-up: Firecracker's SPECIFICATION.md (an i3.metal, a native process).
  echo "[Firecracker] published: the API socket available within 8 CPU ms of process start (wall 6-60 ms, typically 12)"
  jar="$top/target/vessel.jar"
  aot="$top/target/vessel.aot"
  if ! kvm_usable; then
    if [ "${VESSEL_NESTED_KVM:-1}" = 0 ] || ! command -v qemu-system-x86_64 >/dev/null; then
      echo "bench: no usable /dev/kvm and no nested KVM: InstanceStart figures not measured"
      exit 0
    fi
    "$top/scripts/image.sh" --quiet
    echo "bench: no usable /dev/kvm here; InstanceStart figures inside a nested-KVM VM (scripts/nested-kvm.sh)"
    exec env TCG_RW_DIRS="$top" TCG_TIMEOUT=3600 TCG_ENV="VESSEL_BENCH_INNER=1" \
      "$top/scripts/nested-kvm.sh" "$here/run.sh" "$rounds"
  fi
  "$top/scripts/image.sh" --quiet
fi

waiter="$top/target/guests/waiter.elf"
echo "bench: InstanceStart to first console byte, $kvm_rounds rounds$([ -n "${VESSEL_BENCH_INNER:-}" ] && echo ", nested KVM")"
for mode in plain aot; do
  opts=()
  [ "$mode" = aot ] && opts=(-XX:AOTCache="$aot")
  for _ in $(seq "$kvm_rounds"); do first_byte_round "$waiter" "" "" ${opts[@]+"${opts[@]}"}; done > "$work/w-$mode"
  echo "waiter.elf ($mode): $(stats < "$work/w-$mode")"
  if [ -f "$image/vmlinuz" ]; then
    for _ in $(seq "$kvm_rounds"); do
      first_byte_round "$image/vmlinuz" "$image/initramfs.cpio.gz" "$(cat "$image/cmdline")" ${opts[@]+"${opts[@]}"}
    done > "$work/l-$mode"
    echo "default Linux guest ($mode): $(stats < "$work/l-$mode")"
  fi
done
echo "[Firecracker] published: InstanceStart to the guest's /sbin/init within 125 ms (2 vCPUs, 256 MiB, its tuned kernel, i3.metal)"
