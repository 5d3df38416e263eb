# Sourced by the benchmarks (bash): sets top, JAVA_HOME (JDK 25, found as the project's scripts find it),
# image (the default guest's folder) and JVM_OPTIONS, and gives them bench_in_kvm.
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$top/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
export JAVA_HOME
image="${VESSEL_IMAGE_DIR:-$top/.cache/image}"
# JVM_OPTIONS: the options ./vessel runs with, so a benchmark measures what a user gets.
. "$top/scripts/jvm-options.sh"

. "$top/scripts/kvm-usable.sh"
. "$top/scripts/host-kvm.sh"

# bench_in_kvm TCG_SECONDS "NAME=VALUE ..." SCRIPT [ARGS...]
# On the first pass (VESSEL_BENCH_INNER unset) builds the default guest and vessel.jar. Then, on a host
# without a usable /dev/kvm, re-runs SCRIPT ARGS inside scripts/nested-kvm.sh with VESSEL_BENCH_INNER=1
# and the given variables, for at most TCG_SECONDS, and does not return: the figures are then those of
# KVM nested under QEMU's software emulation, comparable side by side only. Otherwise it returns and the
# benchmark runs here; VESSEL_BENCH_INNER is set from then on. A host whose KVM emulates guest code
# (kvm_pvm, scripts/host-kvm.sh) measures in the nested VM too, where Linux boots in a minute instead of
# many (bench/exits, which does not boot Linux, decides for itself).
bench_in_kvm() {
  local tcg_seconds="$1" inner_env="$2" script="$3"
  shift 3
  if [ -z "${VESSEL_BENCH_INNER:-}" ]; then
    "$top/scripts/image.sh" --quiet
    (cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
    local why=""
    if ! kvm_usable; then
      why="no usable /dev/kvm here"
    elif [ "$(host_kvm | cut -d: -f1)" = emulated ]; then
      why="this host's KVM emulates guest code"
    fi
    if [ -n "$why" ]; then
      echo "bench: $why; measuring inside a nested-KVM VM (scripts/nested-kvm.sh)"
      exec env TCG_RW_DIRS="$top" TCG_TIMEOUT="$tcg_seconds" TCG_ENV="VESSEL_BENCH_INNER=1${inner_env:+ $inner_env}" \
        "$top/scripts/nested-kvm.sh" "$script" "$@"
    fi
  fi
  export VESSEL_BENCH_INNER=1
}

# bench_initrd ROOT INITRD: writes INITRD, the default guest's initramfs followed by the tree ROOT as one
# more cpio archive (ROOT/etc/vessel-checks.d/*.sh are sourced by /init with its checks).
bench_initrd() {
  local root="$1" initrd="$2"
  cp "$image/initramfs.cpio.gz" "$initrd"
  # Linux looks for the next archive at a 4-byte boundary (zero bytes in between are skipped).
  truncate -s $(( ($(stat -c %s "$initrd") + 3) / 4 * 4 )) "$initrd"
  (cd "$root" && find . | cpio -o -H newc --quiet) >> "$initrd"
}

# baseline_tree REV DIR BUILT_FILE BUILD_CMD...: the project as it was at git revision REV, extracted
# (git archive, no checkout) under DIR/<short REV> and built once with BUILD_CMD run there; kept while
# BUILT_FILE (relative to it) exists, so repeated runs against one baseline build it once. Prints its path.
baseline_tree() {
  local rev dir built
  rev="$(cd "$top" && git rev-parse --short "$1")"
  dir="$2/$rev"
  built="$3"
  shift 3
  if [ ! -e "$dir/$built" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$top" && git archive "$rev") | tar -x -C "$dir"
    (cd "$dir" && "$@") >&2
  fi
  echo "$dir"
}
