#!/usr/bin/env bash
# Snapshot benchmark: snapshot create time and size (full and diff) and restore time, Vessel (Firecracker's
# API: PUT /snapshot/create, then PUT /snapshot/load in a new process) side by side with QEMU (-M pc, KVM;
# QMP "stop" + "migrate" to a file, then a new process with -incoming from that file) on the same default
# guest (Debian's kernel and the project's initramfs, no devices beyond the console) in one run, for each
# guest memory size given.
#
#   bench/snapshot/run.sh [SIZES]        (default "128 1024", MiB)
#
# Each guest boots to its shell and first fills FILL_MIB (default 32) MiB of its page cache with random data,
# so memory files carry more than zero pages. "restore" is from the new process's start to the guest's shell
# answering a command typed on its console; for Vessel also the PUT /snapshot/load request alone. Sizes:
# the file's length and the blocks it takes on disk (both VMMs leave zero pages out their own way).
# On a host without a usable /dev/kvm (or one that emulates guest code) it re-runs itself in the nested-KVM VM.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
sizes="${1:-128 1024}"
fill_mib="${FILL_MIB:-32}"
timeout_s="${SNAPSHOT_TIMEOUT:-600}"

bench_in_kvm $((timeout_s * 8 + 600)) "FILL_MIB=$fill_mib SNAPSHOT_TIMEOUT=$timeout_s" "$here/run.sh" "$sizes"

work="$(mktemp -d "${TMPDIR:-/tmp}/vessel-snapbench.XXXXXX")"
pids=()
cleanup() { for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done; exec 3>&- 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cmdline="$(cat "$image/cmdline")"
jar="$top/target/vessel.jar"

now_ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) / 1e6 }'; }
size_of() { printf '%d MiB long, %d MiB on disk' $(( $(stat -c %s "$1") >> 20 )) $(( $(du -k "$1" | cut -f1) >> 10 )); }
die() { echo "bench: $*" >&2; exit 1; }

# The guest's console: stdin from a FIFO held open on fd 3, output to $work/console.
open_console() {
  rm -f "$work/in"; mkfifo "$work/in"; : > "$work/console"
}
type_line() { printf '%s\n' "$1" >&3; }
# await TEXT: waits until TEXT is on the console (or the VMM ends, or the timeout).
await() {
  local deadline=$(( $(date +%s) + timeout_s ))
  while ! grep -aq -- "$1" "$work/console"; do
    kill -0 "$vmm" 2>/dev/null || die "the VMM ended before '$1': $(tail -c 400 "$work/console")"
    [ "$(date +%s)" -lt "$deadline" ] || die "no '$1' within ${timeout_s}s: $(tail -c 400 "$work/console")"
    sleep 0.02
  done
}
# answer ROUND: types a command until the restored guest's shell answers it (input sent while an incoming
# VM is not yet running may be dropped), so the time includes the first answer only.
answer() {
  local deadline=$(( $(date +%s) + timeout_s ))
  while :; do
    type_line "echo restored-$1-\$((40+2))"
    for _ in $(seq 100); do
      grep -aq -- "restored-$1-42" "$work/console" && return
      kill -0 "$vmm" 2>/dev/null || die "the VMM ended before its shell answered: $(tail -c 400 "$work/console")"
      sleep 0.01
    done
    [ "$(date +%s)" -lt "$deadline" ] || die "the restored shell did not answer within ${timeout_s}s"
  done
}
stop_vmm() { kill "$vmm" 2>/dev/null || true; wait "$vmm" 2>/dev/null || true; exec 3>&-; }
# The guest fills its page cache, so the memory is not all zero pages.
fill_guest() {
  type_line "dd if=/dev/urandom of=/tmp/fill bs=1M count=$fill_mib 2>/dev/null; echo filled-\$((40+2))"
  await "filled-42"
}

api() { # METHOD PATH BODY: fails on a non-2xx answer
  local code
  code=$(curl -s -o "$work/api.out" -w '%{http_code}' --unix-socket "$work/api.sock" -X "$1" "http://localhost$2" \
    -H 'Content-Type: application/json' -d "$3")
  case "$code" in 2*) ;; *) die "$1 $2 answered $code: $(cat "$work/api.out")" ;; esac
}
start_vessel() {
  rm -f "$work/api.sock"
  open_console
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$jar" --api-sock "$work/api.sock" < "$work/in" > "$work/console" 2>&1 &
  vmm=$!; pids+=("$vmm")
  exec 3> "$work/in"
  for _ in $(seq 6000); do
    curl -s -o /dev/null --unix-socket "$work/api.sock" http://localhost/ 2>/dev/null && return
    kill -0 "$vmm" 2>/dev/null || die "vessel ended: $(cat "$work/console")"
    sleep 0.01
  done
  die "vessel's API socket did not answer"
}

vessel_round() {
  local mib="$1" t0 t1 t2 d="$work/vessel-$1"
  mkdir -p "$d"
  start_vessel
  api PUT /boot-source "{\"kernel_image_path\": \"$image/vmlinuz\", \"initrd_path\": \"$image/initramfs.cpio.gz\", \"boot_args\": \"$cmdline\"}"
  api PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $mib, \"track_dirty_pages\": true}"
  api PUT /actions '{"action_type": "InstanceStart"}'
  await "VESSEL-INIT: shell ready"
  sleep 1
  fill_guest
  api PATCH /vm '{"state": "Paused"}'
  t0=$(now_ns)
  api PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$d/full.state\", \"mem_file_path\": \"$d/full.mem\"}"
  t1=$(now_ns)
  echo "vessel ${mib} MiB: full snapshot $(ms "$t0" "$t1") ms, memory $(size_of "$d/full.mem"), state $(stat -c %s "$d/full.state") B"
  api PATCH /vm '{"state": "Resumed"}'
  type_line "echo small-change > /tmp/small; echo changed-\$((40+2))"
  await "changed-42"
  api PATCH /vm '{"state": "Paused"}'
  t0=$(now_ns)
  api PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$d/diff.state\", \"mem_file_path\": \"$d/diff.mem\"}"
  t1=$(now_ns)
  echo "vessel ${mib} MiB: diff snapshot $(ms "$t0" "$t1") ms, memory $(size_of "$d/diff.mem") ($(( $(du -k "$d/diff.mem" | cut -f1) )) KiB on disk)"
  stop_vmm
  for round in 1 2; do
    t0=$(now_ns)
    start_vessel
    t1=$(now_ns)
    api PUT /snapshot/load "{\"snapshot_path\": \"$d/full.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/full.mem\"}, \"resume_vm\": true}"
    t2=$(now_ns)
    answer "$round"
    echo "vessel ${mib} MiB: restore $round: PUT /snapshot/load $(ms "$t1" "$t2") ms; process start to the shell answering $(ms "$t0" "$(now_ns)") ms"
    stop_vmm
  done
}

qmp() { # COMMAND [ARGUMENTS-JSON]: one QMP command on $work/qmp.sock, prints its reply
  python3 - "$work/qmp.sock" "$1" "${2:-{\}}" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m: return m
reply()
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush(); reply()
f.write(json.dumps({"execute": sys.argv[2], "arguments": json.loads(sys.argv[3])}) + "\n"); f.flush()
r = reply()
if "error" in r: sys.exit("qmp %s: %s" % (sys.argv[2], r["error"]))
print(json.dumps(r.get("return")))
PY
}
start_qemu() {
  local mib="$1"; shift
  rm -f "$work/qmp.sock"
  open_console
  qemu-system-x86_64 -M pc -enable-kvm -cpu host -m "$mib" -smp 1 -nodefaults -no-user-config -display none \
    -serial stdio -kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" -append "$cmdline" \
    -qmp "unix:$work/qmp.sock,server=on,wait=off" "$@" < "$work/in" > "$work/console" 2>&1 &
  vmm=$!; pids+=("$vmm")
  exec 3> "$work/in"
}
qemu_round() {
  local mib="$1" t0 t1 d="$work/qemu-$1"
  mkdir -p "$d"
  start_qemu "$mib"
  await "VESSEL-INIT: shell ready"
  sleep 1
  fill_guest
  for _ in $(seq 500); do [ -S "$work/qmp.sock" ] && break; sleep 0.01; done
  qmp stop > /dev/null
  t0=$(now_ns)
  qmp migrate "{\"uri\": \"exec:cat > $d/vm.mig\"}" > /dev/null
  while :; do
    status=$(qmp query-migrate | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status", "none"))')
    case "$status" in completed) break ;; failed|cancelled) die "qemu migrate $status" ;; esac
    sleep 0.01
  done
  t1=$(now_ns)
  echo "qemu ${mib} MiB: migrate to a file (stopped VM) $(ms "$t0" "$t1") ms, $(size_of "$d/vm.mig"); no diff snapshot in QEMU"
  stop_vmm
  for round in 1 2; do
    t0=$(now_ns)
    start_qemu "$mib" -incoming "exec:cat $d/vm.mig"
    for _ in $(seq 6000); do [ -S "$work/qmp.sock" ] && break; sleep 0.01; done
    # The source was stopped before it migrated, and QEMU keeps that run state on the destination: once
    # the incoming migration is in, the VM waits for "cont".
    while :; do
      status=$(qmp query-status | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
      case "$status" in inmigrate) sleep 0.01 ;; running) break ;; *) qmp cont > /dev/null; break ;; esac
    done
    answer "$round"
    echo "qemu ${mib} MiB: restore $round (-incoming): process start to the shell answering $(ms "$t0" "$(now_ns)") ms"
    stop_vmm
  done
}

echo "bench: snapshots of the default guest, sizes ${sizes} MiB, ${fill_mib} MiB of page cache filled, $(nproc) host CPUs, kernel $(sed -n 's/^kernel_package=//p' "$image/VERSION" 2>/dev/null)"
for mib in $sizes; do
  vessel_round "$mib"
  if command -v qemu-system-x86_64 >/dev/null; then qemu_round "$mib"; else echo "qemu: not installed (apt-get install qemu-system-x86)"; fi
done
