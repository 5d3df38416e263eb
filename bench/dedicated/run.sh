#!/usr/bin/env bash
# Dedicated resources (issue 15 item 6): what huge pages and KSM do for guest RAM, each beside its
# baseline (plain 4 KiB pages; the same VMs without MADV_MERGEABLE) in one run, on guests/fill.S (it
# touches every page of its RAM once, the same contents in every VM of a size).
#
#   bench/dedicated/run.sh [HUGE_MIB] [KSM_VMS] [KSM_MIB]      (default 512, 8, 64)
#
# Huge pages: one VM of HUGE_MIB per backing, the guest's time to touch all of its RAM and the huge pages
# that back it after. For `2M` the script reserves HUGE_MIB/2 hugetlbfs pages for the run and gives them
# back (root). KSM: KSM_VMS VMs of KSM_MIB at once, without and with --ksm's madvise; ksmd is started
# for the run (run=1, 4096 pages per 20 ms wake-up) and its settings put back afterwards (root).
# Tiny guests run natively on any /dev/kvm, the kvm_pvm kind included. CPU affinity has no figure here:
# bench/exits on a pinned vCPU is the place for it, on a host with CPUs to spare.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
huge_mib="${1:-512}"
ksm_vms="${2:-8}"
ksm_mib="${3:-64}"
make -s -C "$top/guests" O="$top/target/guests"
(cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
if ! kvm_usable; then
  echo "bench: no usable /dev/kvm here: dedicated resources not measured"
  exit 0
fi

ksm=/sys/kernel/mm/ksm
hp=/proc/sys/vm/nr_hugepages
saved_hp="$(cat "$hp" 2>/dev/null || echo)"
saved_ksm=()
for f in run pages_to_scan sleep_millisecs; do saved_ksm+=("$(cat "$ksm/$f" 2>/dev/null || echo)"); done
restore() {
  [ -n "$saved_hp" ] && echo "$saved_hp" > "$hp" 2>/dev/null || true
  local i=0
  for f in run pages_to_scan sleep_millisecs; do
    [ -n "${saved_ksm[$i]}" ] && echo "${saved_ksm[$i]}" > "$ksm/$f" 2>/dev/null || true
    i=$((i + 1))
  done
}
trap restore EXIT

run_java() {
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -cp "$top/target/classes:$top/target/lib/*" \
    "$here/Dedicated.java" "$top/target/guests/fill.bin" "$@"
}

echo "bench: dedicated resources, $(nproc) host CPUs, host KVM: $(host_kvm | cut -d: -f1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo n/a)"
if [ -n "$saved_hp" ]; then
  echo $(( saved_hp + huge_mib / 2 )) > "$hp" 2>/dev/null || true
  echo "bench: hugetlbfs 2 MiB pages reserved: $(cat "$hp") (was $saved_hp)"
fi
for round in 1 2; do
  run_java huge "$huge_mib" | sed "s/^/round $round: /"
done
restore

if [ -w "$ksm/run" ]; then
  echo 4096 > "$ksm/pages_to_scan"
  echo 20 > "$ksm/sleep_millisecs"
  echo 1 > "$ksm/run"
  run_java ksm "$ksm_vms" "$ksm_mib"
else
  echo "bench: $ksm/run is not writable here (root needed): KSM not measured"
fi
