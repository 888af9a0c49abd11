#!/bin/sh
# model_reload.sh: the foundation use case across processes. One husky trains a small net on the
# stripes and saves it; a fresh husky loads the file with no data set loaded, and predict must
# name the classes the file records (not "class 0"); evaluate on the val set names them; a model
# save from that process records them again, and the data hash, so that the file is byte for byte
# the one it loaded (model info of the new file, read by a third
# process); model info without a file describes the loaded model; a set whose folders are named
# otherwise is evaluated with a warning; and model info with no model says so.
# The transcript (figures rounded to 4 decimals, hashes numbered) must equal model_reload.out.
# usage: model_reload.sh HUSKY SOURCE_ROOT  (UPDATE=1 rewrites model_reload.out)
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
val=tests/fixtures/stripes/val
mkdir -p "$work/renamed"
cp -r "$val/horizontal" "$work/renamed/across"
cp -r "$val/vertical" "$work/renamed/down"
run() {
    echo "\$ husky -e '$1'"
    "$husky" -e "$1" 2>&1
    echo "exit $?"
}
{
    run "seed 42; threads 1; model new input=16x16x3; conv2d 4 3x3 activation=relu; maxpool 2x2; flatten; \
dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; data train tests/fixtures/stripes/train; \
train epochs=3 batch=8; wait; model save $work/m.hkm"
    run "model load $work/m.hkm; predict $val/horizontal/00.png $val/vertical/00.png; data val $val; \
evaluate val worst=0; model save $work/again.hkm"
    run "model info $work/again.hkm; model verify $work/m.hkm"
    run "model load $work/again.hkm; model info; data val $work/renamed; evaluate val worst=0"
    run "model info"
} > "$work/out"
sed -E -e 's/[0-9]+\.[0-9]+s  [0-9]+\.[0-9]+ img\/s/Ts N img\/s/g' -e "s#$work#TMP#g" "$work/out" |
    perl -pe 's/([0-9a-f]{64})/"<hash " . ($seen{$1} ||= ++$count) . ">"/ge' > "$work/actual"
if [ "${UPDATE:-0}" = 1 ]; then
    cp "$work/actual" tests/golden/model_reload.out
    echo "updated tests/golden/model_reload.out"
    exit 0
fi
if diff -u tests/golden/model_reload.out "$work/actual"; then
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
