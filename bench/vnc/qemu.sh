#!/usr/bin/env bash
# Vessel's VNC server against QEMU's, in front of the same guest, in one run:
#   bench/vnc/qemu.sh [SECONDS per case, default 10]
# The guest is guests/multiboot/fbpaint.c: a multiboot kernel that sets a bochs-display adapter (PCI
# 1234:1111, which both VMMs offer) to 1024x768x32 and repaints the whole screen or one line each time a
# byte comes on its serial console. One scripted RFB client (bench/vnc/GuestRate.java) measures both
# servers: bytes of the update, the server's latency from request to update, changes per second end to end,
# Raw and ZRLE. Vessel runs on this host's KVM (`vessel run`); QEMU with TCG (-accel tcg; this host's KVM
# does not run QEMU's guests), -M pc, its VNC server on 127.0.0.1. Guest paint times differ with the
# engine that runs the guest and are printed apart: compare bytes and update latency across servers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
(cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
make -s -C "$top/guests" O="$top/target/guests" "$top/target/guests/fbpaint.elf"
command -v qemu-system-x86_64 >/dev/null || { echo "bench/vnc/qemu.sh: needs qemu-system-x86 (apt-get install)" >&2; exit 1; }
guest="$top/target/guests/fbpaint.elf"
echo "host: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1)"
"$JAVA_HOME/bin/java" "$here/GuestRate.java" "${1:-10}" \
  vessel "$top/vessel" run --quiet --kernel "$guest" --display-adapter bochs --memory 64M --vnc '127.0.0.1:{PORT}' \
  --next qemu qemu-system-x86_64 -M pc -accel tcg -m 64 -nodefaults -device bochs-display -serial stdio \
    -display none -vnc '127.0.0.1:{DISPLAY}' -kernel "$guest"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
