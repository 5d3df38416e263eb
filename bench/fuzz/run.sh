#!/usr/bin/env bash
# A fuzzing campaign with Jazzer: bench/fuzz/run.sh TARGET|all|list [SECONDS] [WORKDIR]
# Fuzzes each matching @FuzzTest (TARGET is Class.method, e.g. VirtQueueFuzzTest.popChains, or a class
# name for all its targets) for SECONDS (default 60) in a JVM of its own, one after another, and prints
# executions, exec/s, edges covered, corpus units added and findings per target. The corpus each target
# grows is kept under WORKDIR (default target/fuzz-campaign/<target>/.cifuzz-corpus), so a second campaign
# continues the first; crashing inputs land in <target>/findings/. To make a finding a regression test,
# copy it into src/test/resources/<package>/<Class>Inputs/<method>/, which every test run replays.
# Exits 1 when anything was found.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top="$(cd "$here/../.." && pwd)"
. "$top/scripts/find-jdk.sh"
JAVA_HOME="$(find_jdk)"
export JAVA_HOME
if [ $# -lt 1 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
log="$top/target/fuzz-build.log"
mkdir -p "$top/target"
if ! (cd "$top" && mvn -q -B -DskipTests test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/test.classpath -Dmdep.includeScope=test >"$log" 2>&1); then
  cat "$log" >&2
  exit 1
fi
# The campaign runs on a copy of the classes, so a build during it cannot pull them from under a target.
work="${3:-$top/target/fuzz-campaign}"
mkdir -p "$work" && work="$(cd "$work" && pwd)"
rm -rf "$work/classes" && mkdir -p "$work/classes"
cp -r "$top/target/classes" "$work/classes/main"
cp -r "$top/target/test-classes" "$work/classes/test"
cp="$work/classes/test:$work/classes/main:$(cat "$top/target/test.classpath")"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -Dvessel.project.dir="$top" -Dvessel.fuzz.classes="$work/classes/test" -cp "$cp" \
  vessel.testkit.FuzzCampaign "$1" "${2:-60}" "$work"
