#!/usr/bin/python3
"""make_image_seeds.py: write the generated part of the image fuzz target's seed corpus
(tests/fuzz/corpus/image): valid pictures of every accepted format and variant (Pillow), and
broken ones (truncated, lying headers, bad markers, many frames, text). Run from any folder:
    /usr/bin/python3 tests/fuzz/make_image_seeds.py"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'image')
rng = np.random.default_rng(1)


def save(name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


def encode(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def rgb(w, h):
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8), 'RGB')


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def png(w, h, idat):
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b'')


jpeg = encode(rgb(16, 9), 'JPEG', quality=80)
save('rgb16x9.jpg', jpeg)
save('progressive.jpg', encode(rgb(17, 11), 'JPEG', progressive=True, quality=70))
save('grey.jpg', encode(rgb(8, 8).convert('L'), 'JPEG'))
save('rgba.png', encode(Image.fromarray(rng.integers(0, 256, size=(5, 7, 4), dtype=np.uint8), 'RGBA'), 'PNG'))
save('palette.png', encode(rgb(9, 6).convert('P'), 'PNG'))
save('grey.png', encode(rgb(5, 5).convert('L'), 'PNG'))
save('grey16.png', encode(Image.fromarray(rng.integers(0, 65536, size=(4, 4)).astype(np.uint16)), 'PNG'))
bmp = encode(rgb(5, 4), 'BMP')
save('rgb5x4.bmp', bmp)
save('grey.gif', encode(rgb(6, 6).convert('L'), 'GIF'))
frames = [rgb(4, 4) for _ in range(40)]
save('many-frames.gif', encode(frames[0], 'GIF', save_all=True, append_images=frames[1:]))

save('huge-claim.png', png(100000, 100000, zlib.compress(b'\0' * 64)))
save('short-idat.png', png(4000, 3, zlib.compress(b'\0' * 64)))
good_png = png(3, 2, zlib.compress(b'\0' + b'\x80' * 9 + b'\0' + b'\x40' * 9))
save('rgb3x2.png', good_png)
save('truncated.png', good_png[:len(good_png) // 2])
save('bad-crc-ihdr.png', good_png[:32] + bytes([good_png[32] ^ 1]) + good_png[33:])
save('truncated16.jpg', jpeg[:len(jpeg) * 2 // 3])
save('bad-marker.jpg', jpeg[:2] + b'\xff\x01\x00\x04ab' + jpeg[2:])
save('bad-sof.jpg', jpeg.replace(b'\xff\xc0', b'\xff\xcf', 1))
save('truncated.bmp', bmp[:40])
save('only-magic.bmp', b'BM')
save('only-magic.gif', b'GIF89a')
save('only-soi.jpg', b'\xff\xd8\xff')
save('text.jpg', b'this is not a picture, only text named like one\n')
