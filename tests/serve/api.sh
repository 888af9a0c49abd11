#!/bin/sh
# api.sh: the HTTP API of husky --serve with curl: GET / (a self-contained page), GET /model, POST
# /predict (the blog's fields, both hashes right, the same answer as the shell's predict), each
# error status with a JSON body (400 no boundary, 400 NUL in a part header, 404, 405, 413 declared,
# 413 chunked, 415 a text file, 413 a PNG bomb, 429 over rate= and burst=, 503 from a full queue made
# by queue=1 and 24 requests at once), the audit log's lines, SIGTERM; a model file's decision
# threshold decides the class served (and /model and the answer say it).
# usage: api.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$(cd "$2" && pwd)
. "$root/tests/serve/lib.sh"
pic=$root/data/validation/husky/52c46188291f7439.jpg
make_model "$work/m.hkm"
msha=$(sha256sum "$work/m.hkm" | cut -d' ' -f1)

start api "$work/m.hkm" rate=off audit="$work/audit.jsonl"
check "server starts" $?

s=$(status / ); check "GET / is 200 ($s)" $([ "$s" = 200 ] && echo 0 || echo 1)
grep -q 'id="drop"' "$work/body"; check "the page has its drop zone" $?
grep -q 'id="threshold"' "$work/body"; check "the page shows the decision threshold" $?
grep -Eiq '(src|href)=["'"'"']?(https?:)?//' "$work/body"; check "the page loads nothing from elsewhere" $([ $? = 1 ] && echo 0 || echo 1)

s=$(status /model); check "GET /model is 200 ($s)" $([ "$s" = 200 ] && echo 0 || echo 1)
json_ok; check "GET /model is JSON" $?
[ "$(field sha256)" = "$msha" ]; check "GET /model gives the file's sha256" $?
[ "$(field classes)" = "['husky', 'not_husky']" ]; check "GET /model gives the classes ($(field classes))" $?

s=$(status /predict -F "file=@$pic"); check "POST /predict is 200 ($s)" $([ "$s" = 200 ] && echo 0 || echo 1)
json_ok; check "POST /predict is JSON" $?
for f in class probability score text model_sha256 upload_sha256; do
    python3 -c "import json,sys; sys.exit(0 if sys.argv[1] in json.load(open('$work/body')) else 1)" "$f"
    check "POST /predict has $f" $?
done
[ "$(field model_sha256)" = "$msha" ]; check "model_sha256 is the file's" $?
[ "$(field upload_sha256)" = "$(sha256sum "$pic" | cut -d' ' -f1)" ]; check "upload_sha256 is the picture's" $?
case "$(field text)" in
    "It is a husky!"|"Does not look like a husky to me.") check "text is one of the blog's two" 0 ;;
    *) check "text is one of the blog's two: $(field text)" 1 ;;
esac
# the shell's predict of the same picture with the same file gives the same class and probability
want=$("$husky" -e "model load $work/m.hkm; predict $pic" | sed -n 's/^.*: \([a-z_]*\) \([0-9.]*\) .*/\1 \2/p')
got=$(python3 -c "import json; j=json.load(open('$work/body')); print(j['class'], '%.4f' % j['probability'])")
[ "$want" = "$got" ]; check "the same answer as predict in the shell ($want / $got)" $?

# the model's decision threshold: a file whose threshold lies on the other side of this picture's
# score from 0.5 makes the server answer the other class, as predict in the shell does; /model
# and the answer say the threshold
score=$(field score) cls0=$(field class)
[ "$(field threshold)" = 0.5 ]; check "a model without a threshold answers at 0.5 ($(field threshold))" $?
thr=$(python3 -c "s = $score; print('%.6f' % ((s + 1) / 2 if s >= 0.5 else s / 2))")
python3 "$root/tests/fixtures/edit_header.py" "$work/m.hkm" "$work/mt.hkm" "threshold $thr"
check "a model file with threshold $thr" $?
stop
start thr "$work/mt.hkm" rate=off audit=off
check "server with the threshold model starts" $?
s=$(status /model); python3 -c "import json; assert abs(json.load(open('$work/body'))['threshold'] - $thr) < 1e-6"
check "GET /model gives the threshold $thr" $?
s=$(status /predict -F "file=@$pic"); check "POST /predict at threshold $thr is 200 ($s)" $([ "$s" = 200 ] && echo 0 || echo 1)
[ "$(field score)" = "$score" ]; check "the score is the same ($score)" $?
python3 -c "import json; assert abs(json.load(open('$work/body'))['threshold'] - $thr) < 1e-6"
check "the answer gives the threshold" $?
[ "$(field class)" != "$cls0" ]; check "score $score at threshold $thr: not $cls0 as at 0.5 ($(field class))" $?
want=$("$husky" -e "model load $work/mt.hkm; predict $pic" | sed -n 's/^.*: \([a-z_]*\) \([0-9.]*\) .*/\1 \2/p')
got=$(python3 -c "import json; j=json.load(open('$work/body')); print(j['class'], '%.4f' % j['probability'])")
[ "$want" = "$got" ]; check "at the threshold, the same answer as predict in the shell ($want / $got)" $?
stop
start api2 "$work/m.hkm" rate=off audit="$work/audit.jsonl"
check "the server starts again" $?

err() { # err NAME WANT-STATUS PATH CURL-ARGS...: status and a JSON error body
    n=$1 want=$2
    shift 2
    s=$(status "$@")
    check "$n: $want ($s)" $([ "$s" = "$want" ] && echo 0 || echo 1)
    json_ok && python3 -c "import json,sys; j=json.load(open('$work/body')); sys.exit(0 if j['status']==$want and j['error'] else 1)"
    check "$n: a JSON error" $?
}
err "text file" 415 /predict -F "file=@$root/README.md"
printf 'GIF89a\001\000\001\000 not really' > "$work/fake.gif"
err "a GIF header and nothing else" 415 /predict -F "file=@$work/fake.gif"
err "no field named file" 400 /predict -F "other=@$pic"
err "multipart without a boundary" 400 /predict -H "Content-Type: multipart/form-data" --data-binary "@$pic"
printf -- '--b\r\nContent-Disposition: form-data; name="file"\000\r\n\r\nxx\r\n--b--\r\n' > "$work/nul.bin"
err "a NUL in the multipart body" 400 /predict -H "Content-Type: multipart/form-data; boundary=b" --data-binary "@$work/nul.bin"
err "not multipart" 400 /predict -H "Content-Type: application/json" --data-binary '{}'
err "unknown path" 404 /etc/passwd
err "GET /predict" 405 /predict
head -c 11000000 /dev/zero > "$work/big"
err "body over 10 MB, declared" 413 /predict -F "file=@$work/big"
err "body over 10 MB, chunked" 413 /predict -H "Transfer-Encoding: chunked" -F "file=@$work/big"
python3 -c "
import struct, zlib
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0)
idat = zlib.compress(b'', 9)
open('$work/bomb.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
"
err "PNG bomb (100000 x 100000 declared)" 413 /predict -F "file=@$work/bomb.png"
grep -q "too large" "$work/body"; check "the bomb's reason names the limit" $?

# the audit log: one JSON line per request so far, the start line first
n=$(wc -l < "$work/audit.jsonl")
python3 -c "
import json, sys
lines = [json.loads(l) for l in open('$work/audit.jsonl')]
assert lines[0]['event'] == 'start' and lines[0]['model_sha256'] == '$msha'
ok = [l for l in lines if l.get('path') == '/predict' and l['status'] == 200]
assert ok and ok[0]['upload_sha256'] and ok[0]['model_sha256'] == '$msha' and ok[0]['client'] == '127.0.0.1'
assert all(k in ok[0] for k in ('time', 'upload_bytes', 'latency_ms', 'class', 'probability'))
codes = sorted(set(l['status'] for l in lines if 'status' in l))
assert codes == [200, 400, 404, 405, 413, 415], codes
"
check "the audit log has a line per request ($n lines) with the fields" $?
stop; check "SIGTERM stops it with status 0" $?
tail -1 "$work/audit.jsonl" | grep -q '"event":"stop"'; check "the last audit line is the stop" $?

# 429: two requests a minute, burst 2: the third is refused with Retry-After
start rate "$work/m.hkm" rate=2/min burst=2 audit=off
check "server with rate=2/min starts" $?
s1=$(status /predict -F "file=@$pic"); s2=$(status /predict -F "file=@$pic")
s3=$(curl -s -m 20 -D "$work/headers" -o "$work/body" -w '%{http_code}' -F "file=@$pic" "http://127.0.0.1:$port/predict")
check "rate=2/min burst=2: 200 200 429 ($s1 $s2 $s3)" $([ "$s1$s2$s3" = 200200429 ] && echo 0 || echo 1)
grep -qi '^Retry-After: [0-9]' "$work/headers"; check "429 says Retry-After" $?
json_ok; check "429 is JSON" $?
s=$(status /model); check "GET /model is not rate limited ($s)" $([ "$s" = 200 ] && echo 0 || echo 1)
stop

# 503: the blog's network (about 10 ms a picture), queue=1 batch=1 and 24 requests at once: some
# find the queue full; every answer is a 200 or a 503
"$husky" -e "seed 1; model new input=128x128x3; conv2d 32 3x3 activation=relu; maxpool 2x2;
    conv2d 64 3x3 activation=relu; maxpool 2x2; conv2d 128 3x3 activation=relu; maxpool 2x2; flatten;
    dense 128 activation=relu; dense 1 activation=sigmoid; model save $work/blog.hkm" > /dev/null
start queue "$work/blog.hkm" rate=off queue=1 batch=1 conns=64 audit=off
check "server with queue=1 starts" $?
i=0
while [ $i -lt 24 ]; do
    curl -s -m 20 -o "$work/q$i" -w '%{http_code}\n' -F "file=@$pic" "http://127.0.0.1:$port/predict" > "$work/c$i" &
    i=$((i + 1))
done
wait_all=0
while [ $wait_all -lt 300 ] && [ "$(cat "$work"/c* 2>/dev/null | wc -l)" -lt 24 ]; do sleep 0.1; wait_all=$((wait_all + 1)); done
codes=$(cat "$work"/c* | sort | uniq -c | tr -s ' ' | tr '\n' ',')
bad=$(cat "$work"/c* | grep -cv '^\(200\|503\)$')
check "queue=1: every answer is 200 or 503 ($codes)" $([ "$bad" = 0 ] && echo 0 || echo 1)
grep -q '^503$' "$work"/c*; check "queue=1: some are 503" $?
grep -q '^200$' "$work"/c*; check "queue=1: some are 200" $?
grep -l '"status":503' "$work"/q* > /dev/null; check "a 503 is JSON" $?
echo "queue=1, 24 at once: $codes"
stop
finish
