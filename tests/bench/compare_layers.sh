#!/bin/sh
# compare_layers.sh: husky's depthwise and batchnorm kernels (bench_layers) against PyTorch
# (torch_layers.py) at MobileNetV2 shapes, at threads=1 and threads=2; PyTorch runs twice, with
# glibc's default allocator settings and with MALLOC_MMAP_THRESHOLD_=33554432
# MALLOC_TRIM_THRESHOLD_=4000000000 (blocks over 32 MiB otherwise go back to the kernel on free).
# Prints ms per call for each and husky / tuned PyTorch (below 1: husky faster).
#
# Usage: tests/bench/compare_layers.sh BUILD_DIR [steps=N] [clock=cpu]
set -eu
if [ $# -lt 1 ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
build=$1
shift
here=$(dirname "$0")
bench=$build/tests/bench/bench_layers
python=${PYTHON:-/usr/bin/python3}
[ -x "$bench" ] || { echo "compare_layers.sh: $bench not found; run ninja -C $build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in 1 2; do
    "$bench" "threads=$t" "$@" > "$tmp/h$t"
    "$python" "$here/torch_layers.py" "threads=$t" "$@" > "$tmp/p$t"
    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4000000000 \
        "$python" "$here/torch_layers.py" "threads=$t" "$@" > "$tmp/q$t"
    cat "$tmp/h$t" "$tmp/q$t" >&2
done
printf '%-8s %-36s %9s %9s %9s %9s\n' threads key husky torch torch_tuned husky/tuned
for t in 1 2; do
    grep '_ms ' "$tmp/h$t" | while read -r key h; do
        p=$(sed -n "s/^$key //p" "$tmp/p$t")
        q=$(sed -n "s/^$key //p" "$tmp/q$t")
        awk -v t="$t" -v k="$key" -v h="$h" -v p="$p" -v q="$q" \
            'BEGIN { printf "%-8s %-36s %9.3f %9.3f %9.3f %9.2f\n", t, k, h, p, q, (q > 0 ? h / q : 0) }'
    done
done
