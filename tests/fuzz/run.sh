#!/bin/sh
# run.sh: build the fuzz targets as libFuzzer binaries (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, every UB report fatal) in build-fuzz/ and run each for SECONDS.
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]      (default 30 s each; targets: all)
# New inputs the fuzzer keeps go to build-fuzz/corpus/TARGET (the committed seeds in
# tests/fuzz/corpus/TARGET are only read); a crash, leak, timeout or out-of-memory is written to
# build-fuzz/findings/ and makes the script fail. Ends with "N passed, M failed" (one per target).
# Set FUZZ_PARALLEL=1 to run the targets at the same time, FUZZ_BUILD=DIR for another build folder.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-language image modelfile manifest import multipart}
build=${FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzzing=true -Dbuildtype=debugoptimized -Db_ndebug=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all > "$build.log" ||
        { cat "$build.log"; exit 1; }
fi
for t in $targets; do
    ninja -C "$build" "tests/fuzz/fuzz_$t" > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
done
mkdir -p "$build/findings"
export OPENBLAS_NUM_THREADS=1
# -rss_limit_mb: husky must stay well under it on any input; -timeout: no input may take 30 s (a hang;
# a loaded shared machine under ASan makes 1 s inputs take 10)
run_one() {
    mkdir -p "$build/corpus/$1"
    "$build/tests/fuzz/fuzz_$1" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/findings/$1-" \
        "$build/corpus/$1" "tests/fuzz/corpus/$1" > "$build/fuzz-$1.log" 2>&1
}
passed=0 failed=0 pids=
for t in $targets; do
    if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
        run_one "$t" & pids="$pids $!:$t"
        continue
    fi
    if run_one "$t"; then status=0; else status=1; fi
    pids="$pids done$status:$t"
done
for p in $pids; do
    pid=${p%%:*} t=${p#*:}
    case $pid in
        done0) status=0 ;;
        done1) status=1 ;;
        *) if wait "$pid"; then status=0; else status=1; fi ;;
    esac
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log")
    if [ "$status" = 0 ]; then
        passed=$((passed + 1))
        echo "fuzz $t: ${runs:-?} runs in ${seconds}s, no finding"
    else
        failed=$((failed + 1))
        echo "fuzz $t: FINDING (log: $build/fuzz-$t.log)"
        grep -E "ERROR|SUMMARY|runtime error|property failed|Test unit written" "$build/fuzz-$t.log" | head -8
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
