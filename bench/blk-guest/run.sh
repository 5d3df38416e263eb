#!/usr/bin/env bash
# In-guest virtio-blk throughput by disk format: the default guest runs busybox dd with O_DIRECT, 1 MiB
# blocks, against three scratch disks, under Vessel and under QEMU (-M pc, KVM, virtio-blk-pci,
# cache=writeback) in the same run, same kernel, initramfs and disk size; each VMM gets fresh disks:
#   raw               a sparse raw file (truncate)
#   qcow2             an empty qcow2 (qemu-img create -f qcow2: v3, 64 KiB clusters)
#   qcow2 over qcow2  an empty qcow2 overlay (qemu-img create -b) over a qcow2 base full of random data,
#                     shared by both VMMs and opened read-only by them
# On each disk, in this order, each figure in MB/s (and seconds) over the first MIB MiB:
#   first read  sequential reads of the disk as made: holes, unallocated clusters, or the base's data
#   write       sequential writes of zeros, then one fsync (every qcow2 cluster is allocated here)
#   read        sequential reads of what was just written
# then, untimed, a 4 MiB random pattern is written at MIB MiB + 4 KiB through the guest's page cache, so
# the first and last clusters it touches are partial (a qcow2 copies the rest from the base). After the
# guest powers off the host checks every disk against the image it must now be (qemu-img compare: base or
# zeros, zeros over the first MIB MiB, the pattern) and each qcow2 with qemu-img check; a line ends with
# "data ok", plus "check clean" for a qcow2, or says what differs.
#
#   bench/blk-guest/run.sh [MIB]      (default 64 MiB each way)
#
# On a host without /dev/kvm it re-runs itself inside scripts/nested-kvm.sh (as bench/boot does): the
# figures are then those of KVM nested under QEMU's software emulation, useful side by side only; the disks
# are then in the nested VM's /tmp, a tmpfs, where an fsync costs nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
mib="${1:-64}"
timeout_s="${BENCH_TIMEOUT:-900}"

bench_in_kvm $((timeout_s * 3 + 600)) "BENCH_TIMEOUT=$timeout_s" "$here/run.sh" "$mib"

command -v qemu-img >/dev/null || { echo "bench: qemu-img is needed (apt-get install qemu-utils)"; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Each disk is named by its kind, which is also the drive's serial (virtio-blk GET_ID): the guest reads
# it from /sys/block/vdX/serial, so the order the VMM puts the drives in does not matter.
kinds=(raw qcow2 overlay)
declare -A label=([raw]="raw" [qcow2]="qcow2" [overlay]="qcow2 over qcow2")
disk_bytes=$(( (mib + 8) << 20 ))
pattern_offset=$(( (mib << 20) + 4096 ))

head -c 4M /dev/urandom > "$out/pattern"
head -c "$disk_bytes" /dev/urandom > "$out/base.raw"
qemu-img convert -q -f raw -O qcow2 "$out/base.raw" "$out/base.qcow2"

# The benchmark script joins the default initramfs as one more archive; /init sources it with its checks.
mkdir -p "$out/root/etc/vessel-checks.d"
cp "$out/pattern" "$out/root/pattern"
cat > "$out/root/etc/vessel-checks.d/90-dd.sh" <<SCRIPT
up() { read -r t _ </proc/uptime; echo "\$t"; }
for sys in /sys/block/vd*; do
  dev=/dev/\${sys##*/}
  a=\$(up); dd if=\$dev of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null
  b=\$(up); dd if=/dev/zero of=\$dev bs=1M count=$mib oflag=direct conv=fsync 2>/dev/null
  c=\$(up); dd if=\$dev of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null
  d=\$(up)
  dd if=/pattern of=\$dev bs=4096 seek=$((pattern_offset / 4096)) conv=fsync 2>/dev/null
  echo "VESSEL-BENCH \$(cat \$sys/serial) \$a \$b \$c \$d"
done
SCRIPT
bench_initrd "$out/root" "$out/initrd"
cmdline="$(cat "$image/cmdline") vessel.check"

# make_disk KIND: a fresh disk of that kind at $out/KIND.
make_disk() {
  case "$1" in
    raw) rm -f "$out/raw"; truncate -s "$disk_bytes" "$out/raw" ;;
    qcow2) qemu-img create -q -f qcow2 "$out/qcow2" "$disk_bytes" ;;
    overlay) qemu-img create -q -f qcow2 -b "$out/base.qcow2" -F qcow2 "$out/overlay" ;;
  esac
}

disk_format() { [ "$1" = raw ] && echo raw || echo qcow2; }

# vessel_command, qemu_command: set cmd to the VMM's command line with the disks of every kind.
vessel_command() {
  cmd=("$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$top/target/vessel.jar" run --kernel "$image/vmlinuz"
    --initrd "$out/initrd" --memory 512M --cpus 1 --cmdline "$cmdline")
  for kind in "${kinds[@]}"; do
    cmd+=(--drive "path=$out/$kind,id=$kind,format=$(disk_format "$kind")")
  done
}

qemu_command() {
  cmd=(qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -display none
    -serial stdio -no-reboot -kernel "$image/vmlinuz" -initrd "$out/initrd" -append "$cmdline")
  for kind in "${kinds[@]}"; do
    cmd+=(-drive "file=$out/$kind,if=none,id=$kind,format=$(disk_format "$kind"),cache=writeback"
      -device "virtio-blk-pci,drive=$kind,serial=$kind")
  done
}

# verify_disk KIND: "data ok" if the disk holds what the guest wrote over what it started with, and for a
# qcow2 whether qemu-img check finds it clean.
verify_disk() {
  local kind="$1" expected="$out/expected" verdict
  if [ "$kind" = overlay ]; then cp "$out/base.raw" "$expected"; else rm -f "$expected"; truncate -s "$disk_bytes" "$expected"; fi
  dd if=/dev/zero of="$expected" bs=1M count="$mib" conv=notrunc status=none
  dd if="$out/pattern" of="$expected" bs=4096 seek=$((pattern_offset / 4096)) conv=notrunc status=none
  if qemu-img compare -q -f raw -F "$(disk_format "$kind")" "$expected" "$out/$kind"; then
    verdict="data ok"
  else
    verdict="DATA DIFFERS ($(qemu-img compare -f raw -F "$(disk_format "$kind")" "$expected" "$out/$kind" 2>&1 | head -1))"
  fi
  rm -f "$expected"
  if [ "$kind" != raw ]; then
    if qemu-img check -q "$out/$kind" > "$out/check" 2>&1; then
      verdict="$verdict, check clean"
    else
      verdict="$verdict, QEMU-IMG CHECK: $(tr '\n' ' ' < "$out/check" | cut -c1-200)"
    fi
  fi
  echo "$verdict"
}

# measure NAME: boots the VMM NAME (vessel or qemu) once over fresh disks of every kind until the guest
# powers off or the timeout; prints one line of figures per disk.
measure() {
  local name="$1" log="$out/console" kind
  for kind in "${kinds[@]}"; do make_disk "$kind"; done
  "${name}_command"
  timeout "$timeout_s" "${cmd[@]}" > "$log" 2>&1 < /dev/null || true
  for kind in "${kinds[@]}"; do
    printf '%-11s %-17s ' "$name:" "${label[$kind]}:"
    if grep -q "^VESSEL-BENCH $kind " "$log"; then
      awk -v kind="$kind" -v mib="$mib" '
        function rate(s) { return sprintf("%.1f MB/s (%.2f s)", mib * 1.048576 / s, s) }
        $1 == "VESSEL-BENCH" && $2 == kind {
          printf "write %s, read %s, first read %s; ", rate($5 - $4), rate($6 - $5), rate($4 - $3) }' "$log"
      verify_disk "$kind"
    else
      echo "no result"
    fi
  done
  grep -q VESSEL-BENCH "$log" || tail -5 "$log"
}

echo "bench: in-guest dd, $mib MiB each way, O_DIRECT, 1 MiB blocks, raw and qcow2 disks; $(nproc) host CPUs"
measure vessel
if command -v qemu-system-x86_64 >/dev/null; then
  measure qemu
else
  echo "qemu: not installed (apt-get install qemu-system-x86)"
fi
if ! qemu-img compare -q -f raw -F qcow2 "$out/base.raw" "$out/base.qcow2"; then
  echo "bench: THE SHARED BASE CHANGED"
fi
