#!/bin/sh
# run_equivalence.sh HUSKY SOURCE_ROOT [RANKS] [SCRIPT]: train SCRIPT (default equivalence; a
# .husky in tests/mpi) with one process and with RANKS (default 2) MPI ranks, same seed and global
# batch; the per-epoch losses and accuracies must agree to a relative 1e-5 (summation order
# differs) and the saved models' predictions must print the same.
set -eu
husky=$1 src=$2 ranks=${3:-2} script=${4:-equivalence}
. "$src/tests/mpi/find_mpirun.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/one" "$work/many"
"$husky" "$src/tests/mpi/$script.husky" src="$src" out="$work/one" > "$work/one.txt"
timeout 120 $MPIRUN -n "$ranks" "$husky" "$src/tests/mpi/$script.husky" src="$src" out="$work/many" \
    > "$work/many.txt"
grep -q "finished after 3 epochs" "$work/many.txt" || { echo "FAIL: the $ranks-rank run did not finish"; cat "$work/many.txt"; exit 1; }
# columns: epoch,loss,accuracy,val_loss,val_accuracy,seconds,images_per_s
awk -F, -v ranks="$ranks" '
    FNR == 1 { next }
    NR == FNR { for (c = 2; c <= 5; c++) ref[FNR, c] = $c; rows = FNR; next }
    {
        for (c = 2; c <= 5; c++) {
            a = ref[FNR, c]; b = $c; d = a - b; d = d < 0 ? -d : d; m = a < 0 ? -a : a
            rel = m > 0 ? d / m : d
            if (rel > worst) worst = rel
            if (rel > 1e-5) { printf "FAIL: epoch %d column %d: 1 process %s, %d ranks %s (relative %.2g)\n", $1, c, a, ranks, b, rel; bad = 1 }
        }
        n++
    }
    END {
        if (n != 3 || rows != 4) { print "FAIL: expected 3 epochs in both histories"; exit 1 }
        printf "largest relative difference of loss/accuracy/val_loss/val_accuracy: %.3g\n", worst
        exit bad
    }' "$work/one/history.csv" "$work/many/history.csv"
grep ': .* (sigmoid' "$work/one.txt" | sed "s|$src/||" > "$work/one.pred"
grep ': .* (sigmoid' "$work/many.txt" | sed "s|$src/||" > "$work/many.pred"
[ "$(wc -l < "$work/one.pred")" = 4 ] || { echo "FAIL: expected 4 predictions"; cat "$work/one.txt"; exit 1; }
if ! diff "$work/one.pred" "$work/many.pred"; then
    echo "FAIL: the saved models predict differently"
    exit 1
fi
cat "$work/many.pred"
echo "ok: $ranks ranks give the same losses and predictions as 1 process"
