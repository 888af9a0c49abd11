#!/bin/sh
# busy_worker.sh: predict, inspect and status asked again and again while a run is training must
# give exactly what the same calls give when idle. The run uses sgd with lr=1e-30, so its steps
# are far below float precision and the weights stay bit for bit the same: any difference is a
# request that raced with the training (BLAS called from two threads, a shared buffer reused).
# Every request is served by the worker between two batches (DESIGN.md).
# usage: busy_worker.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
h=tests/fixtures/stripes/val/horizontal/00.png v=tests/fixtures/stripes/val/vertical/01.png
{
    echo "seed 7"
    echo "model new input=48x48x3"
    echo "conv2d 16 3x3 activation=relu; maxpool 2x2; conv2d 32 3x3 activation=relu; dropout 0.3"
    echo "flatten; dense 32 activation=relu; dense 1 activation=sigmoid"
    echo "compile optimizer=sgd lr=1e-30"
    echo "data train tests/fixtures/stripes/train size=48x48"
    echo "echo idle:"
    echo "predict $h $v"
    echo "inspect conv2d_1 $h out=$work/idle.png"
    echo "train epochs=100000 batch=4"
    echo "echo busy:"
    i=0
    while [ $i -lt 60 ]; do
        echo "predict $h $v"
        echo "inspect conv2d_1 $h out=$work/busy$i.png"
        echo "status"
        i=$((i + 1))
    done
    echo "echo end:"
    echo "stop"
    echo "wait"
} > "$work/script.husky"
"$husky" "$work/script.husky" > "$work/out" 2>&1
status=$?
fail() {
    echo "FAILED: $*"
    cat "$work/out" | head -40
    echo "0 passed, 1 failed"
    exit 1
}
[ $status = 0 ] || fail "husky exited with $status"
idle=$(sed -n '/^idle:/,/^busy:/p' "$work/out" | grep '\.png: ')
[ "$(echo "$idle" | wc -l)" = 2 ] || fail "no idle predictions"
busy=$(sed -n '/^busy:/,/^end:/p' "$work/out")
predictions=$(echo "$busy" | grep -c '\.png: ')
[ "$predictions" = 120 ] || fail "$predictions predictions while busy, expected 120"
differing=$(echo "$busy" | grep '\.png: ' | grep -v -F -x -e "$(echo "$idle" | sed -n 1p)" \
    -e "$(echo "$idle" | sed -n 2p)" | head -3)
[ -z "$differing" ] || fail "a prediction while training differs from the idle one: $differing"
for f in "$work"/busy*.png; do
    cmp -s "$work/idle.png" "$f" || fail "$f differs from the feature maps drawn while idle"
done
training=$(echo "$busy" | grep -c '^training: epoch [0-9]*/100000, batch [0-9]*/12, loss [0-9.]*, accuracy [0-9.]*$')
odd=$(echo "$busy" | grep -v -e '\.png: ' -e '^wrote ' -e '^training: epoch' -e '^epoch ' -e '^busy:' -e '^end:' | head -3)
[ -z "$odd" ] || fail "unexpected output while busy: $odd"
[ "$training" -ge 30 ] || fail "only $training of 60 status calls saw the run going; the test did not overlap"
echo "120 predictions and 60 feature-map drawings during training equal the idle ones; $training status calls saw the run"
echo "1 passed, 0 failed"
