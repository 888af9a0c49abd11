#!/bin/sh
# test.sh: build husky and run the whole test suite three ways, then print one combined
# "N passed, M failed" line (and fail if anything failed):
#   1. build/       the normal build's meson tests (unit, golden, shell, hostile, fuzz corpus replay, MPI),
#                   then the golden, shell and hostile suites again under OPENBLAS_CORETYPE=Haswell and
#                   =Sandybridge: other OpenBLAS kernels give other last float bits, which no
#                   transcript may depend on (the suite must pass on any x86-64 CPU with AVX2)
#   2. build-asan/  the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (gcc),
#                   with leak detection, every sanitizer report fatal; built without MPI (Open MPI
#                   itself leaks thousands of allocations at exit, so LeakSanitizer cannot judge it)
#   3. build-fuzz/  each libFuzzer target for FUZZ_SECONDS (default 30; clang; 0 skips it)
# Arguments are passed to both meson test runs (e.g. a test name or --suite unit).
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0

# Count meson's Ok and Fail/Timeout lines of $log into passed/failed; $1 names the run.
count() {
    ok=$(awk '/^Ok:/ {print $2}' "$log")
    bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$log")
    [ -n "$ok" ] || bad=$((bad + 1)) # no summary: the run itself broke
    echo "$1: ${ok:-0} passed, $bad failed"
    passed=$((passed + ${ok:-0}))
    failed=$((failed + bad))
}

meson test -C build --print-errorlogs "$@" > "$log" 2>&1 || true
cat "$log"
count "normal build"

suites="--suite golden --suite shell --suite hostile" # or the tests named in the arguments
[ $# = 0 ] || suites=
for core in Haswell Sandybridge; do
    OPENBLAS_CORETYPE=$core meson test -C build --print-errorlogs $suites "$@" > "$log" 2>&1 || true
    cat "$log"
    count "normal build, OPENBLAS_CORETYPE=$core"
done

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dmpi=disabled \
        > "$log" 2>&1 || { cat "$log"; exit 1; }
fi
ninja -C build-asan > "$log" 2>&1 || { cat "$log"; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
OPENBLAS_NUM_THREADS=1 \
    meson test -C build-asan --print-errorlogs --timeout-multiplier 3 "$@" > "$log" 2>&1 || true
cat "$log"
count "sanitizer build"

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
    tests/fuzz/run.sh "${FUZZ_SECONDS:-30}" > "$log" 2>&1 || true
    cat "$log"
    ok=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
    bad=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
    [ -n "$ok" ] || bad=1
    echo "fuzz runs: ${ok:-0} passed, ${bad:-0} failed"
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${bad:-0}))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" != 0 ]
