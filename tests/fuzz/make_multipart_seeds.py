#!/usr/bin/python3
"""make_multipart_seeds.py: write the seed corpus of fuzz_multipart (tests/fuzz/corpus/multipart):
each seed is a Content-Type value, a newline, then the body. Valid uploads as curl and Chromium
send them (a small real JPEG from data/), a preamble, a quoted boundary, data that looks like the
boundary, an empty field; and one broken seed per refusal (its name says which).
    /usr/bin/python3 tests/fuzz/make_multipart_seeds.py"""
import os

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'corpus', 'multipart')
os.makedirs(out, exist_ok=True)
jpg = open(os.path.join(here, '..', '..', 'data', 'validation', 'husky', '52c46188291f7439.jpg'), 'rb').read()[:600]
B = b'------------------------d74496d66958873e'


def save(name, ctype, body):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(ctype + b'\n' + body)


def part(name, data, filename=b'husky.jpg', ctype=b'image/jpeg', boundary=B):
    return (b'--' + boundary + b'\r\nContent-Disposition: form-data; name="' + name + b'"; filename="' + filename +
            b'"\r\nContent-Type: ' + ctype + b'\r\n\r\n' + data + b'\r\n')


CT = b'multipart/form-data; boundary=' + B
save('valid-curl', CT, part(b'file', jpg) + b'--' + B + b'--\r\n')
WB = b'----WebKitFormBoundary7MA4YWxkTrZu0gW'
save('valid-chromium', b'multipart/form-data; boundary=' + WB,
     part(b'other', b'x', boundary=WB) + part(b'file', jpg, boundary=WB) + b'--' + WB + b'--\r\n')
save('valid-preamble', CT, b'preamble\r\n' + part(b'file', b'GIF89a') + b'--' + B + b'--')
save('valid-quoted', b'multipart/form-data; boundary="a b:c"',
     part(b'file', b'\x89PNG\r\n\x1a\n', boundary=b'a b:c') + b'--a b:c--')
save('valid-lookalike', CT, part(b'file', b'\r\n--' + B + b'X\r\n' + jpg[:50]) + b'--' + B + b'--')
save('valid-empty', CT, part(b'file', b'') + b'--' + B + b'--')
save('broken-no-boundary', b'multipart/form-data', part(b'file', jpg))
save('broken-other-type', b'text/plain; boundary=' + B, part(b'file', jpg))
save('broken-nul-header', CT, part(b'fi\0le', jpg) + b'--' + B + b'--')
save('broken-no-close', CT, part(b'file', jpg))
save('broken-no-field', CT, part(b'picture', jpg) + b'--' + B + b'--')
save('broken-header-no-colon', CT, b'--' + B + b'\r\nno colon here\r\n\r\nx\r\n--' + B + b'--')
save('broken-many-parts', CT, b''.join(part(b'f%d' % i, b'x') for i in range(70)) + b'--' + B + b'--')
