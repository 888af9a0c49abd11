#!/bin/sh
# provenance.sh: meta entries husky does not interpret (a file's origin, licence, ...) survive
# model load -> model save in the shell, in file order, and so does a checkpoint of a run that
# fine-tunes the loaded model; model new starts without them. The entries are put into the file
# by tests/fixtures/edit_header.py, written independently of husky's writer.
# usage: provenance.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
model="model new input=8x8x3; conv2d 2 3x3; flatten; dense 1 activation=sigmoid; compile optimizer=adam"
fail=0
"$husky" -e "$model; model save $work/m.hkm" > "$work/log" 2>&1 || fail=1
python3 tests/fixtures/edit_header.py "$work/m.hkm" "$work/p.hkm" "meta origin.url https://example.org/m" \
    "meta licence MIT" || fail=1
"$husky" -e "model load $work/p.hkm; model save $work/again.hkm; data train tests/fixtures/stripes/train \
size=8x8; train epochs=1 batch=16 checkpoint=$work/ck monitor=loss; wait; $model; model save $work/new.hkm" \
    >> "$work/log" 2>&1 || fail=1
if [ $fail = 1 ]; then
    cat "$work/log"
    echo "0 passed, 1 failed"
    exit 1
fi
metas() { LC_ALL=C grep -a '^meta \(origin\|licence\)' "$1" | tr '\n' '|'; }
want="meta origin.url https://example.org/m|meta licence MIT|"
passed=0 failed=0
for f in again.hkm ck/last.hkm; do
    if [ "$(metas "$work/$f")" = "$want" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL: $f holds '$(metas "$work/$f")', expected '$want'"; fi
done
if [ -z "$(metas "$work/new.hkm")" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: a model made with model new kept '$(metas "$work/new.hkm")'"; fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
