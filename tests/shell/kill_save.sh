#!/bin/sh
# kill_save.sh: SIGKILL husky in the middle of `model save` over an existing file, again and
# again; the file must always be either the old file or the new complete one, pass model verify
# and load. The model has a large dense layer (3.1 M parameters; 38 MB with the optimizer state)
# and the killed husky saves it in a loop, so most kills land inside a save (a left-over
# temporary file shows it; at least one is required, so the test cannot pass without ever
# interrupting a save).
# usage: kill_save.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
model='seed 7
model new input=64x64x3
flatten
dense 256 activation=relu
dense 1 activation=sigmoid
compile'
# the old file (weights only) and, elsewhere, the new one (with the optimizer state)
printf '%s\nmodel save old.hkm\nmodel save new.hkm optimizer=yes\n' "$model" > setup.husky
"$husky" setup.husky > log 2>&1 || { cat log; exit 1; }
old=$(sha256sum < old.hkm | cut -d' ' -f1) new=$(sha256sum < new.hkm | cut -d' ' -f1)
[ "$old" != "$new" ] || { echo "FAIL: old and new files are the same"; exit 1; }
{ printf '%s\n' "$model"; i=0; while [ $i -lt 40 ]; do echo "model save m.hkm optimizer=yes"; i=$((i + 1)); done; } > saves.husky
pass=0 fail=0 interrupted=0
for delay in 0.3 0.45 0.6 0.75 0.9 1.05 1.2 1.35; do
    cp old.hkm m.hkm
    rm -f m.hkm.tmp.*
    "$husky" saves.husky > /dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
    ls m.hkm.tmp.* > /dev/null 2>&1 && interrupted=$((interrupted + 1))
    now=$(sha256sum < m.hkm | cut -d' ' -f1)
    what=torn
    [ "$now" = "$old" ] && what=old
    [ "$now" = "$new" ] && what=new
    if [ "$what" != torn ] && "$husky" -e "model verify m.hkm; model load m.hkm" > log 2>&1; then
        pass=$((pass + 1))
    else
        echo "FAIL: killed after ${delay}s: the file is $what"
        cat log
        fail=$((fail + 1))
    fi
    echo "killed after ${delay}s: m.hkm is the $what file"
done
echo "$interrupted of 8 kills interrupted a save (a temporary file was left)"
if [ "$interrupted" -ge 1 ]; then pass=$((pass + 1)); else echo "FAIL: no kill landed inside a save"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
