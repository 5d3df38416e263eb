#!/usr/bin/env bash
# Fetches the browser console's JavaScript (vessel run --web) into a cache folder, once:
#   novnc/core, novnc/vendor   noVNC's client library, from Debian's novnc package (the installed one under
#                              /usr/share/novnc when there is one, else `apt-get download novnc`)
#   xterm/xterm.js, xterm.css  xterm.js, from npm's @xterm/xterm (`npm pack`: the registry's tarball)
#   VERSION                    what was fetched; also the stamp that makes a rerun a no-op
# The page itself ships inside Vessel's jar. Once fetched, the console works offline.
#
# Usage: scripts/web-assets.sh [--quiet]
# The folder is ${VESSEL_WEB_DIR:-<repo>/.cache/web}.
set -euo pipefail

self="${BASH_SOURCE[0]}"
[[ "$self" == */* ]] || self="./$self"
here="$(cd "${self%/*}" && pwd)"
dir="${VESSEL_WEB_DIR:-${here%/*}/.cache/web}"
xterm_version=5.5.0

quiet=false
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=true ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "web-assets: unknown argument '$arg' (usage: scripts/web-assets.sh [--quiet])" >&2; exit 1 ;;
  esac
done
say() { $quiet || printf 'web-assets: %s\n' "$*"; }
die() { printf 'web-assets: %s\n' "$*" >&2; exit 1; }

if [ -f "$dir/VERSION" ] && [ -f "$dir/novnc/core/rfb.js" ] && [ -f "$dir/xterm/xterm.js" ]; then
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
work="$(mktemp -d "$dir/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [ -f /usr/share/novnc/core/rfb.js ]; then
  novnc_from="installed novnc $(dpkg-query -W -f='${Version}' novnc 2>/dev/null || echo unknown)"
  mkdir -p "$work/novnc"
  cp -r /usr/share/novnc/core /usr/share/novnc/vendor "$work/novnc/"
else
  say "downloading Debian's novnc package"
  (cd "$work" && apt-get download novnc >/dev/null 2>&1) ||
    die "apt-get download novnc failed (run apt-get update, or install novnc)"
  deb="$(ls "$work"/novnc_*.deb)"
  dpkg-deb -x "$deb" "$work/root"
  mkdir -p "$work/novnc"
  cp -r "$work/root/usr/share/novnc/core" "$work/root/usr/share/novnc/vendor" "$work/novnc/"
  novnc_from="${deb##*/}"
fi

command -v npm >/dev/null || die "npm is needed once to fetch xterm.js (apt-get install npm)"
say "downloading @xterm/xterm $xterm_version from npm"
(cd "$work" && npm pack --silent "@xterm/xterm@$xterm_version" >/dev/null 2>&1) ||
  die "npm pack @xterm/xterm@$xterm_version failed (is the npm registry reachable?)"
tar -xzf "$work"/xterm-xterm-*.tgz -C "$work"
mkdir -p "$work/xterm"
cp "$work/package/lib/xterm.js" "$work/package/css/xterm.css" "$work/package/LICENSE" "$work/xterm/"

rm -rf "$dir/novnc" "$dir/xterm"
mv "$work/novnc" "$work/xterm" "$dir/"
printf 'novnc=%s\nxterm=@xterm/xterm@%s\n' "$novnc_from" "$xterm_version" >"$dir/VERSION"
say "ready in $dir"
