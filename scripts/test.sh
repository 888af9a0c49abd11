#!/bin/sh
# test.sh: build husky and run the whole test suite (unit tests, golden transcripts); ends with
# one "N passed, M failed" line counting meson's tests.
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
meson test -C build --print-errorlogs "$@" > "$log" 2>&1 || true
cat "$log"
ok=$(awk '/^Ok:/ {print $2}' "$log")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$log")
echo "${ok:-0} passed, $failed failed"
[ "$failed" = 0 ] && [ -n "$ok" ] && [ "$ok" != 0 ]
