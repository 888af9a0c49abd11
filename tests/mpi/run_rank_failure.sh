#!/bin/sh
# run_rank_failure.sh HUSKY SOURCE_ROOT kill|freeze: start 2 ranks on a long training run, then
# kill rank 1 (SIGKILL) or freeze it (SIGSTOP). The job must end within a bounded time with a
# message saying what happened, never hang: a killed rank is noticed by mpirun, which ends the
# others; a frozen one by husky's own timeout (HUSKY_MPI_TIMEOUT, 3 s here).
set -eu
husky=$1 src=$2 how=$3
. "$src/tests/mpi/find_mpirun.sh"
work=$(mktemp -d)
mpirun_pid=
cleanup() {
    [ -z "$mpirun_pid" ] || kill -KILL "$mpirun_pid" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
HUSKY_MPI_TIMEOUT=3 $MPIRUN -x HUSKY_MPI_TIMEOUT -n 2 "$husky" "$src/tests/mpi/long_run.husky" src="$src" \
    > "$work/out.txt" 2>&1 &
mpirun_pid=$!
rank1=
for _ in $(seq 100); do
    sleep 0.2
    grep -q "^training " "$work/out.txt" 2> /dev/null || continue
    for child in $(pgrep -P "$mpirun_pid"); do
        if tr '\0' '\n' < "/proc/$child/environ" 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
            rank1=$child
        fi
    done
    [ -n "$rank1" ] && break
done
[ -n "$rank1" ] || { echo "FAIL: the 2-rank run did not start training"; cat "$work/out.txt"; exit 1; }
sleep 1
case $how in
kill) kill -KILL "$rank1"; done_to=killed ;;
freeze) kill -STOP "$rank1"; done_to=frozen ;;
esac
start=$(date +%s)
for _ in $(seq 300); do
    kill -0 "$mpirun_pid" 2> /dev/null || break
    sleep 0.1
done
if kill -0 "$mpirun_pid" 2> /dev/null; then
    kill -CONT "$rank1" 2> /dev/null || true
    echo "FAIL: after rank 1 was $done_to the job still runs after 30 s"
    cat "$work/out.txt"
    exit 1
fi
status=0
wait "$mpirun_pid" || status=$?
mpirun_pid=
echo "mpirun ended $(( $(date +%s) - start )) s after rank 1 was $done_to, exit status $status; its output:"
tail -n 6 "$work/out.txt"
[ "$status" != 0 ] || { echo "FAIL: exit status 0 after a rank failed"; exit 1; }
case $how in
kill) grep -q "exited on signal 9" "$work/out.txt" || { echo "FAIL: no message naming the killed rank"; exit 1; } ;;
freeze) grep -q "husky: rank 0: no answer from the other ranks" "$work/out.txt" ||
    { echo "FAIL: rank 0 did not say that the other rank stopped answering"; exit 1; } ;;
esac
echo "ok: the job stopped with a message"
