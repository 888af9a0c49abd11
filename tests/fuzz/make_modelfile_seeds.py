#!/usr/bin/python3
"""make_modelfile_seeds.py: write the broken model files of the model loader's seed corpus
(tests/fuzz/corpus/modelfile) from tiny.hkm, a valid file saved by husky. Each one lies in one
place: header length, header commands, tensor table, data length. The SHA-256 trailer is
recomputed (the fuzz target does the same), so the loader's checks behind the hash are reached.
    /usr/bin/python3 tests/fuzz/make_modelfile_seeds.py"""
import hashlib
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'modelfile')
tiny = open(os.path.join(out, 'tiny.hkm'), 'rb').read()
hlen = struct.unpack('<I', tiny[12:16])[0]
header = tiny[16:16 + hlen]
rest = tiny[16 + hlen:-32]


def save(name, body, fix_hash=True, trailer=True):
    data = body + (hashlib.sha256(body).digest() if fix_hash else b'\0' * 32 if trailer else b'')
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


def with_header(text):
    return tiny[:12] + struct.pack('<I', len(text)) + text + rest


save('header-too-long.hkm', tiny[:12] + struct.pack('<I', 0xFFFFFFF0) + tiny[16:-32])
save('header-past-end.hkm', tiny[:12] + struct.pack('<I', hlen + 4000) + tiny[16:-32])
save('unknown-command.hkm', with_header(header.replace(b'flatten', b'system ')))
save('huge-dense.hkm', with_header(header.replace(b'dense 1 ', b'dense 100000000 ')))
save('huge-conv.hkm', with_header(header.replace(b'conv2d 2 3x3', b'conv2d 65536 1000x1000 padding=same')))
save('huge-input.hkm', with_header(header.replace(b'input=6x6x3', b'input=1000000x1000000x3')))
save('no-model-line.hkm', with_header(header.replace(b'model new', b'# model ne')))
save('bad-utf8.hkm', with_header(header.replace(b'husky 0.1.0', b'husky \xff\xfe1.0')))
save('nul-in-header.hkm', with_header(header.replace(b'maxpool', b'max\0ool')))
save('version-2.hkm', tiny[:8] + struct.pack('<I', 2) + tiny[12:-32])
save('hash-wrong.hkm', tiny[:-32], fix_hash=False)
save('truncated-table.hkm', tiny[:16 + hlen + 20])
save('truncated-data.hkm', tiny[:-32 - 40])
# tensor count and the first table entry
t = 16 + hlen
count = struct.unpack('<I', tiny[t:t + 4])[0]
save('many-tensors.hkm', tiny[:t] + struct.pack('<I', 4096) + tiny[t + 4:-32])
save('too-many-tensors.hkm', tiny[:t] + struct.pack('<I', 0xFFFFFFFF) + tiny[t + 4:-32])
e = t + 4
name_len = struct.unpack('<H', tiny[e:e + 2])[0]
rank_at = e + 2 + name_len
save('rank-9.hkm', tiny[:rank_at] + struct.pack('<I', 9) + tiny[rank_at + 4:-32])
dims_at = rank_at + 4
save('dim-huge.hkm', tiny[:dims_at] + struct.pack('<I', 0x40000000) + tiny[dims_at + 4:-32])
save('name-long.hkm', tiny[:e] + struct.pack('<H', 60000) + tiny[e + 2:-32])
rank = struct.unpack('<I', tiny[rank_at:rank_at + 4])[0]
off_at = dims_at + 4 * rank
save('offset-overlap.hkm', tiny[:off_at] + struct.pack('<Q', 4) + tiny[off_at + 8:-32])
save('offset-huge.hkm', tiny[:off_at] + struct.pack('<Q', 1 << 62) + tiny[off_at + 8:-32])
save('length-lies.hkm', tiny[:off_at + 8] + struct.pack('<Q', 1 << 40) + tiny[off_at + 16:-32])
save('only-magic.hkm', b'HUSKYMDL', fix_hash=False, trailer=False)
save('empty.hkm', b'', fix_hash=False, trailer=False)
# graphs and freezing (issue 13): valid files with an add and freeze lines, and lies in them
save('add-self.hkm', with_header(header.replace(b'maxpool 2x2\n', b'maxpool 2x2\nadd from=max_pooling2d\n')))
save('freeze-valid.hkm', with_header(header.replace(b'rescale', b'model freeze conv2d..flatten\nrescale')))
save('freeze-unknown.hkm', with_header(header.replace(b'rescale', b'model freeze nope\nrescale')))
save('freeze-backwards.hkm', with_header(header.replace(b'rescale', b'model freeze dense..conv2d\nrescale')))
save('add-shape.hkm', with_header(header.replace(b'flatten\n', b'flatten\nadd from=conv2d\n')))
save('input-later.hkm', with_header(header.replace(b'flatten\n', b'flatten input=dense\n')))
save('name-taken.hkm', with_header(header.replace(b'flatten\n', b'flatten name=conv2d\n')))
save('names-renamed.hkm', with_header(header.replace(b'activation=relu\n', b'activation=relu name=stem\n')))
# the layers of modern networks (issue 13): modern.hkm, saved by husky from
#   seed 3; model new input=6x6x3; conv2d 2 3x3 padding=same bias=no; batchnorm; activation relu6;
#   depthwise 3x3 padding=same; zeropad 0,1,0,1; avgpool 2x2 padding=same; global_avgpool;
#   dense 1 activation=sigmoid
# and lies in its header: options out of range, and a batchnorm over other channels than its
# gamma, beta and moving statistics tensors hold
modern = open(os.path.join(out, 'modern.hkm'), 'rb').read()
mlen = struct.unpack('<I', modern[12:16])[0]
mheader = modern[16:16 + mlen]
mrest = modern[16 + mlen:-32]


def modern_with(old, new):
    text = mheader.replace(old, new)
    assert text != mheader, old
    return modern[:12] + struct.pack('<I', len(text)) + text + mrest


save('modern-epsilon-0.hkm', modern_with(b'batchnorm', b'batchnorm epsilon=0'))
save('modern-momentum.hkm', modern_with(b'batchnorm', b'batchnorm momentum=7'))
save('modern-depthwise-huge.hkm', modern_with(b'depthwise 3x3', b'depthwise 9x9'))
save('modern-zeropad-huge.hkm', modern_with(b'zeropad 0,1,0,1', b'zeropad 4096,4096,4096,4096'))
save('modern-bn-channels.hkm', modern_with(b'conv2d 2 3x3', b'conv2d 3 3x3'))
save('modern-no-bias.hkm', modern_with(b'depthwise 3x3 padding=same', b'depthwise 3x3 padding=same bias=no'))
