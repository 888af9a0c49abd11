#!/bin/sh
# serve_bench.sh: how fast husky --serve answers, against predict in the shell on the same
# pictures. The blog network (128x128, untrained weights: speed does not depend on them) is saved
# once. Three rounds, each the shell predicting the bundled pictures (data/, 5 copies: 780 files;
# the time of a bare model load taken off) and then the server answering the same 780 pictures to
# serve_load (CLIENTS keep-alive clients on loopback), so that both meet the same machine load:
# wall-clock rate and CPU per picture of each, and the medians. Then 1 client for latency, and
# 10,000 requests with VmRSS read before and after. Every step stops by itself (serve_load at its
# request count or after 120 s, 900 s for the 10,000).
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

cat > "$work/blog.husky" <<END
seed 1337
model new input=128x128x3
conv2d 32 3x3 activation=relu
maxpool 2x2
dropout 0.4
conv2d 64 3x3 activation=relu
maxpool 2x2
dropout 0.4
conv2d 128 3x3 activation=relu
maxpool 2x2
dropout 0.4
flatten
dense 128 activation=relu
dense 1 activation=sigmoid
compile optimizer=adam lr=0.0005
model save $work/blog.hkm
END
"$husky" "$work/blog.husky" > /dev/null
pics=$(find "$PWD/data/train" "$PWD/data/validation" -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) | sort)
npics=$(echo "$pics" | wc -l)
mkdir "$work/many"
i=0
for r in 0 1 2 3 4; do
    for p in $pics; do
        ln -s "$p" "$work/many/$r-$i.${p##*.}"
        i=$((i + 1))
    done
done
echo "pictures: $npics files from data/; $i per round for the shell and for the server"

# wall and CPU seconds of a command (CPU: user + system of the process and its threads)
timed() { python3 -c 'import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f" % (time.time() - t, r.ru_utime + r.ru_stime))' "$@"; }

"$husky" --serve "$work/blog.hkm" port=0 rate=off conns=64 queue=64 audit=off > "$work/serve.out" 2>&1 &
pid=$!
n=0
while ! grep -q '^serving' "$work/serve.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
port=$(sed -n 's|^serving .* on http://[^:]*:\([0-9]*\)/ .*|\1|p' "$work/serve.out")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat"; }
"$load" "$port" $pics clients=4 requests=300 seconds=60 > /dev/null || true   # warm-up

: > "$work/rounds"
for round in 1 2 3; do
    bare=$(timed "$husky" -e "model load $work/blog.hkm")
    full=$(timed "$husky" -e "model load $work/blog.hkm; predict $work/many")
    c0=$(cpu)
    "$load" "$port" $pics clients="$clients" requests="$i" seconds=120 > "$work/load.out" || true
    c1=$(cpu)
    figs=$(sed -n 's/.* per_s=\([0-9.]*\) p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\).*/\1 \2 \3/p' "$work/load.out")
    echo "$i $bare $full $c0 $c1 $figs" |
        awk '{ printf "%.1f %.2f %s %.2f %s %s\n", $1 / ($4 - $2), 1000 * ($5 - $3) / $1, $8,
                      1000 * ($7 - $6) / $1, $9, $10 }' >> "$work/rounds"
    set -- $(tail -1 "$work/rounds")
    echo "round $round: shell $1 pictures/s ($2 ms CPU each); server, $clients clients: $3 pictures/s" \
        "($4 ms CPU each, p50 $5 ms, p99 $6 ms); load average $(cut -d' ' -f1 /proc/loadavg)"
done
med() { cut -d' ' -f"$1" "$work/rounds" | sort -g | sed -n 2p; }
echo "medians: shell $(med 1) pictures/s, $(med 2) ms CPU; server $(med 3) pictures/s, $(med 4) ms CPU, p99 $(med 6) ms"
echo "$(med 3) $(med 1) $(med 2) $(med 4)" |
    awk '{printf "server / shell predict: throughput %.2f (target 0.80), CPU per picture %.2f\n", $1 / $2, $3 / $4}'
echo "server, 1 client, 500 requests:"
"$load" "$port" $pics clients=1 requests=500 seconds=120 | tail -1
rss0=$(rss)
echo "server, $clients clients, 10,000 requests:"
"$load" "$port" $pics clients="$clients" requests=10000 seconds=900 | tail -1
rss1=$(rss)
echo "VmRSS before 10,000 requests: $((rss0 / 1024)) MB, after: $((rss1 / 1024)) MB"
kill "$pid"
wait "$pid" || true
pid=
