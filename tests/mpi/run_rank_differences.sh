#!/bin/sh
# run_rank_differences.sh HUSKY SOURCE_ROOT: ranks that see different things must not go on
# silently. (1) Rank 1's data folder is missing: rank 0 reports "failed on rank 1" with rank 1's
# message and every rank stops the script. (2) Rank 1's folder lacks one picture: `train` refuses
# because the ranks' sets differ. Both exit non-zero without training.
set -eu
husky=$1 src=$2
. "$src/tests/mpi/find_mpirun.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests/fixtures/stripes/train" "$work/same"
cp -r "$src/tests/fixtures/stripes/train" "$work/short"
rm "$work/short/vertical/00.png"
script=$src/tests/mpi/different_data.husky
check() { # NAME RANK1_FOLDER EXPECTED_MESSAGE
    status=0
    timeout 60 $MPIRUN -n 1 "$husky" "$script" d="$work/same" : -n 1 "$husky" "$script" d="$2" \
        > "$work/out.txt" 2>&1 || status=$?
    if [ "$status" = 0 ] || ! grep -q "$3" "$work/out.txt" || grep -q "not reached\|^epoch" "$work/out.txt"; then
        echo "FAIL: $1 (exit status $status):"
        cat "$work/out.txt"
        exit 1
    fi
    grep "$3" "$work/out.txt"
}
check "a folder missing on rank 1" "$work/missing" \
    "different_data.husky:6: data train: failed on rank 1 of 2: cannot open data folder '$work/missing'"
check "a picture missing on rank 1" "$work/short" \
    "different_data.husky:7: train: the ranks loaded different training sets (rank 0: 48 pictures)"
echo "ok: differences between ranks are reported and stop the script"
