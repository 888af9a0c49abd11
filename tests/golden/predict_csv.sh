#!/bin/sh
# predict_csv.sh: `predict FOLDER out=FILE.csv` on a folder built here with awkward names (a comma,
# double quotes, a leading blank, a sub-folder, a hidden file, a text file): the CSV must quote
# those fields as RFC 4180 says, list the folder recursively in name order without hidden files,
# give the unreadable file's reason in the error column, and leave no temporary file behind.
# The model is untrained and has no class names ("class 0"/"class 1"): classes and
# probabilities are masked after their format is checked.
# usage: predict_csv.sh HUSKY SOURCE_ROOT
set -u
husky=$1 root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
png="$root/tests/fixtures/stripes/val/vertical/00.png"
mkdir -p "$work/in/sub" "$work/out"
cp "$png" "$work/in/a,b.png"
cp "$png" "$work/in/say \"hi\".png"
cp "$png" "$work/in/ lead.png"
cp "$png" "$work/in/sub/c.png"
cp "$png" "$work/in/.hidden.png"
echo "not a picture" > "$work/in/notes.txt"
"$husky" -e "seed 1; model new input=16x16x3; flatten; dense 1 activation=sigmoid; compile; \
predict $work/in out=$work/out/p.csv" > "$work/log" 2>&1 || { cat "$work/log"; echo "0 passed, 1 failed"; exit 1; }
sed -E -e "s#$work#W#g" -e 's/,0\.[0-9]{6},$/,P,/' -e 's/,1\.000000,$/,P,/' "$work/out/p.csv" > "$work/actual"
cat > "$work/expected" <<'END'
path,class,probability,error
W/in/ lead.png,CLASS,P,
"W/in/a,b.png",CLASS,P,
W/in/notes.txt,,,"not an image (expected JPEG, PNG, BMP or GIF)"
"W/in/say ""hi"".png",CLASS,P,
W/in/sub/c.png,CLASS,P,
END
fail=0
sed -i -E 's/,class [01],P,$/,CLASS,P,/' "$work/actual"
diff -u "$work/expected" "$work/actual" || fail=1
leftover=$(ls -A "$work/out" | grep -v '^p\.csv$')
[ -z "$leftover" ] || { echo "left behind: $leftover"; fail=1; }
grep -q "wrote $work/out/p.csv (4 pictures predicted, 1 unreadable)" "$work/log" || { cat "$work/log"; fail=1; }
[ $fail = 0 ] && { echo "1 passed, 0 failed"; exit 0; }
echo "0 passed, 1 failed"
exit 1
