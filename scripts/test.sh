#!/bin/sh
# test.sh: build husky and run the whole test suite (unit, golden transcripts).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
meson test -C build --print-errorlogs "$@"
