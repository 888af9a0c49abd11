#!/bin/sh
# run_writer_only.sh HUSKY SOURCE_ROOT: commands that only write files or talk to the outside run
# on rank 0 alone under MPI. Two ranks make one key pair, save and sign one model file: the script
# succeeds (another rank's keygen would find the key made and refuse to overwrite it), and each
# file is reported written once.
set -eu
husky=$1 src=$2
. "$src/tests/mpi/find_mpirun.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
timeout 60 $MPIRUN -n 2 "$husky" -e "model keygen $work/key; model new input=8x8x3; flatten; \
dense 1 activation=sigmoid; compile; model save $work/m.hkm; model sign $work/m.hkm key=$work/key" > "$work/out.txt" 2>&1 || status=$?
if [ "$status" != 0 ] || [ "$(grep -c '^wrote .*key' "$work/out.txt")" != 1 ] ||
    [ "$(grep -c '^wrote .*m.hkm.sig' "$work/out.txt")" != 1 ] || [ ! -s "$work/m.hkm.sig" ]; then
    echo "FAIL: keygen and sign on 2 ranks (exit status $status):"
    cat "$work/out.txt"
    exit 1
fi
cat "$work/out.txt"
echo "ok: keygen, save and sign ran once on 2 ranks"
