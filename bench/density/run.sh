#!/usr/bin/env bash
# Density. First, memory per Vessel process: VESSEL_BENCH_PROCESSES (default 10) idle API processes side
# by side beside hello-world JVMs, private memory and PSS (bench/density/processes.sh; VESSEL_BENCH_BASE=DIR
# measures a baseline checkout in the same run). Then N small VMs (guests/idle.S, MIB of guest RAM each)
# in one JVM through the Java API, and the resident memory each costs beyond its guest RAM, from
# /proc/self/smaps (Firecracker publishes < 5 MiB of overhead per microVM). The JVM runs with ./vessel's
# options (scripts/jvm-options.sh).
#
#   bench/density/run.sh [N] [MIB]        (default 50 VMs of 32 MiB)
#
# The VMs need /dev/kvm here (the tiny guest runs on any KVM, kvm_pvm included); no nested fallback, since the
# figures are this host's process memory. The processes need no KVM (their AOT cache does, to be trained).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
count="${1:-50}"
mib="${2:-32}"
make -s -C "$top/guests" O="$top/target/guests"
(cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
. "$here/processes.sh"
if ! kvm_usable; then
  echo "bench: no usable /dev/kvm here: VMs in one JVM not measured"
  exit 0
fi
echo "bench: density, $count VMs of $mib MiB, $(nproc) host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: JVM options: ${JVM_OPTIONS[*]}"
exec "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -cp "$top/target/classes:$top/target/lib/*" \
  "$here/Density.java" "$top/target/guests/idle.bin" "$count" "$mib"
