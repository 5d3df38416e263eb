#!/usr/bin/env bash
# In-guest virtio-net figures over a TAP: host-to-guest TCP (busybox wget of a file from busybox httpd),
# guest-to-host TCP (busybox nc into a host nc), and ICMP round trips per second (busybox ping -A, the
# next request as soon as the reply is in: two packets each), under Vessel and under QEMU (-M pc, KVM,
# virtio-net-pci on the same TAP) in the same run, same kernel and initramfs.
#
#   bench/net-guest/run.sh [MIB] [PINGS]      (default 32 MiB each way, 2000 pings)
#
# Runs in a network namespace of its own (unshare --net): the TAP and the servers never touch the
# host's network. Needs root (or CAP_SYS_ADMIN/CAP_NET_ADMIN), iproute2, busybox and python3. On a host without
# /dev/kvm it re-runs itself inside scripts/nested-kvm.sh, as the other KVM benchmarks do.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
mib="${1:-32}"
pings="${2:-2000}"
timeout_s="${BENCH_TIMEOUT:-900}"

bench_in_kvm $((timeout_s * 3 + 600)) "BENCH_TIMEOUT=$timeout_s" "$here/run.sh" "$mib" "$pings"
if [ -z "${VESSEL_BENCH_NETNS:-}" ]; then
  exec env VESSEL_BENCH_NETNS=1 unshare --net "$here/run.sh" "$mib" "$pings"
fi
bb="$(command -v busybox)" || { echo "bench: busybox is needed for the host-side web server" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is needed for the host-side sink" >&2; exit 1; }

out="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"' EXIT
ip link set lo up
ip tuntap add vtap0 mode tap
ip addr add 10.0.2.2/24 dev vtap0
ip link set vtap0 up
mkdir -p "$out/www"
head -c "$((mib << 20))" /dev/zero > "$out/www/big"
"$bb" httpd -f -p 10.0.2.2:8080 -h "$out/www" & pids+=($!)

mkdir -p "$out/root/etc/vessel-checks.d"
cat > "$out/root/etc/vessel-checks.d/90-net.sh" <<SCRIPT
up() { read -r t _ </proc/uptime; echo "\$t"; }
ip addr add 10.0.2.15/24 dev eth0; ip link set eth0 up
ping -c 3 -W 5 10.0.2.2 >/dev/null 2>&1
a=\$(up); wget -q -O /dev/null http://10.0.2.2:8080/big; b=\$(up)
dd if=/dev/zero bs=64k count=$((mib * 16)) 2>/dev/null | nc 10.0.2.2 9000; c=\$(up)
ping -A -q -c $pings 10.0.2.2 >/dev/null 2>&1; d=\$(up)
echo "VESSEL-BENCH rx \$a \$b tx \$b \$c ping \$c \$d"
SCRIPT
bench_initrd "$out/root" "$out/initrd"
cmdline="$(cat "$image/cmdline") vessel.check"
export top image out cmdline

measure() {
  local log="$out/console" sink
  # The guest-to-host sink: takes one connection's MIB MiB, then closes it (busybox nc on either side
  # waits for the other to close first).
  python3 -c 'import socket, sys
s = socket.create_server(("10.0.2.2", 9000)); c, _ = s.accept(); left = int(sys.argv[1])
while left > 0:
    n = len(c.recv(1 << 20))
    if n == 0: break
    left -= n
c.close()' "$((mib << 20))" & sink=$!
  # The function runs in a new bash: JVM_OPTIONS, an array, goes with it by declare -p (an exported
  # array does not reach a child: until 2026-12-04 Vessel ran here with the JVM's defaults).
  timeout "$timeout_s" bash -c "$(declare -p JVM_OPTIONS); $(declare -f "$1"); $1" > "$log" 2>&1 || true
  kill "$sink" 2>/dev/null || true
  awk -v mib="$mib" -v pings="$pings" '/VESSEL-BENCH/ { rx = $4 - $3; tx = $7 - $6; p = $10 - $9
      printf "host-to-guest %.1f MB/s, guest-to-host %.1f MB/s, %.0f ping round trips/s\n",
        mib * 1.048576 / rx, mib * 1.048576 / tx, pings / p; found = 1 }
    END { if (!found) print "no result" }' "$log"
  grep -q VESSEL-BENCH "$log" || tail -5 "$log"
}

vessel() {
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -jar "$top/target/vessel.jar" run --kernel "$image/vmlinuz" --initrd "$out/initrd" \
    --memory 512M --cpus 1 --cmdline "$cmdline" --net tap=vtap0,mac=52:54:00:12:34:56
}

qemu() {
  qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config -display none \
    -serial stdio -no-reboot -kernel "$image/vmlinuz" -initrd "$out/initrd" -append "$cmdline" \
    -netdev tap,id=n0,ifname=vtap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56
}

echo "bench: in-guest network over a TAP, $mib MiB each way, $pings pings; $(nproc) host CPUs"
echo "vessel: $(measure vessel)"
if command -v qemu-system-x86_64 >/dev/null; then
  echo "qemu -M pc: $(measure qemu)"
else
  echo "qemu: not installed (apt-get install qemu-system-x86)"
fi
