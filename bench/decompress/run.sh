#!/usr/bin/env bash
# Host decompression time of the Debian cloud kernel's bzImage (LZ4 on Debian 12): locate the payload,
# decompress, check the ELF. Uses the cached kernel (${VESSEL_CACHE:-$HOME/.cache/vessel}/kernel/vmlinuz) or
# the file given as the first argument; prints "skipped" when there is neither. Downloads nothing.
# ROUNDS (default 5) rounds in one JVM, with the launcher's JVM flags: round 0 is what `vessel run` pays.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$top/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
kernel="${1:-${VESSEL_CACHE:-$HOME/.cache/vessel}/kernel/vmlinuz}"
if [ ! -f "$kernel" ]; then
  echo "result: skipped (no kernel at $kernel; pass a bzImage path, or cache Debian's cloud kernel there)"
  exit 0
fi
log="$(mktemp)"
if ! (cd "$top" && JAVA_HOME="$JAVA_HOME" mvn -q -B -DskipTests package >"$log" 2>&1); then
  cat "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
classpath="$top/target/classes$(printf ':%s' "$top"/target/lib/*.jar)"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$classpath" "$here/KernelDecompressTime.java" "$kernel" "${ROUNDS:-5}"
