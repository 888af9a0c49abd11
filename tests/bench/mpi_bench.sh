#!/bin/sh
# mpi_bench.sh BUILD_DIR [DATA_FOLDER] [RANKS]: training images/s of the blog network with 1 process
# and with RANKS (default 2) MPI ranks on this machine, one BLAS thread each; per step, the time
# computing and in the all-reduce of the 13.2 MB gradient; and all-reduces timed on their own.
# The second epoch's figures count (the first includes warming up).
set -eu
build=$1
data=${2:-/work/shared/data/husky-v1/validation}
ranks=${3:-2}
src=$(cd "$(dirname "$0")/../.." && pwd)
husky=$build/repl/husky
echo "== 1 process"
"$husky" -k "$src/tests/bench/mpi_bench.husky" data="$data" | grep -E "^epoch|pictures"
echo "== $ranks ranks"
mpirun --allow-run-as-root --oversubscribe -n "$ranks" "$husky" -k "$src/tests/bench/mpi_bench.husky" \
    data="$data" | grep -E "^epoch|last run|all-reduce of"
