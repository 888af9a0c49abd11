#!/bin/sh
# write_targets.sh: what husky's one file writer (core/base/atomic_file.c) does with targets that
# are not plain files. Through a symbolic link (a chain of two, and a relative one in another
# folder) it replaces the file at the end and the links stay links; a FIFO, a UNIX socket (made
# here by python3) and a directory are refused with a message naming them and left in place, by
# model save, predict out=, history save and plot out= alike; out=- (and history save -) writes
# the CSV to standard output. The transcript must equal write_targets.out (trained figures with
# more than 4 decimals masked); then the file system is checked. No device is ever written to.
# usage: write_targets.sh HUSKY SOURCE_ROOT  (UPDATE=1 rewrites write_targets.out)
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
mkdir "$work/real" "$work/sub" "$work/dir.csv"
ln -s real/model.hkm "$work/link.hkm"     # not made yet: the first save makes it
ln -s link.hkm "$work/chain.hkm"
ln -s ../real/p.csv "$work/sub/p-link.csv" # relative to the link's folder, not to ours
mkfifo "$work/fifo.csv" "$work/fifo.hkm" "$work/fifo.png"
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$work/sock.csv" || exit 2
png=tests/fixtures/stripes/val
cat > "$work/script.husky" <<END
seed 1
threads 1
model new input=16x16x3
flatten
dense 1 activation=sigmoid
compile optimizer=sgd lr=0.1
# through two links to a file not made yet, then again with another model
model save $work/chain.hkm
model new input=8x8x3
flatten
dense 1 activation=sigmoid
model save $work/chain.hkm
model info $work/real/model.hkm
model new input=16x16x3
flatten
dense 1 activation=sigmoid
compile optimizer=sgd lr=0.1
predict $png/horizontal/00.png $png/vertical/00.png out=$work/sub/p-link.csv
# refused and left as they are, twice (a replaced FIFO would take the second write)
model save $work/fifo.hkm
model save $work/fifo.hkm
predict $png/horizontal/00.png out=$work/fifo.csv
predict $png/horizontal/00.png out=$work/sock.csv
predict $png/horizontal/00.png out=$work/sock.csv
predict $png/horizontal/00.png out=$work/dir.csv
data train tests/fixtures/stripes/train
train epochs=1 batch=16
wait
history save $work/fifo.csv
history save $work/sock.csv
plot loss out=$work/fifo.png
# standard output
predict $png/vertical out=-
history save -
END
"$husky" -k "$work/script.husky" > "$work/out" 2>&1
echo "exit $?" >> "$work/out"
sed -E -e 's/[0-9]+\.[0-9]+s  [0-9]+\.[0-9]+ img\/s/Ts N img\/s/g' -e "s#$work#TMP#g" \
    -e 's/^(tests[^,]*,[a-z]+),[01]\.[0-9]{6},$/\1,P,/' \
    -e 's/^1,[0-9.]+,([0-9.]+),,,[0-9.e+-]+,[0-9.e+-]+$/1,LOSS,\1,,,SECONDS,IMAGES_PER_S/' "$work/out" |
    perl -pe 's/([0-9a-f]{64})/"<hash " . ($seen{$1} ||= ++$count) . ">"/ge' > "$work/actual"
if [ "${UPDATE:-0}" = 1 ]; then
    cp "$work/actual" tests/hostile/write_targets.out
    echo "updated tests/hostile/write_targets.out"
    exit 0
fi
fail=0
diff -u tests/hostile/write_targets.out "$work/actual" || fail=1
check() {
    if ! eval "$1"; then
        echo "FAILED: $2"
        fail=1
    fi
}
check '[ -L "$work/chain.hkm" ] && [ -L "$work/link.hkm" ]' "a link to the model file was replaced"
check '[ -f "$work/real/model.hkm" ] && [ ! -L "$work/real/model.hkm" ]' "the link's target was not written"
check '[ -L "$work/sub/p-link.csv" ] && [ "$(head -n 1 "$work/real/p.csv")" = "path,class,probability,error" ]' \
    "predict out= through a relative link"
check '[ "$(wc -l < "$work/real/p.csv")" = 3 ]' "the CSV through the link does not have 3 lines"
check '[ -p "$work/fifo.csv" ] && [ -p "$work/fifo.hkm" ] && [ -p "$work/fifo.png" ]' "a FIFO was replaced"
check '[ -S "$work/sock.csv" ]' "the socket was replaced"
check '[ -d "$work/dir.csv" ] && [ -z "$(ls -A "$work/dir.csv")" ]' "the directory was changed"
check '! ls -A "$work" "$work/real" "$work/sub" | grep -q "\.tmp\."' "a temporary file was left behind"
[ $fail = 0 ] && { echo "1 passed, 0 failed"; exit 0; }
ls -la "$work" "$work/real" "$work/sub"
echo "0 passed, 1 failed"
exit 1
