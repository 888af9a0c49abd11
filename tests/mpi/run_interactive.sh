#!/bin/sh
# run_interactive.sh HUSKY SOURCE_ROOT: mpirun -n 2 husky -i with commands arriving on rank 0's
# stdin over time, as a person types them: a run whose progress would overflow a pipe while
# nobody types finishes (rank 1 must not block on output no one reads), `stop` stops both ranks,
# a file is written once by rank 0, and a bad command is reported once without ending the session.
set -eu
husky=$1 src=$2
. "$src/tests/mpi/find_mpirun.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
    cat << EOF
seed 7
threads 1
model new input=16x16x3
conv2d 8 3x3 activation=relu
flatten
dense 1 activation=sigmoid
compile lr=0.001
data train $src/tests/fixtures/stripes/train
train epochs=1500 batch=8
EOF
    sleep 6
    echo "wait"
    echo "train epochs=1000000 batch=8"
    sleep 1
    echo "stop"
    echo "history save $work/h.csv"
    echo "bogus"
    echo "cluster"
} | HUSKY_MPI_TIMEOUT=20 timeout 90 $MPIRUN -x HUSKY_MPI_TIMEOUT -n 2 "$husky" -i > "$work/out.txt" 2>&1 || {
    echo "FAIL: exit status $?"
    tail -n 20 "$work/out.txt"
    exit 1
}
fail() {
    echo "FAIL: $1"
    grep -v '^epoch' "$work/out.txt"
    exit 1
}
grep -q "^training finished after 1500 epochs" "$work/out.txt" || fail "the first run did not finish"
grep -q "^training stopped at epoch [0-9]*, batch [0-9]* of 6" "$work/out.txt" || fail "stop did not stop the run"
[ "$(grep -c "wrote $work/h.csv" "$work/out.txt")" = 1 ] || fail "history save did not report one write"
[ -s "$work/h.csv" ] || fail "no $work/h.csv"
[ "$(grep -c "unknown command" "$work/out.txt")" = 1 ] || fail "the bad command was not reported exactly once"
grep -q "^2 ranks" "$work/out.txt" || fail "the session ended after the bad command"
echo "ok: 2 ranks follow rank 0's input; stop, files and errors behave"
