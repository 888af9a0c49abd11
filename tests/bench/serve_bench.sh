#!/bin/sh
# serve_bench.sh: how fast husky --serve answers, against predict in the shell on the same
# pictures. The blog network (128x128, untrained weights: speed does not depend on them) is saved
# once; the shell predicts the bundled pictures (data/, repeated to 1560 files) and the time of a
# bare model load is taken off; the server gets the same pictures from serve_load (keep-alive
# clients on loopback), first 16 clients x 2000 requests for throughput and p99, then 10,000
# requests with VmRSS read before and after. Wall-clock and CPU time both: on a busy machine the
# CPU per picture (shell / server) is the comparison that holds. Prints the figures and ratios;
# every step stops by itself (serve_load stops at its request count or after 120 s, 900 s for
# the 10,000).
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
for r in 0 1 2 3 4 5 6 7 8 9; do
    for p in $pics; do
        ln -s "$p" "$work/many/$r-$i.${p##*.}"
        i=$((i + 1))
    done
done
echo "pictures: $npics files from data/, $i for the shell (10 copies)"

# wall and CPU seconds of a command (CPU: user + system of the process and its threads)
timed() { python3 -c 'import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f" % (time.time() - t, r.ru_utime + r.ru_stime))' "$@"; }
bare=$(timed "$husky" -e "model load $work/blog.hkm")
full=$(timed "$husky" -e "model load $work/blog.hkm; predict $work/many")
shell=$(echo "$i $bare $full" | awk '{printf "%.1f", $1 / ($4 - $2)}')
shell_cpu=$(echo "$i $bare $full" | awk '{printf "%.2f", 1000 * ($5 - $3) / $1}')
echo "shell predict: $shell pictures/s, $shell_cpu ms of CPU per picture ($i pictures; model load taken off)"

"$husky" --serve "$work/blog.hkm" port=0 rate=off conns=64 queue=64 audit=off > "$work/serve.out" 2>&1 &
pid=$!
n=0
while ! grep -q '^serving' "$work/serve.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
port=$(sed -n 's|^serving .* on http://[^:]*:\([0-9]*\)/ .*|\1|p' "$work/serve.out")
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
"$load" "$port" $pics clients=4 requests=500 seconds=60 > /dev/null || true   # warm-up
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat"; }
echo "server: $clients clients, 2000 requests"
c0=$(cpu)
"$load" "$port" $pics clients="$clients" requests=2000 seconds=120 | tee "$work/load.out"
c1=$(cpu)
serve=$(sed -n 's/.* per_s=\([0-9.]*\) .*/\1/p' "$work/load.out")
serve_cpu=$(echo "$c0 $c1" | awk '{printf "%.2f", 1000 * ($2 - $1) / 2000}')
echo "server: $serve_cpu ms of CPU per picture (HTTP, multipart, hash, decode, resize, predict)"
echo "server: 1 client, 500 requests"
"$load" "$port" $pics clients=1 requests=500 seconds=120 | tail -1
rss0=$(rss)
"$load" "$port" $pics clients="$clients" requests=10000 seconds=900 | tail -1
rss1=$(rss)
echo "RSS before 10,000 requests: $((rss0 / 1024)) MB, after: $((rss1 / 1024)) MB"
echo "$serve $shell $serve_cpu $shell_cpu" | awk '{printf "server / shell predict: throughput %.2f (target 0.80), CPU per picture %.2f\n", $1 / $2, $4 / $3}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$pid"
wait "$pid" || true
pid=
