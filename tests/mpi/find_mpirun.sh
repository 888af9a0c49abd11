# find_mpirun.sh: sourced by the MPI tests. Sets MPIRUN (with the flags CI needs: root, more
# ranks than cores) or exits 77, which meson reports as a skipped test, when husky was built
# without MPI or mpirun is missing.
husky=$1
if ! command -v mpirun > /dev/null 2>&1; then
    echo "skipped: no mpirun on PATH (apt-get install openmpi-bin)"
    exit 77
fi
if "$husky" -e cluster | grep -q "built without MPI"; then
    echo "skipped: husky was built without MPI (meson setup -Dmpi=enabled)"
    exit 77
fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
