#!/bin/sh
# compare_mobilenet.sh: MobileNetV2 (128x128, batch 32) in husky (bench_mobilenet) against torchvision's
# mobilenet_v2 (torch_mobilenet.py) back to back, at threads=1 and threads=2; PyTorch runs twice, with
# glibc's default malloc and with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4000000000.
# Prints each figure, the ratios husky/PyTorch against issue 13's targets (training, inference and
# fine-tuning images/s >= 1.5x, latency <= 0.7x) and the per-layer-kind table of the threads=1 runs.
#
# Usage: tests/bench/compare_mobilenet.sh BUILD_DIR [steps=N] [repeats=N] [clock=cpu]
#   run from the repository root, e.g. ninja -C build && tests/bench/compare_mobilenet.sh build
# Needs /usr/bin/python3 with torch and torchvision (Debian python3-torch, python3-torchvision).
# Takes several minutes. Prints the load average before each run (the machine may be shared).
set -eu
if [ $# -lt 1 ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
build=$1
shift
here=$(dirname "$0")
bench=$build/tests/bench/bench_mobilenet
python=${PYTHON:-/usr/bin/python3}
[ -x "$bench" ] || { echo "compare_mobilenet.sh: $bench not found; run ninja -C $build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }

# run NAME THREADS COMMAND...: full output to stderr, the last two lines (layers=.., key=value) kept
run() {
    name=$1
    t=$2
    shift 2
    l=$(load)
    echo "== threads=$t: $name (load $l)" >&2
    "$@" "threads=$t" | tee "$tmp/out" >&2
    tail -n 1 "$tmp/out" | sed "s/\$/ load=$l/" > "$tmp/$name.$t"
    tail -n 2 "$tmp/out" | head -n 1 > "$tmp/$name.$t.layers"
}

for t in 1 2; do
    run husky "$t" "$bench" "$@"
    run torch "$t" "$python" "$here/torch_mobilenet.py" "$@"
    run tuned "$t" env MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4000000000 \
        "$python" "$here/torch_mobilenet.py" "$@"
done

val() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }

printf '\n%-3s %-15s %9s %9s %9s %8s %8s %s\n' thr figure husky torch torch-tun h/torch h/tuned target
for t in 1 2; do
    for k in train_img_s infer32_img_s latency_ms finetune_img_s; do
        case $k in latency_ms) target="<= 0.7" ;; *) target=">= 1.5" ;; esac
        awk -v t="$t" -v k="$k" -v tg="$target" -v h="$(val "$tmp/husky.$t" "$k")" \
            -v p="$(val "$tmp/torch.$t" "$k")" -v q="$(val "$tmp/tuned.$t" "$k")" 'BEGIN {
            r1 = p > 0 ? h / p : 0; r2 = q > 0 ? h / q : 0
            ok = (tg ~ /<=/) ? (r1 <= 0.7 && r2 <= 0.7) : (r1 >= 1.5 && r2 >= 1.5)
            printf "%-3s %-15s %9.2f %9.2f %9.2f %8.2f %8.2f %s: %s\n", t, k, h, p, q, r1, r2, tg, ok ? "met" : "not met"
        }'
    done
    echo "    load averages at the start of the runs: husky $(val "$tmp/husky.$t" load)," \
        "torch $(val "$tmp/torch.$t" load), torch tuned $(val "$tmp/tuned.$t" load)"
done

printf '\nper layer kind, threads=1, batch 32, training mode: ms forward + backward\n'
printf '%-12s %9s %9s %9s %8s %8s\n' kind husky torch torch-tun h/torch h/tuned
for f in husky torch tuned; do # kind:fwd:bwd (husky's third figure, inference-mode forward, dropped)
    sed 's/^layers=//' "$tmp/$f.1.layers" | tr ',' '\n' | cut -d: -f1-3 > "$tmp/$f.kinds"
done
paste -d: "$tmp/husky.kinds" "$tmp/torch.kinds" "$tmp/tuned.kinds" | awk -F: '{
    h = $2 + $3; p = $5 + $6; q = $8 + $9
    printf "%-12s %9.2f %9.2f %9.2f %8.2f %8.2f\n", $1, h, p, q, (p > 0 ? h / p : 0), (q > 0 ? h / q : 0)
}'
