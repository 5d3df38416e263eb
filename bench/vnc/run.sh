#!/usr/bin/env bash
# The VNC server's frames per second and bytes per frame for a full-screen and a one-line change, Raw and
# ZRLE, 1024x768x32 over loopback TCP (bench/vnc/VncRate.java says what is and is not measured):
#   bench/vnc/run.sh [SECONDS per case, default 3]
# The server reads the dirty log at most 60 times a second (VncServer.FRAMES_PER_SECOND): that caps
# frames per second whenever encoding a frame takes less than 1/60 s.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib.sh"
(cd "$top" && mvn -q -B -Dstyle.color=never -DskipTests package)
"$JAVA_HOME/bin/java" "${JVM_OPTIONS[@]}" -cp "$top/target/classes:$top/target/lib/*" "$here/VncRate.java" "${1:-3}"
