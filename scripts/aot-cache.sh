#!/usr/bin/env bash
# Builds target/vessel.aot, a JDK 25 AOT cache (JEP 483/514) for target/vessel.jar: classes loaded and
# linked ahead of time, so that a Vessel process gets to its API socket (and its guest) sooner.
# ./vessel uses the cache when it is newer than the jar.
#
#   scripts/aot-cache.sh [--quiet]
#
# The training run is the API path: a vessel process serving its socket, driven by curl through a
# configuration and an InstanceStart. Where KVM works, that boots guests/multiboot/waiter.c, so the
# KVM bindings (FFM downcalls: the largest part of a cold start under emulation), the vCPU loop and the
# devices are trained too, and Ctrl-Alt-Del ends it; elsewhere the start fails (the "kernel" is the jar
# itself) and SIGTERM ends it. On a host without /dev/kvm but with QEMU the cache is made inside the
# nested-KVM VM, where `./vessel run` runs there. The JVM options must be those ./vessel runs with
# (JVM_OPTIONS below), or the JVM ignores the cache.
# The training runs with the seccomp filters on, as users run Vessel, so that what building and installing
# them loads is in the cache too. Hence two steps (JEP 483's record, then create) rather than
# -XX:AOTCacheOutput: with that, the training JVM starts a child JVM at exit to write the cache, and the
# filters (rightly) kill a process that starts programs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quiet=false
[ "${1:-}" = --quiet ] && quiet=true
say() { $quiet || echo "aot-cache: $*" >&2; }
. "$here/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
export JAVA_HOME
. "$here/scripts/jvm-options.sh"
jar="$here/target/vessel.jar"
out="$here/target/vessel.aot"
[ -f "$jar" ] || { echo "aot-cache: $jar missing (mvn -DskipTests package)" >&2; exit 1; }
. "$here/scripts/kvm-usable.sh"
kvm=false
kvm_usable && kvm=true
if ! $kvm && [ -z "${VESSEL_AOT_INNER:-}" ] && [ "${VESSEL_NESTED_KVM:-1}" != 0 ] && command -v qemu-system-x86_64 >/dev/null; then
  say "no usable /dev/kvm here: training inside the nested-KVM VM, where ./vessel run runs"
  exec env TCG_RW_DIRS="$here" TCG_TIMEOUT=1800 TCG_ENV="VESSEL_AOT_INNER=1" "$here/scripts/nested-kvm.sh" "$0" "$@"
fi
kernel="$jar"
if $kvm; then
  make -s -C "$here/guests" O="$here/target/guests"
  kernel="$here/target/guests/waiter.elf"
fi
command -v curl >/dev/null || { echo "aot-cache: curl is needed for the training run (apt-get install curl)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sock="$work/api.sock"
rm -f "$out" "$out.tmp"
"$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -XX:AOTMode=record -XX:AOTConfiguration="$work/vessel.aotconf" \
  -jar "$jar" --api-sock "$sock" --level info >"$work/console" 2>"$work/log" &
pid=$!
call() { curl -s -o /dev/null --unix-socket "$sock" "$@" || true; }
for _ in $(seq 600); do
  curl -s -o /dev/null --unix-socket "$sock" http://localhost/ 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/console" "$work/log" >&2; echo "aot-cache: training run ended early" >&2; exit 1; }
  sleep 0.05
done
for _ in 1 2 3; do
  call http://localhost/
  call http://localhost/machine-config
  call -X PUT http://localhost/machine-config -d '{"vcpu_count": 1, "mem_size_mib": 64}'
  call -X PATCH http://localhost/machine-config -d '{"mem_size_mib": 32}'
  call -X PUT http://localhost/machine-config -d '{"vcpu_count": "x"}'
  call -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"console=ttyS0\"}"
  call -X PUT http://localhost/drives/rootfs -d "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$jar\", \"is_root_device\": true, \"is_read_only\": true}"
  call -X PUT http://localhost/logger -d '{"level": "Info"}'
  call -X PATCH http://localhost/vm -d '{"state": "Paused"}'
  call http://localhost/vm/config
  call http://localhost/nothing
done
call -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
if $kvm; then
  for _ in $(seq 1200); do grep -q "waiter ready" "$work/console" && break; sleep 0.05; done
  grep -q "waiter ready" "$work/console" || say "the training guest did not come up; the cache covers less"
  call http://localhost/
  call -X PUT http://localhost/actions -d '{"action_type": "SendCtrlAltDel"}'
  for _ in $(seq 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
fi
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true  # 0 after Ctrl-Alt-Del, 143 after SIGTERM; the JVM writes its record on its way out
[ -s "$work/vessel.aotconf" ] || { cat "$work/log" >&2; echo "aot-cache: the training run recorded nothing" >&2; exit 1; }
"$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -XX:AOTMode=create -XX:AOTConfiguration="$work/vessel.aotconf" \
  -XX:AOTCache="$out.tmp" -jar "$jar" >"$work/create" 2>&1 || true
[ -s "$out.tmp" ] || { cat "$work/log" "$work/create" >&2; echo "aot-cache: no cache written" >&2; exit 1; }
mv "$out.tmp" "$out"
say "wrote $out ($(du -h "$out" | cut -f1))"
