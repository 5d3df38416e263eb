# Sourced (bash), after kvm-usable.sh: host_kvm prints one line, "KIND: why",
# KIND being what this host's KVM gives guests, measured by `vessel host` (vessel.vmm.GuestSpeed):
#   fast      guest code runs on the CPU (or, in the nested-KVM VM, is translated fast enough);
#   emulated  guest code runs in KVM's instruction emulator (kvm_pvm on a host that is itself a PVM
#             guest): tiny guests run, a stock Linux boot takes many minutes;
#   none      no usable /dev/kvm.
# The answer holds until the host reboots, so it is kept in .cache/host-kvm with the boot's id.
host_kvm() {
  local project cache boot line
  project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if ! kvm_usable; then
    echo "none: no usable /dev/kvm"
    return 0
  fi
  cache="$project/.cache/host-kvm"
  boot="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
  if [ -f "$cache" ] && [ "$(head -1 "$cache")" = "$boot" ]; then
    sed -n 2p "$cache"
    return 0
  fi
  # Through the launcher, which builds Vessel first if needed (its messages go to stderr).
  line="$("$project/vessel" host)" || line=""
  case "$line" in
    fast:*|emulated:*|none:*) ;;
    *) echo "fast: the guest speed probe gave no answer; assuming guest code runs on the CPU"; return 0 ;;
  esac
  mkdir -p "$project/.cache"
  printf '%s\n%s\n' "$boot" "$line" > "$cache.tmp" && mv "$cache.tmp" "$cache"
  echo "$line"
}
