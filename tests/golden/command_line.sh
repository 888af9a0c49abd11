#!/bin/sh
# command_line.sh: husky answers --help and --version as GNU programs do (on standard output,
# nothing on standard error, exit 0; -h and -V the same), and an unknown option is refused on
# standard error with exit status 2. The shell's `help` and `help COMMAND` for every command fit
# in 100 columns (only a single word too long for a line may pass it), and list the commands.
# usage: command_line.sh HUSKY SOURCE_ROOT
set -u
husky=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
# The output matches PATTERN ("" for: is empty).
matches() {
    if [ -z "$2" ]; then [ ! -s "$1" ]; else grep -q -e "$2" "$1"; fi
}
expect() { # expect NAME STATUS STDOUT_PATTERN STDERR_PATTERN ARGS...
    name=$1 want=$2 out=$3 err=$4
    shift 4
    "$husky" "$@" > "$work/out" 2> "$work/err" < /dev/null
    got=$?
    if [ $got != "$want" ] || ! matches "$work/out" "$out" || ! matches "$work/err" "$err"; then
        echo "FAILED: $name: exit $got (expected $want)"
        echo "--- stdout"; cat "$work/out"; echo "--- stderr"; cat "$work/err"
        fail=1
    fi
}
expect "--help" 0 "^usage: husky " "" --help
expect "-h" 0 "^usage: husky " "" -h
expect "--version" 0 "^husky [0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\$" "" --version
expect "-V" 0 "^husky [0-9]" "" -V
expect "--bogus" 2 "" "unrecognized option '--bogus'" --bogus
"$husky" -e help > "$work/list" 2>&1 || fail=1
topics=$(grep -E '^  [a-z]' "$work/list" | awk '{printf "help %s; ", $1}')
"$husky" -k -e "help; $topics help batchnorm" > "$work/help" 2>&1 || fail=1
wide=$(awk 'length($0) > 100 && $0 ~ /[^ ] +[^ ]/' "$work/help")
if [ -n "$wide" ]; then
    echo "FAILED: help lines over 100 columns:"
    echo "$wide"
    fail=1
fi
for cmd in "model import PATH" "attack pgd IMAGE" "serve \\[model=FILE\\]" "compile \\[optimizer"; do
    grep -q "^  $cmd" "$work/help" || { echo "FAILED: help does not list '$cmd'"; fail=1; }
done
[ $fail = 0 ] && { echo "1 passed, 0 failed"; exit 0; }
echo "0 passed, 1 failed"
exit 1
