#!/usr/bin/python3
"""hostile.py: hostile requests against husky --serve over raw loopback sockets. Each gets its
status or is cut off by a timeout, and the server keeps answering others: a body over the limit
declared and sent chunked without a length, multipart without a boundary and with a NUL, a text
file as the picture, a PNG bomb (huge declared size), 1,000 connections opened at once, a client
that sends one byte a second (closed by deadline=), and afterwards a normal request still works.
Other clients use other loopback addresses (127.0.0.2, 127.0.0.3), as distinct clients would be.
usage: hostile.py HUSKY SOURCE_ROOT"""
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

husky, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
work = tempfile.mkdtemp()
passed = failed = 0
server = None
port = 0
pic = open(os.path.join(root, 'data/validation/husky/52c46188291f7439.jpg'), 'rb').read()


def check(name, ok):
    global passed, failed
    if ok:
        passed += 1
        if os.environ.get('VERBOSE'):
            print('ok:', name, flush=True)
    else:
        failed += 1
        print('FAIL:', name, flush=True)


def connect(src='127.0.0.1', timeout=20):
    return socket.create_connection(('127.0.0.1', port), timeout=timeout, source_address=(src, 0))


def read_answer(s):
    """The status of the answer on s, or None when the connection closes first or times out."""
    data = b''
    try:
        while b'\r\n\r\n' not in data:
            b = s.recv(65536)
            if not b:
                return None, b''
            data += b
            # a 100 Continue comes before the answer
            while data.startswith(b'HTTP/1.1 100') and b'\r\n\r\n' in data:
                data = data.split(b'\r\n\r\n', 1)[1]
        head, body = data.split(b'\r\n\r\n', 1)
        length = 0
        for line in head.split(b'\r\n')[1:]:
            k, _, v = line.partition(b':')
            if k.strip().lower() == b'content-length':
                length = int(v)
        while len(body) < length:
            b = s.recv(65536)
            if not b:
                break
            body += b
        return int(head.split()[1]), body
    except (socket.timeout, ConnectionResetError):
        return None, b''


def multipart(field, data, boundary=b'hUsKy', ctype=b'image/jpeg'):
    return (b'--' + boundary + b'\r\nContent-Disposition: form-data; name="' + field + b'"; filename="x"\r\n'
            b'Content-Type: ' + ctype + b'\r\n\r\n' + data + b'\r\n--' + boundary + b'--\r\n')


def post(body, ctype=b'multipart/form-data; boundary=hUsKy', src='127.0.0.1', extra=b''):
    s = connect(src)
    s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: ' + ctype + b'\r\nContent-Length: ' +
              str(len(body)).encode() + b'\r\n' + extra + b'\r\n' + body)
    st, b = read_answer(s)
    s.close()
    return st, b


def good(src):
    st, b = post(multipart(b'file', pic), src=src)
    try:
        return st == 200 and 'class' in json.loads(b)
    except ValueError:
        return False


def make_model(path):
    cmd = ('seed 1; threads 1; model new input=32x32x3; conv2d 4 3x3 activation=relu; maxpool 2x2; flatten; '
           'dense 1 activation=sigmoid; compile optimizer=adam lr=0.01; data train %s/data/train; '
           'train epochs=1 batch=16; wait; model save %s' % (root, path))
    subprocess.run([husky, '-e', cmd], check=True, stdout=subprocess.DEVNULL, timeout=120)


def start(*args):
    global server, port
    out = open(os.path.join(work, 'server.out'), 'w+')
    server = subprocess.Popen([husky, '--serve'] + list(args) + ['port=0'], stdout=out, stderr=subprocess.STDOUT)
    for _ in range(100):
        out.seek(0)
        text = out.read()
        if text.startswith('serving'):
            port = int(text.split('http://127.0.0.1:')[1].split('/')[0])
            return True
        if server.poll() is not None:
            print(text)
            return False
        time.sleep(0.1)
    return False


def test_bodies():
    # declared over the limit: the answer comes before the body is sent
    s = connect()
    s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n'
              b'Content-Length: 20000000\r\nExpect: 100-continue\r\n\r\n')
    st, _ = read_answer(s)
    s.close()
    check('declared 20 MB body: 413 (%s)' % st, st == 413)
    # chunked without a length, 11 MB: read and dropped, then 413
    s = connect()
    s.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n'
              b'Transfer-Encoding: chunked\r\n\r\n')
    chunk = b'x' * 65536
    for _ in range(11 * 16):
        s.sendall(b'%x\r\n' % len(chunk) + chunk + b'\r\n')
    s.sendall(b'0\r\n\r\n')
    st, _ = read_answer(s)
    s.close()
    check('chunked 11 MB body: 413 (%s)' % st, st == 413)
    st, b = post(multipart(b'file', pic), ctype=b'multipart/form-data')
    check('multipart without a boundary: 400 (%s)' % st, st == 400 and b'boundary' in b)
    nul = b'--hUsKy\r\nContent-Disposition: form-data; name="fi\0le"\r\n\r\n' + pic + b'\r\n--hUsKy--\r\n'
    st, b = post(nul)
    check('NUL in a part header: 400 (%s)' % st, st == 400 and b'NUL' in b)
    st, b = post(b'--hUsKy\r\nContent-Disposition: form-data; name="file"\r\n\r\n' + pic)
    check('no closing boundary: 400 (%s)' % st, st == 400)
    st, b = post(multipart(b'file', b'just some text\n', ctype=b'image/png'))
    check('a text file claiming image/png: 415 (%s)' % st, st == 415)
    st, b = post(multipart(b'file', b'BM' + bytes(100)))
    check('a BMP (not one of the three formats): 415 (%s)' % st, st == 415)

    def chunk_png(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    bomb = (b'\x89PNG\r\n\x1a\n' + chunk_png(b'IHDR', struct.pack('>IIBBBBB', 60000, 60000, 8, 2, 0, 0, 0)) +
            chunk_png(b'IDAT', zlib.compress(bytes(1 << 20), 9)) + chunk_png(b'IEND', b''))
    st, b = post(multipart(b'file', bomb, ctype=b'image/png'))
    check('PNG bomb, 60000x60000 declared: 413 (%s) %s' % (st, b[:80]), st == 413 and b'too large' in b)
    check('a good request after these: 200', good('127.0.0.1'))


def test_many_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    n = min(1000, want - 64)
    socks = []
    t0 = time.time()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(('127.0.0.1', port))
        except OSError:
            pass
        socks.append(s)
    check('%d connections opened in %.1f s' % (n, time.time() - t0), len(socks) == n)
    ok = good('127.0.0.2')
    check('with %d connections open, another client is answered' % n, ok)
    for s in socks:
        s.close()
    ok = False
    for _ in range(50):  # the server notices the closed ones within its timeout
        try:
            if good('127.0.0.1'):
                ok = True
                break
        except OSError:
            pass
        time.sleep(0.2)
    check('after they close, the same client is answered again', ok)


def test_slow_client(deadline):
    s = connect(timeout=2)
    request = b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n'
    t0 = time.time()
    closed_after = None
    answered = 0
    for i in range(len(request)):
        if time.time() - t0 > deadline + 8:
            break
        try:
            s.sendall(request[i:i + 1])
            s.settimeout(0.01)
            try:
                if s.recv(1) == b'':
                    closed_after = time.time() - t0
                    break
            except socket.timeout:
                pass
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.time() - t0
            break
        if i % 2 == 0 and good('127.0.0.3'):
            answered += 1
        time.sleep(max(0.0, (i + 1) - (time.time() - t0)))  # one byte a second
    s.close()
    check('a client sending 1 byte/s is cut off by deadline=%d (after %s s)' % (
        deadline, None if closed_after is None else round(closed_after, 1)),
        closed_after is not None and closed_after < deadline + 3)
    check('others are answered meanwhile (%d times)' % answered, answered >= 2)


try:
    model = os.path.join(work, 'm.hkm')
    make_model(model)
    ok = start(model, 'rate=off', 'conns=5', 'timeout=2', 'deadline=4', 'audit=' + os.path.join(work, 'a.jsonl'))
    check('server starts', ok)
    if ok:
        test_bodies()
        test_many_connections()
        test_slow_client(4)
        check('still answering at the end', good('127.0.0.1'))
        server.terminate()
        check('SIGTERM: exit status 0', server.wait(timeout=20) == 0)
        lines = [json.loads(line) for line in open(os.path.join(work, 'a.jsonl'))]
        check('the audit log parses, %d lines' % len(lines), len(lines) > 10 and lines[-1]['event'] == 'stop')
finally:
    if server and server.poll() is None:
        server.kill()
        server.wait()
    shutil.rmtree(work, ignore_errors=True)
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
