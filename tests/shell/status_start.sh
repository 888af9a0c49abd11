#!/bin/sh
# status_start.sh: status right after train, in a script, reports the run that was started
# (starting or training), never "idle; 0 epochs", whether or not the worker has taken the run yet;
# a run that already ended (2 tiny epochs can finish first, e.g. under a sanitizer's scheduling) is
# "idle; 2 epochs". After wait it is idle with the epochs trained. While the first batch of a run
# is still computing, status shows no loss or accuracy (there are none yet), not "loss 0.0000".
# Repeated, since it is about timing.
# usage: status_start.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
cd "$root" || exit 2
pass=0 fail=0
for i in 1 2 3 4 5; do
    out=$("$husky" -e "seed $i; threads 1; model new input=16x16x3; conv2d 4 3x3 activation=relu; maxpool 2x2; \
flatten; dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; data train tests/fixtures/stripes/train; \
train epochs=2 batch=8; status; wait; status" 2>&1)
    first=$(printf '%s\n' "$out" | grep -E '^(idle;|starting:|training:)' | head -n 1)
    last=$(printf '%s\n' "$out" | grep -E '^(idle;|starting:|training:)' | tail -n 1)
    case "$first" in
    starting:* | training:* | "idle; 2 epochs trained so far"*) pass=$((pass + 1)) ;;
    *) fail=$((fail + 1)); echo "run $i: status right after train said: $first" ;;
    esac
    case "$last" in
    "idle; 2 epochs trained so far"*) pass=$((pass + 1)) ;;
    *) fail=$((fail + 1)); echo "run $i: status after wait said: $last" ;;
    esac
done
for i in 1 2 3; do # a slow first batch: status lands in it
    out=$("$husky" -e "seed $i; threads 1; model new input=64x64x3; conv2d 64 3x3 activation=relu; \
conv2d 64 3x3 activation=relu; flatten; dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; \
data train tests/fixtures/stripes/train size=64x64; train epochs=1 batch=48; status; status; wait" 2>&1)
    bad=$(printf '%s\n' "$out" | grep -E '^training: epoch 1/1, batch 0/1, loss')
    if [ -z "$bad" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "run $i: during batch 0: $bad"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
