#!/bin/sh
# run_golden.sh: run one golden script through the husky binary and compare its whole transcript
# (stdout and stderr, then the exit status) with the expected one.
# usage: run_golden.sh HUSKY SOURCE_ROOT NAME [DIR]  (UPDATE=1 rewrites the expected file)
# DIR is the folder of NAME.husky and NAME.out relative to SOURCE_ROOT (default tests/golden). If
# DIR/NAME.setup.sh exists it runs first, with the work folder as its argument, to make files git
# cannot hold (symlink loops, huge lines); the script sees that folder as ${tmp}.
# Scripts run from SOURCE_ROOT with -k (keep going after errors), so one script can show several
# error cases. Timings vary from run to run and are masked: "12.3s  85.2 img/s" -> "Ts N img/s".
# A script with the line "# golden: hashes vary" has its SHA-256 values (64 hex digits) numbered
# in order of first appearance ("<hash 1>", "<hash 2>", ...): a hash of trained weights differs
# in the last float bits from one CPU (OpenBLAS kernel) to another, but the same hash printed
# twice (model save, then model verify of that file) must still be the same number.
# A script with the line "# golden: figures vary" trains long enough (many epochs) that its
# figures differ from one OpenBLAS kernel to another; its 4-decimal figures become "F", the rows
# of data audit's suspicious list "  S  FILE", and the counts that follow from the model
# ("(K of N)", "K of the 8", "hold K of them", "K without it", "K classified right"): the
# transcript still checks the commands, the errors, the structure and the deterministic counts
# (set sizes, poisoned files); the figures are asserted as properties in attack_lab.sh.
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2 name=$3 rel=${4:-tests/golden}
dir="$root/$rel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
if [ -f "$dir/$name.setup.sh" ] && ! sh "$dir/$name.setup.sh" "$work"; then
    echo "0 passed, 1 failed (setup)"
    exit 1
fi
HUSKY_TMP="$work" "$husky" -k "$rel/$name.husky" tmp="$work" > "$work/out" 2>&1
echo "exit $?" >> "$work/out"
sed -E -e 's/[0-9]+\.[0-9]+s  [0-9]+\.[0-9]+ img\/s/Ts N img\/s/g' -e 's/waited for pictures [0-9.]+%/waited for pictures N%/' -e "s#$work#TMP#g" "$work/out" > "$work/masked"
if grep -q '^# golden: hashes vary$' "$rel/$name.husky"; then
    perl -pe 's/([0-9a-f]{64})/"<hash " . ($seen{$1} ||= ++$count) . ">"/ge' "$work/masked" > "$work/actual"
elif grep -q '^# golden: figures vary$' "$rel/$name.husky"; then
    perl -pe 's/^ +\S+  \S+\.png(  \(poisoned\))?$/  S  FILE/; s/\b[0-9]+\.[0-9]{4}\b/F/g;
        s/\(([0-9]+) of ([0-9]+)\)/(K of N)/g; s/\b[0-9]+ of the\b/K of the/g; s/\bhold [0-9]+ of them/hold K of them/;
        s/\([0-9]+ without it/(K without it/; s/\b[0-9]+ classified right/K classified right/' \
        "$work/masked" > "$work/actual"
else
    cp "$work/masked" "$work/actual"
fi
if [ "${UPDATE:-0}" = 1 ]; then
    cp "$work/actual" "$dir/$name.out"
    echo "updated $dir/$name.out"
    exit 0
fi
if diff -u "$dir/$name.out" "$work/actual"; then
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
