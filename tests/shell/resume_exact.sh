#!/bin/sh
# resume_exact.sh: with one thread, 4 epochs in one go and 2 epochs + save (training=yes) + a new
# husky process + train resume give the same weights bit for bit, on the stripes set with
# augmentation and dropout on. Weights are compared through model verify's "weights sha256" (a
# hash of the weight tensors alone). Controls: resuming from a file without the training state
# gives other weights (so the comparison can fail), and checkpoint=DIR's last.hkm after the same
# 4 epochs holds the same weights.
# usage: resume_exact.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
fail=0 pass=0
check() { # check NAME CONDITION-RESULT
    if [ "$2" = 0 ]; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}
weights() { # the weights hash of model file $1
    "$husky" -e "model verify $1" | awk '/weights sha256/ {print $3}'
}
cat > "$work/base.husky" <<'END'
seed 42
threads 1
model new input=16x16x3
conv2d 8 3x3 activation=relu
maxpool 2x2
dropout 0.3
conv2d 16 3x3 activation=relu
flatten
dense 16 activation=relu
dropout 0.2
dense 1 activation=sigmoid
compile optimizer=adam lr=0.01
data train tests/fixtures/stripes/train
data val tests/fixtures/stripes/val
augment rescale=1/255 rotation=20 shift=0.1 zoom=0.2 flip=horizontal
END
run() { # run script text $1 after the base script
    { cat "$work/base.husky"; printf '%s\n' "$1"; } > "$work/s.husky"
    "$husky" "$work/s.husky" > "$work/log" 2>&1 || { cat "$work/log"; echo "FAIL: script"; fail=$((fail + 1)); }
}
run "train epochs=4 batch=8
wait
model save $work/straight.hkm"
run "train epochs=2 batch=8
wait
model save $work/half.hkm training=yes
model save $work/half_opt.hkm optimizer=yes"
cat > "$work/resume.husky" <<END
threads 1
data train tests/fixtures/stripes/train size=16x16
data val tests/fixtures/stripes/val size=16x16
train resume $work/half.hkm epochs=4
wait
model save $work/resumed.hkm
END
"$husky" "$work/resume.husky" > "$work/log" 2>&1 || { cat "$work/log"; fail=$((fail + 1)); }
cat > "$work/control.husky" <<END
threads 1
model load $work/half_opt.hkm
data train tests/fixtures/stripes/train
data val tests/fixtures/stripes/val
augment rescale=1/255 rotation=20 shift=0.1 zoom=0.2 flip=horizontal
seed 42
train epochs=2 batch=8
wait
model save $work/control.hkm
END
"$husky" "$work/control.husky" > "$work/log" 2>&1 || { cat "$work/log"; fail=$((fail + 1)); }
run "train epochs=4 batch=8 checkpoint=$work/ck monitor=val_accuracy
wait"

a=$(weights "$work/straight.hkm") b=$(weights "$work/resumed.hkm") c=$(weights "$work/control.hkm")
l=$(weights "$work/ck/last.hkm")
echo "straight $a"
echo "resumed  $b"
echo "control  $c (no training state: other weights expected)"
echo "last.hkm $l"
check "a hash was computed" "$([ ${#a} = 64 ]; echo $?)"
check "4 epochs == 2 + save + resume + 2, bit for bit" "$([ ${#b} = 64 ] && [ "$a" = "$b" ]; echo $?)"
check "without the training state the weights differ" "$([ "$a" != "$c" ] && [ ${#c} = 64 ]; echo $?)"
check "checkpoint last.hkm holds the final weights" "$([ ${#l} = 64 ] && [ "$a" = "$l" ]; echo $?)"
check "best.hkm was written and verifies" "$("$husky" -e "model verify $work/ck/best.hkm" > /dev/null 2>&1; echo $?)"
check "no temporary files left" "$([ -d "$work/ck" ] && ! ls "$work/ck" | grep -q tmp; echo $?)"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
