#!/bin/sh
# signed.sh: signed and pinned models. model keygen/sign; husky --serve trust=KEY.pub serves a
# signed file and refuses at start a file whose signature is another file's, or missing; sha256=
# refuses a file with another hash. At reload (SIGHUP, and serve reload in the shell) a file that
# fails its check is refused while the old model keeps answering, and each reload writes one audit
# line with the old and new hashes. serve without model= serves a copy of the shell's model that a
# later model load in the shell does not change until serve reload.
# usage: signed.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$(cd "$2" && pwd)
. "$root/tests/serve/lib.sh"
pic=$root/data/validation/husky/52c46188291f7439.jpg
make_model "$work/a.hkm" 1
make_model "$work/b.hkm" 2
asha=$(sha256sum "$work/a.hkm" | cut -d' ' -f1)
bsha=$(sha256sum "$work/b.hkm" | cut -d' ' -f1)
[ "$asha" != "$bsha" ]; check "two different models" $?
served_sha() { status /model > /dev/null && field sha256; }

"$husky" -e "model keygen $work/k; model sign $work/a.hkm key=$work/k" > "$work/keygen.out" 2>&1
check "model keygen and model sign" $?
[ "$(stat -c %a "$work/k")" = 600 ] && [ -f "$work/k.pub" ] && [ -f "$work/a.hkm.sig" ]
check "KEY is 0600, KEY.pub and FILE.sig exist" $?
"$husky" -e "model keygen $work/k" > "$work/again.out" 2>&1
[ $? != 0 ] && grep -q "never overwritten" "$work/again.out"; check "model keygen never overwrites a key" $?

start good "$work/a.hkm" trust="$work/k.pub" audit=off
check "a signed model is served" $?
[ "$(served_sha)" = "$asha" ]; check "GET /model gives its hash" $?
stop

cp "$work/b.hkm" "$work/bad.hkm"
cp "$work/a.hkm.sig" "$work/bad.hkm.sig"
start badsig "$work/bad.hkm" trust="$work/k.pub" audit=off
[ $? != 0 ] && grep -q "does not verify" "$work/badsig.out"; check "a bad signature is refused at start" $?
start nosig "$work/b.hkm" trust="$work/k.pub" audit=off
[ $? != 0 ] && grep -q "b.hkm.sig" "$work/nosig.out"; check "a missing signature is refused at start" $?
start badpin "$work/b.hkm" sha256="$asha" audit=off
[ $? != 0 ] && grep -q "not the pinned $asha" "$work/badpin.out"; check "a mismatched pin is refused at start" $?
start goodpin "$work/a.hkm" sha256="$asha" audit=off
check "the right pin is served" $?
stop

# reload by SIGHUP: the file changes under the server
cp "$work/a.hkm" "$work/s.hkm"
cp "$work/a.hkm.sig" "$work/s.hkm.sig"
start hup "$work/s.hkm" trust="$work/k.pub" audit="$work/audit.jsonl"
check "signed s.hkm is served" $?
cp "$work/b.hkm" "$work/s.hkm"
kill -HUP "$pid"
i=0
while [ $i -lt 50 ] && ! grep -q reload "$work/audit.jsonl"; do sleep 0.1; i=$((i + 1)); done
[ "$(served_sha)" = "$asha" ]; check "a reload whose signature fails keeps the old model" $?
s=$(status /predict -F "file=@$pic"); check "and it still predicts ($s)" $([ "$s" = 200 ] && [ "$(field model_sha256)" = "$asha" ] && echo 0 || echo 1)
"$husky" -e "model sign $work/s.hkm key=$work/k" > /dev/null 2>&1
kill -HUP "$pid"
i=0
while [ $i -lt 50 ] && [ "$(grep -c reload "$work/audit.jsonl")" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(served_sha)" = "$bsha" ]; check "a reload of a signed file swaps the model" $?
stop
python3 -c "
import json
r = [json.loads(l) for l in open('$work/audit.jsonl') if '\"reload\"' in l]
assert len(r) == 2, r
assert r[0]['ok'] is False and r[0]['old_model_sha256'] == '$asha' and r[0]['new_model_sha256'] == '$bsha' and 'verify' in r[0]['error']
assert r[1]['ok'] is True and r[1]['old_model_sha256'] == '$asha' and r[1]['new_model_sha256'] == '$bsha'
"
check "one audit line per reload, with old and new hashes and the outcome" $?

# a pinned server refuses a changed file at reload
cp "$work/a.hkm" "$work/p.hkm"
start pin "$work/p.hkm" sha256="$asha" audit=off
cp "$work/b.hkm" "$work/p.hkm"
kill -HUP "$pid"
sleep 1
[ "$(served_sha)" = "$asha" ]; check "a reload that breaks the pin keeps the old model" $?
stop
grep -q "not the pinned" "$work/pin.out"; check "and says why" $?

# the shell: serve reload refused and accepted; serve of the shell's own model
cat > "$work/shell.husky" <<END
serve model=$work/a.hkm trust=$work/k.pub port=0 audit=off
serve reload model=$work/b.hkm
serve status
model sign $work/b.hkm key=$work/k
serve reload model=$work/b.hkm
serve status
serve stop
model load $work/a.hkm
serve port=0 audit=off
serve status
model load $work/b.hkm
serve status
serve reload
serve status
serve stop
END
"$husky" -k "$work/shell.husky" > "$work/shell.out" 2>&1
grep -q "b.hkm.sig.*; still serving the old model" "$work/shell.out"; check "serve reload of an unsigned file is refused" $?
sed -n 's/^model .*, sha256 \([0-9a-f]*\), port .*/\1/p' "$work/shell.out" > "$work/hashes"
[ "$(sed -n 1p "$work/hashes")" = "$asha" ] && [ "$(sed -n 2p "$work/hashes")" = "$bsha" ]
check "serve status: the old model after the refusal, the new one after a good reload" $?
copy1=$(sed -n 3p "$work/hashes") copy2=$(sed -n 4p "$work/hashes") copy3=$(sed -n 5p "$work/hashes")
[ -n "$copy1" ] && [ "$copy1" = "$copy2" ] && [ "$copy2" != "$copy3" ]
check "model load in the shell does not change what is served until serve reload" $?
grep -q "^model the shell's model, sha256" "$work/shell.out"; check "serve status names the shell's model" $?
finish
