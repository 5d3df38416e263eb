#!/usr/bin/env bash
# Prints the home of a JDK 25 or newer: $JAVA_HOME if it qualifies, else the first /usr/lib/jvm/*25*.
# Sourced or run by ./vessel, .ci/run and the bench scripts, so none of them needs JAVA_HOME set.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}
find_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    local major
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      echo "$candidate"
      return 0
    fi
  done
  echo "vessel: no JDK 25 or newer found (set JAVA_HOME, or install one, e.g. Temurin 25 into /usr/lib/jvm)" >&2
  return 1
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  find_jdk
fi
