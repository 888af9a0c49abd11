#!/bin/sh
# fresh_model.sh: a model made in a session that trained another model before trains exactly as
# it does in a session of its own: model new, model load and model import start an empty history,
# so epoch numbers, shuffles and dropout masks do not depend on what ran earlier. The two model
# files must be equal byte for byte, and `history` must list only the new model's epochs.
# usage: fresh_model.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
other="model new input=16x16x3; conv2d 4 3x3 activation=relu; flatten; dense 1 activation=sigmoid; \
compile optimizer=adam lr=0.01; train epochs=3 batch=8; wait"
second="model new input=16x16x3; conv2d 8 3x3 activation=relu; dropout 0.3; flatten; \
dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; train epochs=2 batch=8; wait; history"
start="seed 5; threads 1; data train tests/fixtures/stripes/train size=16x16"
fail=0
"$husky" -e "$start; $second; model save $work/alone.hkm" > "$work/alone.log" 2>&1 || fail=1
"$husky" -e "$start; $other; $second; model save $work/after.hkm" > "$work/after.log" 2>&1 || fail=1
"$husky" -e "$start; $other; model save $work/other.hkm; model load $work/other.hkm; history" \
    > "$work/load.log" 2>&1 || fail=1
if [ $fail = 1 ]; then
    cat "$work/alone.log" "$work/after.log" "$work/load.log"
    echo "0 passed, 1 failed"
    exit 1
fi
passed=0 failed=0
check() { # NAME CONDITION...
    name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else echo "FAIL: $name"; failed=$((failed + 1)); fi
}
check "the second model's file equals the one trained alone" cmp -s "$work/alone.hkm" "$work/after.hkm"
history_rows() { sed -n '/^epoch *loss/,$p' "$1" | grep -cE '^ *[0-9]+ '; }
check "history after the second model lists its 2 epochs" [ "$(history_rows "$work/after.log")" = 2 ]
check "a loaded model saved without training state has no history" [ "$(history_rows "$work/load.log")" = 0 ]
echo "$passed passed, $failed failed"
[ $failed = 0 ]
