#!/bin/sh
# build.sh: configure (once) and build husky into build/.
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
ninja -C build
