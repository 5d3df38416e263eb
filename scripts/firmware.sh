#!/usr/bin/env bash
# Fetches Vessel's default firmware from Debian's own package into a cache folder:
#   bios-256k.bin   SeaBIOS built for QEMU's PC machines (Debian's `seabios` package), which
#                   `vessel run --firmware` boots when no firmware file is named
#   VERSION         what was fetched (key=value); also the stamp that makes a rerun a no-op
# The package comes only through `apt-get download` and is unpacked with `dpkg-deb -x`: no root needed.
#
# Usage: scripts/firmware.sh [--refresh] [--quiet]
#   --refresh  ask apt for the package version again and fetch it if it changed (otherwise a
#              complete cache is reused without asking apt anything)
#   --quiet    print nothing when there is nothing to do (./vessel run --firmware uses it)
# The folder is ${VESSEL_FIRMWARE_DIR:-<repo>/.cache/firmware}.
set -euo pipefail

self="${BASH_SOURCE[0]}"
[[ "$self" == */* ]] || self="./$self"
here="$(cd "${self%/*}" && pwd)"
dir="${VESSEL_FIRMWARE_DIR:-${here%/*}/.cache/firmware}"
package=seabios
rom=bios-256k.bin

say() { printf 'firmware: %s\n' "$*"; }
die() { printf 'firmware: %s\n' "$*" >&2; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/debs.sh"

refresh=false
quiet=false
for arg in "$@"; do
  case "$arg" in
    --refresh) refresh=true ;;
    --quiet) quiet=true ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: scripts/firmware.sh [--refresh] [--quiet])" ;;
  esac
done

[ -d "$dir" ] || mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

declare -A stamp
complete=false
if [ -s "$dir/$rom" ] && [ -s "$dir/VERSION" ]; then
  complete=true
  while IFS='=' read -r key value; do
    stamp[$key]="$value"
  done <"$dir/VERSION"
fi
if ! $refresh && $complete; then
  $quiet || say "up to date in $dir ($package ${stamp[version]:-})"
  exit 0
fi

version="$(LC_ALL=C apt-cache policy "$package" 2>/dev/null | awk '/^ *Candidate:/ { print $2; exit }')"
case "$version" in
  ""|"(none)") die "apt has no candidate for $package (run 'apt-get update' as root, then again)" ;;
esac
if $complete && [ "${stamp[version]:-}" = "$version" ]; then
  $quiet || say "up to date in $dir ($package $version: apt has nothing newer)"
  exit 0
fi

debs="$dir/debs"
build="$dir/.build"
rm -rf "$build"
mkdir -p "$debs" "$build"
trap 'rm -rf "$build"' EXIT
deb_unpack "$debs" "$package" "$version" "$build/pkg"
[ -s "$build/pkg/usr/share/seabios/$rom" ] || die "$package $version has no usr/share/seabios/$rom"
# VERSION goes first and comes back last: a fetch cut short never looks complete.
rm -f "$dir/VERSION"
cp "$build/pkg/usr/share/seabios/$rom" "$dir/$rom"
{
  echo "package=$package"
  echo "version=$version"
  echo "sha256=$(sha256sum "$dir/$rom" | cut -d' ' -f1)"
} >"$dir/VERSION"
say "$package $version: $dir/$rom"
