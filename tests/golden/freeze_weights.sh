#!/bin/sh
# freeze_weights.sh: a graph with a frozen stem and a frozen residual branch trains for two epochs
# (adam, L2 on the frozen convolution); the model saved before and after must hold the frozen
# layers' tensors bit for bit and the others changed. The .hkm tensor table is read here by an
# independent reader (python3), so the check does not trust husky's own loader.
# usage: freeze_weights.sh HUSKY SOURCE_ROOT
set -u
husky=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 2
"$husky" -e "seed 3; threads 1; model new input=16x16x3; \
conv2d 8 3x3 padding=same activation=relu name=stem l2=0.01; \
conv2d 8 3x3 padding=same activation=relu name=branch; add from=stem name=res; \
conv2d 4 1x1 activation=relu name=head; flatten; dense 1 activation=sigmoid; \
compile optimizer=adam lr=0.01; model freeze stem; model freeze branch..res; \
data train tests/fixtures/stripes/train; model save $work/before.hkm; \
train epochs=2 batch=8; wait; model save $work/after.hkm; model summary" > "$work/log" 2>&1 ||
    { cat "$work/log"; echo "0 passed, 1 failed"; exit 1; }
python3 - "$work/before.hkm" "$work/after.hkm" > "$work/actual" <<'PY' || { cat "$work/actual"; exit 1; }
import struct, sys

def tensors(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'HUSKYMDL'
    hlen = struct.unpack('<I', b[12:16])[0]
    pos = 16 + hlen
    count = struct.unpack('<I', b[pos:pos + 4])[0]
    pos += 4
    table = []
    for _ in range(count):
        n = struct.unpack('<H', b[pos:pos + 2])[0]
        name = b[pos + 2:pos + 2 + n].decode()
        pos += 2 + n
        rank = struct.unpack('<I', b[pos:pos + 4])[0]
        pos += 4 + 4 * rank
        off, size = struct.unpack('<QQ', b[pos:pos + 16])
        pos += 16
        table.append((name, off, size))
    return {name: b[pos + off:pos + off + size] for name, off, size in table}

a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
for name in a:
    print(name, 'same' if a[name] == b[name] else 'changed')
PY
cat > "$work/expected" <<'END'
stem/kernel same
stem/bias same
branch/kernel same
branch/bias same
head/kernel changed
head/bias changed
dense/kernel changed
dense/bias changed
END
fail=0
diff -u "$work/expected" "$work/actual" || fail=1
grep -q "^Trainable params: 1,061$" "$work/log" && grep -q "^Non-trainable params: 808$" "$work/log" ||
    { cat "$work/log"; fail=1; }
[ $fail = 0 ] && { echo "1 passed, 0 failed"; exit 0; }
echo "0 passed, 1 failed"
exit 1
