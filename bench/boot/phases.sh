#!/usr/bin/env bash
# Boot phases of the default guest under Vessel, before and after the boot-time work of issue 4:
#   before: the kernel's own decompressor (--kernel-decompress guest) and a plain "console=ttyS0" command
#           line (every kernel message on the serial console);
#   after:  host decompression and the image's lean command line (quiet, no watchdog, ...).
# For each it prints, from the host's clock: process start -> first vCPU entry (Vessel's log), -> first
# console byte, -> "Linux version", -> "Run /init" (only where the kernel prints it), -> /init's marker,
# -> power-off (the checks done); and the lean command line with the guest's decompressor, which
# isolates the decompression choice. One run each; nested-KVM figures on a host without /dev/kvm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"

bench_in_kvm 3600 "" "$here/phases.sh"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Runs Vessel, stamping each output line with milliseconds since the start; prints the phase table.
phases() {
  local label="$1" decompress="$2" cmdline="$3" start
  start=$(date +%s%N)
  "$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" \
    -jar "$top/target/vessel.jar" run --kernel "$image/vmlinuz" --initrd "$image/initramfs.cpio.gz" --memory 512M \
    --cpus 1 --kernel-decompress "$decompress" --cmdline "$cmdline vessel.check" --log-level info 2>&1 |
    while IFS= read -r line; do printf '%d %s\n' $(( ($(date +%s%N) - start) / 1000000 )) "$line"; done > "$out/$label"
  awk -v label="$label" '
    function at(name, ms) { if (!(name in t)) { t[name] = ms; order[++n] = name } }
    /starting vCPUs [0-9]+ ms after process start/ { s = $0; sub(/.*starting vCPUs /, "", s); sub(/ ms after.*/, "", s)
      at("first vCPU entry (process clock)", s + 0) }
    $2 != "vessel:" && NF > 1 && !seen++ { at("first console byte", $1) }
    /kernel decompressed on the host in/ { s = $0; sub(/.* in /, "", s); sub(/ ms.*/, "", s); dec = s }
    /Linux version/ { at("\"Linux version\"", $1) }
    /Run \/init/ { at("\"Run /init\"", $1) }
    /VESSEL-INIT: started/ { at("/init marker", $1) }
    /VESSEL-CHECK modules/ { at("checks done", $1) }
    END { printf "%s:\n", label; for (i = 1; i <= n; i++) printf "  %-34s %7.1f s\n", order[i], t[order[i]] / 1000.0
          printf "  %-34s %7.1f s\n", "process end", last / 1000.0
          if (dec != "") printf "  (host decompression itself: %.2f s)\n", dec / 1000.0 }
    { last = $1 }' "$out/$label"
}

echo "bench: boot phases of the default guest, 1 vCPU, 512 MiB; seconds from process start"
phases before guest "console=ttyS0"
phases after host "$(cat "$image/cmdline")"
# The decompression choice alone, on the lean command line.
phases after-but-guest-decompression guest "$(cat "$image/cmdline")"
