#!/bin/sh
# plot_paths.sh: hostile paths given to `plot out=`: a newline inside quotes (only -e can carry
# one), quotes of both kinds, and a gnuplot command hidden in a path. The newline is refused with
# its message; the others are written under exactly the name given, and nothing runs. The
# session goes on after each (-k runs the rest of the line after a failing command).
# usage: plot_paths.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2 # a command that got through would run here
cat > "$work/commands" <<END
seed 1; threads 1; model new input=16x16x3; flatten; dense 1 activation=sigmoid; compile optimizer=sgd lr=0.1;
data train $root/tests/fixtures/stripes/train; train epochs=1 batch=16; wait;
plot loss out="$work/new
line.png"; echo after newline;
plot loss out="$work/it's "'"q"'".png"; echo after quotes;
plot loss out="x'); system('touch pwned'); print('.svg"; echo after injection;
plot loss out="$work/no-such-folder/a.png"; echo after missing folder
END
"$husky" -k -e "$(cat "$work/commands")" > "$work/out" 2>&1
status=$?
fail() {
    echo "FAILED: $*"
    cat "$work/out"
    ls -la "$work"
    echo "0 passed, 1 failed"
    exit 1
}
[ $status = 1 ] || fail "husky exited with $status, expected 1 (two plots fail)"
grep -q -x -F -e "-e:1: plot: the path contains a control character (newline, tab, escape...); choose another name" \
    "$work/out" || fail "no message for the newline"
grep -q -x -F -e "after newline" "$work/out" || fail "the session did not go on after the newline"
[ -s "$work/it's \"q\".png" ] || fail "the plot with quotes in its name was not written under that name"
grep -q -x -F -e "after quotes" "$work/out" || fail "the session did not go on after the quotes"
[ ! -e "$work/pwned" ] || fail "a command hidden in the path ran"
[ -s "$work/x'); system('touch pwned'); print('.svg" ] || fail "the plot with a command in its name was not written"
grep -q -x -F -e "after injection" "$work/out" || fail "the session did not go on after the injection"
grep -q -F -e "-e:1: plot: " "$work/out" && grep -q -F "no-such-folder/a.png" "$work/out" ||
    fail "no message for a missing folder"
grep -q -x -F -e "after missing folder" "$work/out" || fail "the session did not go on after a missing folder"
! ls "$work" | grep -q '\.tmp\.' || fail "a temporary file was left behind"
echo "newline refused, quotes and a hidden command written as plain names, missing folder reported"
echo "1 passed, 0 failed"
