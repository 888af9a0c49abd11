#!/usr/bin/python3
"""make_manifest_seeds.py: write the data manifest reader's seed corpus (tests/fuzz/corpus/manifest)
next to husky-written.manifest, a manifest written by husky (data manifest) for
tests/fixtures/images-ds (loaded and skipped files) and tests/fixtures/stripes/val. The valid
seeds use every escape, comments, empty lines, CRLF, a missing last newline and repeated paths;
each broken seed breaks one rule of core/data/manifest.h (the message husky gives is in the name).
    /usr/bin/python3 tests/fuzz/make_manifest_seeds.py"""
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'manifest')
MAGIC = b'husky-manifest 1\n'
H1 = b'6df489e00ce7ed14095e07858aaba9fbe1f0792e0701d4965276f29d9108be30'
H2 = b'C1B5CA08795880389663E8ACC34A130D9BB8B9DDE530E415F6AC514E61AA30C0'
OK = b'train\thusky\tok\t' + H1 + b'\thusky/a.jpg\n'


def save(name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


# valid
save('valid-minimal.manifest', MAGIC)
save('valid-one.manifest', MAGIC + OK)
save('valid-escapes.manifest', MAGIC + b'train\thus\\\\ky\tok\t' + H2 +
     b'\ta\\tb\\nc\\rd\\x01\\x7f\\xff \xc3\xa9t\xc3\xa9.jpg\n')
save('valid-comments-crlf.manifest', MAGIC.replace(b'\n', b'\r\n') + b'# comment\r\n\r\n\n' +
     OK.replace(b'\n', b'\r\n') + b'val\tnot_husky\tskipped\t-\tnot_husky/big.png')
save('valid-moved.manifest', MAGIC + OK + b'val\tnot_husky\tok\t' + H1 + b'\tnot_husky/a.jpg\n' +
     b'val\thusky\tskipped\t' + H2 + b'\thusky/b.jpg\n')
save('valid-repeated-path.manifest', MAGIC + OK + OK.replace(H1, H2) + OK)

# broken
save('empty.manifest', b'')
save('no-magic.manifest', OK)
save('magic-version-2.manifest', b'husky-manifest 2\n' + OK)
save('nul-byte.manifest', MAGIC + OK.replace(b'husky/a', b'husky\0a'))
save('line-too-long.manifest', MAGIC + b'train\thusky\tok\t' + H1 + b'\t' + b'x' * 9000 + b'\n')
save('four-fields.manifest', MAGIC + b'train\thusky\tok\t' + H1 + b'\n')
save('six-fields.manifest', MAGIC + OK.replace(b'\n', b'\textra\n'))
save('empty-label.manifest', MAGIC + OK.replace(b'\thusky\t', b'\t\t'))
save('bad-state.manifest', MAGIC + OK.replace(b'\tok\t', b'\tOK\t'))
save('short-sha.manifest', MAGIC + OK.replace(H1, H1[:63]))
save('bad-hex-sha.manifest', MAGIC + OK.replace(H1, b'g' + H1[1:]))
save('ok-without-sha.manifest', MAGIC + OK.replace(H1, b'-'))
save('raw-control.manifest', MAGIC + OK.replace(b'husky/a', b'husky\x01a'))
save('backslash-at-end.manifest', MAGIC + OK.replace(b'a.jpg', b'a.jpg\\'))
save('unknown-escape.manifest', MAGIC + OK.replace(b'a.jpg', b'a\\q.jpg'))
save('short-hex-escape.manifest', MAGIC + OK.replace(b'a.jpg', b'a.jpg\\x4'))
save('escaped-nul.manifest', MAGIC + OK.replace(b'a.jpg', b'a\\x00.jpg'))
save('bad-after-good.manifest', MAGIC + OK * 3 + b'train\thusky\tmaybe\t-\thusky/z.jpg\n')
