#!/bin/sh
# model_pin.sh: a model loaded with its hash pinned (model load FILE sha256=HEX) refuses model edit;
# loaded again without the pin, the edit goes through and model diff finds the one changed value.
# usage: model_pin.sh HUSKY SOURCE_ROOT
set -u
husky=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$husky" -e "seed 3; model new input=8x8x3; flatten; dense 1 activation=sigmoid; compile; model save $work/m.hkm" \
    > "$work/log" 2>&1 || { cat "$work/log"; echo "0 passed, 1 failed"; exit 1; }
hash=$(sha256sum "$work/m.hkm" | cut -d' ' -f1)
"$husky" -k -e "model load $work/m.hkm sha256=$hash; model edit dense bias[0]=100; model load $work/m.hkm; \
model edit dense bias[0]=100; model save $work/edited.hkm; model diff $work/m.hkm $work/edited.hkm" \
    > "$work/out" 2>&1
fail=0
grep -q "model edit: the model was loaded with a pinned hash (model load FILE sha256=...): it is not edited" \
    "$work/out" || fail=1
grep -q "^dense/bias\[0\]: 0 -> 100$" "$work/out" || fail=1
grep -q "^1 of 2 tensors differ:$" "$work/out" || fail=1
[ $fail = 0 ] && { echo "1 passed, 0 failed"; exit 0; }
cat "$work/out"
echo "0 passed, 1 failed"
exit 1
