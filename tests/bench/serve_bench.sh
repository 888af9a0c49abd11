#!/bin/sh
# serve_bench.sh: how fast husky --serve answers, against predict in the shell on the same
# pictures. The blog network (128x128, untrained weights: speed does not depend on them) is saved
# once; the shell predicts the bundled pictures (data/, repeated to 1560 files) and the time of a
# bare model load is taken off; the server gets the same pictures from serve_load (keep-alive
# clients on loopback), first 16 clients x 2000 requests for throughput and p99, then 10,000
# requests with VmRSS read before and after. Prints the figures and ratios; every step stops by
# itself (serve_load stops at its request count or 120 s).
# usage: tests/bench/serve_bench.sh BUILD_DIR [CLIENTS]
set -eu
build=$(cd "$1" && pwd)
clients=${2:-16}
cd "$(dirname "$0")/../.."
husky=$build/repl/husky
load=$build/tests/bench/serve_load
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
now() { date +%s.%N; }

"$husky" -e "seed 1337; model new input=128x128x3; conv2d 32 3x3 activation=relu; maxpool 2x2; dropout 0.4;
    conv2d 64 3x3 activation=relu; maxpool 2x2; dropout 0.4; conv2d 128 3x3 activation=relu; maxpool 2x2;
    dropout 0.4; flatten; dense 128 activation=relu; dense 1 activation=sigmoid;
    compile optimizer=adam lr=0.0005; model save $work/blog.hkm" > /dev/null
pics=$(find "$PWD/data" -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) | sort)
npics=$(echo "$pics" | wc -l)
mkdir "$work/many"
i=0
for r in 0 1 2 3 4 5 6 7 8 9; do
    for p in $pics; do
        ln -s "$p" "$work/many/$r-$i.${p##*.}"
        i=$((i + 1))
    done
done
echo "pictures: $npics files from data/, $i for the shell (10 copies)"

t0=$(now); "$husky" -e "model load $work/blog.hkm" > /dev/null; t1=$(now)
"$husky" -e "model load $work/blog.hkm; predict $work/many" > "$work/predict.out"; t2=$(now)
shell=$(echo "$i $t0 $t1 $t2" | awk '{printf "%.1f", $1 / (($4 - $3) - ($2 - $1))}')
echo "shell predict: $shell pictures/s ($i pictures, model load time taken off)"

"$husky" --serve "$work/blog.hkm" port=0 rate=off conns=64 queue=64 audit=off > "$work/serve.out" 2>&1 &
pid=$!
n=0
while ! grep -q '^serving' "$work/serve.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
port=$(sed -n 's|^serving .* on http://[^:]*:\([0-9]*\)/ .*|\1|p' "$work/serve.out")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
"$load" "$port" $pics clients=4 requests=500 seconds=60 > /dev/null || true   # warm-up
echo "server: $clients clients, 2000 requests"
"$load" "$port" $pics clients="$clients" requests=2000 seconds=120 | tee "$work/load.out"
serve=$(sed -n 's/.* per_s=\([0-9.]*\) .*/\1/p' "$work/load.out")
echo "server: 1 client, 500 requests"
"$load" "$port" $pics clients=1 requests=500 seconds=120 | tail -1
rss0=$(rss)
"$load" "$port" $pics clients="$clients" requests=10000 seconds=120 | tail -1
rss1=$(rss)
echo "RSS before 10,000 requests: $((rss0 / 1024)) MB, after: $((rss1 / 1024)) MB"
echo "$serve $shell" | awk '{printf "server / shell predict throughput: %.2f (target 0.80)\n", $1 / $2}'
kill "$pid"
wait "$pid" || true
pid=
