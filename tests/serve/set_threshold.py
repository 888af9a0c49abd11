#!/usr/bin/env python3
"""set_threshold.py IN OUT X: copy the husky model file IN to OUT with its decision threshold set
to X (a `threshold X` header line replaces any there is), the header length and the file's
trailing SHA-256 rewritten, so that OUT is a valid model file (modelfile.h: magic, u32 version,
u32 header length, header text, tensor table and data, SHA-256 of everything before it). Written
independently of husky's writer, for tests that need a model with a chosen threshold."""
import hashlib
import struct
import sys


def main():
    src, dst, x = sys.argv[1], sys.argv[2], float(sys.argv[3])
    b = open(src, 'rb').read()
    body, digest = b[:-32], b[-32:]
    assert body[:8] == b'HUSKYMDL' and hashlib.sha256(body).digest() == digest, 'not an intact husky model file'
    (hlen,) = struct.unpack('<I', body[12:16])
    header = body[16:16 + hlen].decode()
    lines = [l for l in header.split('\n') if l and not l.startswith('threshold ')]
    header = '\n'.join(lines) + '\nthreshold %.6f\n' % x
    h = header.encode()
    out = body[:12] + struct.pack('<I', len(h)) + h + body[16 + hlen:]
    open(dst, 'wb').write(out + hashlib.sha256(out).digest())


main()
