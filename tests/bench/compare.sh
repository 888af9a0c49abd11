#!/bin/sh
# compare.sh: husky (bench_husky) against PyTorch (torch_husky.py) on the blog network, back to back,
# at threads=1 and threads=2; prints a table of both and the ratio husky/PyTorch.
#
# Usage: tests/bench/compare.sh BUILD_DIR [steps=N] [repeats=N]
#   e.g. ninja -C build && tests/bench/compare.sh build
# Needs /usr/bin/python3 with torch (Debian python3-torch). OPENBLAS_CORETYPE, if set, is passed on.
# Takes a few minutes. For train_img_s and infer32_img_s higher is better (ratio > 1: husky faster);
# for latency_ms and peak_rss_mb lower is better (ratio < 1: husky better).
set -eu
if [ $# -lt 1 ]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
build=$1
shift
here=$(dirname "$0")
bench=$build/tests/bench/bench_husky
python=${PYTHON:-/usr/bin/python3}
[ -x "$bench" ] || { echo "compare.sh: $bench not found; run ninja -C $build first" >&2; exit 1; }

# full output of each run goes to stderr; its last line: threads=N train_img_s=.. infer32_img_s=.. latency_ms=.. peak_rss_mb=..
results=""
for t in 1 2; do
    echo "== threads=$t: husky" >&2
    out=$("$bench" "threads=$t" "$@")
    printf '%s\n' "$out" >&2
    h=$(printf '%s\n' "$out" | tail -n 1)
    echo "== threads=$t: PyTorch" >&2
    out=$("$python" "$here/torch_husky.py" "threads=$t" "$@")
    printf '%s\n' "$out" >&2
    p=$(printf '%s\n' "$out" | tail -n 1)
    results="$results$h|$p
"
done

printf '\n%-8s %-14s %12s %12s %10s\n' threads metric husky PyTorch husky/pt
printf '%s' "$results" | while IFS='|' read -r h p; do
    [ -n "$h" ] || continue
    t=${h%% *}
    t=${t#threads=}
    for k in train_img_s infer32_img_s latency_ms peak_rss_mb; do
        hv=$(printf '%s\n' "$h" | tr ' ' '\n' | sed -n "s/^$k=//p")
        pv=$(printf '%s\n' "$p" | tr ' ' '\n' | sed -n "s/^$k=//p")
        awk -v t="$t" -v k="$k" -v h="$hv" -v p="$pv" \
            'BEGIN { printf "%-8s %-14s %12.2f %12.2f %10.2f\n", t, k, h, p, (p > 0 ? h / p : 0) }'
    done
done
