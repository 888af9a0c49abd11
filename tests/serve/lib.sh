# lib.sh: helpers the serve tests source: a tiny trained model, starting `husky --serve` on a free
# loopback port and stopping it, and pass/fail counting. Every wait is bounded.
work=$(mktemp -d)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
fail=0 pass=0
check() { # check NAME STATUS (0 = pass)
    if [ "$2" = 0 ]; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
# make_model FILE [SEED]: a 32x32 network trained 2 epochs on the bundled pictures (classes husky,
# not_husky)
make_model() {
    "$husky" -e "seed ${2:-1}; threads 1; model new input=32x32x3; conv2d 4 3x3 activation=relu; maxpool 2x2;
        flatten; dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; data train $root/data/train;
        train epochs=2 batch=16; wait; model save $1" > "$work/make_model.log" 2>&1 ||
        { cat "$work/make_model.log"; echo "FAIL: make_model"; exit 1; }
}
# start NAME ARGS...: husky --serve ARGS (port=0 added) with output in $work/NAME.out; sets $port
# and $pid, or returns 1 when it exited (its output is then in $work/NAME.out)
start() {
    name=$1
    shift
    "$husky" --serve "$@" port=0 > "$work/$name.out" 2>&1 &
    pid=$!
    pids="$pids $pid"
    i=0
    while [ $i -lt 100 ]; do
        if grep -q '^serving' "$work/$name.out" 2>/dev/null; then
            port=$(sed -n 's|^serving .* on http://[^:]*:\([0-9]*\)/ .*|\1|p' "$work/$name.out")
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 1; }
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# stop: SIGTERM the last server and wait for it (at most 10 s); returns its exit status
stop() {
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    wait "$pid"
}
# status URL-PATH CURL-ARGS...: the HTTP status of a request (body in $work/body)
status() {
    p=$1
    shift
    curl -s -m 20 -o "$work/body" -w '%{http_code}' "$@" "http://127.0.0.1:$port$p"
}
json_ok() { python3 -m json.tool "$work/body" > /dev/null 2>&1; }
# field NAME: a top-level field of the JSON in $work/body
field() { python3 -c "import json,sys; print(json.load(open('$work/body'))[sys.argv[1]])" "$1"; }
