/* test_serve.c: the pieces of serve that need no network: the multipart parser (well-formed
 * bodies as curl and browsers send them, and each way one can be broken), JSON string escaping
 * (checked against python3's json.loads where it is installed, and exact text), the per-client
 * token bucket, and Ed25519 signing (a good signature verifies; a flipped byte, another key or
 * another file's signature does not; the secret key is 0600 and never overwritten). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "json.h"
#include "multipart.h"
#include "ratelimit.h"
#include "sign.h"

static void test_boundary(void)
{
    char b[HK_MULTIPART_MAX_BOUNDARY + 1];
    struct hk_error err;
    CHECK(hk_multipart_boundary("multipart/form-data; boundary=------------------------abc123", b, &err) == HK_OK &&
              !strcmp(b, "------------------------abc123"), "curl's boundary: %s", b);
    CHECK(hk_multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"", b, &err) == HK_OK && !strcmp(b, "a b:c"),
          "quoted boundary with a space: %s", b);
    CHECK(hk_multipart_boundary("multipart/form-data; charset=utf-8; boundary=x", b, &err) == HK_OK && !strcmp(b, "x"),
          "boundary after another parameter");
    CHECK(hk_multipart_boundary("multipart/form-data", b, &err) == HK_EFORMAT && strstr(err.msg, "without a boundary"),
          "no boundary: %s", err.msg);
    CHECK(hk_multipart_boundary("multipart/form-data; boundary=", b, &err) == HK_EFORMAT, "empty boundary");
    CHECK(hk_multipart_boundary("text/plain; boundary=x", b, &err) == HK_EFORMAT, "another type");
    CHECK(hk_multipart_boundary("multipart/form-datax; boundary=x", b, &err) == HK_EFORMAT, "a longer type");
    CHECK(hk_multipart_boundary(NULL, b, &err) == HK_EFORMAT, "no Content-Type");
    char lng[200];
    snprintf(lng, sizeof lng, "multipart/form-data; boundary=%071d", 0);
    CHECK(hk_multipart_boundary(lng, b, &err) == HK_EFORMAT, "71 characters");
    CHECK(hk_multipart_boundary("multipart/form-data; boundary=\"a\x01\"", b, &err) == HK_EFORMAT, "control char");
    CHECK(hk_multipart_boundary("multipart/form-data; boundary=\"abc", b, &err) == HK_EFORMAT, "open quote");
}

static enum hk_status find(const char *body, size_t n, const char *field, struct hk_multipart_part *p,
                           struct hk_error *err)
{
    return hk_multipart_find((const unsigned char *)body, n, "XyZ", field, p, err);
}

static void test_find(void)
{
    struct hk_multipart_part p;
    struct hk_error err;
    static const char ok[] = "--XyZ\r\n"
                             "Content-Disposition: form-data; name=\"other\"\r\n\r\n"
                             "hello\r\n--XyZ-not-a-delimiter\r\n"
                             "--XyZ\r\n"
                             "Content-Disposition: form-data; name=\"file\"; filename=\"a\\\"b.png\"\r\n"
                             "Content-Type: image/png\r\n\r\n"
                             "\x89PNG\0\r\n--Xy\r\n"
                             "--XyZ--\r\n";
    CHECK(find(ok, sizeof ok - 1, "file", &p, &err) == HK_OK, "well-formed: %s", err.msg);
    CHECK(p.size == 11 && !memcmp(p.data, "\x89PNG\0\r\n--Xy", 11), "file bytes, NUL and near-boundary kept (%zu)",
          p.size);
    CHECK(!strcmp(p.filename, "ab.png") && !strcmp(p.content_type, "image/png"), "filename '%s' type '%s'", p.filename,
          p.content_type);
    enum hk_status st = find(ok, sizeof ok - 1, "other", &p, &err);
    CHECK(st == HK_OK && p.size == 28 && !memcmp(p.data, "hello\r\n--XyZ-not", 16),
          "the other field, with data that starts like the boundary (%zu)", p.size);
    CHECK(find(ok, sizeof ok - 1, "missing", &p, &err) == HK_EFORMAT && strstr(err.msg, "no form field"),
          "no such field: %s", err.msg);

    static const char preamble[] = "ignored preamble\r\n--XyZ  \r\nContent-Disposition: form-data; name=file\r\n\r\n"
                                   "\r\n--XyZ--";
    CHECK(find(preamble, sizeof preamble - 1, "file", &p, &err) == HK_OK && p.size == 0,
          "preamble, padding, unquoted name, empty data: %s", err.msg);

    static const char nodelim[] = "Content-Disposition: form-data; name=\"file\"\r\n\r\nabc";
    CHECK(find(nodelim, sizeof nodelim - 1, "file", &p, &err) == HK_EFORMAT && strstr(err.msg, "no boundary line"),
          "no boundary line: %s", err.msg);
    static const char noclose[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc";
    CHECK(find(noclose, sizeof noclose - 1, "file", &p, &err) == HK_EFORMAT && strstr(err.msg, "closing"),
          "no closing delimiter: %s", err.msg);
    static const char nul[] = "--XyZ\r\nContent-Disposition: form-data; na\0me=\"file\"\r\n\r\nabc\r\n--XyZ--";
    CHECK(find(nul, sizeof nul - 1, "file", &p, &err) == HK_EFORMAT && strstr(err.msg, "NUL"), "NUL in headers: %s",
          err.msg);
    static const char noend[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nabc";
    CHECK(find(noend, sizeof noend - 1, "file", &p, &err) == HK_EFORMAT && strstr(err.msg, "no end"),
          "headers without an end: %s", err.msg);
    static const char badhdr[] = "--XyZ\r\nnot a header\r\n\r\nabc\r\n--XyZ--";
    CHECK(find(badhdr, sizeof badhdr - 1, "file", &p, &err) == HK_EFORMAT, "header without a colon");
    static const char attach[] = "--XyZ\r\nContent-Disposition: attachment; name=\"file\"\r\n\r\nabc\r\n--XyZ--";
    CHECK(find(attach, sizeof attach - 1, "file", &p, &err) == HK_EFORMAT, "not form-data");
    CHECK(find("", 0, "file", &p, &err) == HK_EFORMAT, "empty body");

    /* more parts than allowed */
    size_t cap = 100 * (HK_MULTIPART_MAX_PARTS + 2), n = 0;
    char *many = malloc(cap);
    for (int i = 0; i <= HK_MULTIPART_MAX_PARTS; i++)
        n += (size_t)snprintf(many + n, cap - n, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n",
                              i);
    n += (size_t)snprintf(many + n, cap - n, "--XyZ--");
    CHECK(find(many, n, "file", &p, &err) == HK_EFORMAT && strstr(err.msg, "parts"), "too many parts: %s", err.msg);
    free(many);
}

static void expect_json(const char *in, size_t n, const char *want)
{
    struct hk_json j = {0};
    hk_json_string(&j, in, n);
    CHECK(j.p && !strcmp(j.p, want), "escaped %s, want %s", j.p ? j.p : "(null)", want);
    hk_json_free(&j);
}

static void test_json(void)
{
    expect_json("husky", 5, "\"husky\"");
    expect_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_json("\n\x01\x7f", 3, "\"\\u000a\\u0001\\u007f\"");
    expect_json("</script>&", 10, "\"\\u003c/script\\u003e\\u0026\"");
    expect_json("\xc3\xa9", 2, "\"\xc3\xa9\"");                      /* e acute stays UTF-8 */
    expect_json("\xc3", 1, "\"\\ufffd\"");                           /* truncated sequence */
    expect_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");                /* overlong slash */
    expect_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");      /* a surrogate */
    expect_json("\xe2\x80\xa8", 3, "\"\\u2028\"");
    expect_json("a\0b", 3, "\"a\\u0000b\"");
    struct hk_json j = {0};
    hk_json_str(&j, NULL);
    CHECK(j.p && !strcmp(j.p, "null"), "NULL is null");
    hk_json_free(&j);

    /* every byte value once, through python3's own parser when there is one */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    hk_json_string(&j, all, 256);
    FILE *f = fopen("test_serve.json", "w");
    CHECK(f != NULL, "write test_serve.json");
    if (f) {
        fputs(j.p, f);
        fclose(f);
        if (system("python3 -c 1 2>/dev/null") == 0)
            CHECK(system("python3 -c 'import json,sys; s=json.load(open(\"test_serve.json\")); "
                         "sys.exit(0 if len(s)==128+128 and s[:128]==\"\".join(map(chr,range(128))) else 1)'") == 0,
                  "python3 parses the 256 bytes back: ASCII as it was, each other byte one U+FFFD");
        unlink("test_serve.json");
    }
    hk_json_free(&j);
}

static void test_ratelimit(void)
{
    struct hk_ratelimit *rl = hk_ratelimit_new(5, 10);
    int allowed = 0, retry = 0;
    for (int i = 0; i < 15; i++)
        allowed += hk_ratelimit_take(rl, "10.0.0.1", 100.0, &retry);
    CHECK(allowed == 10, "a burst of 10 then refused (%d allowed)", allowed);
    CHECK(retry == 12, "the next token in 12 s at 5/min (%d)", retry);
    CHECK(hk_ratelimit_take(rl, "10.0.0.2", 100.0, NULL), "another client has its own bucket");
    CHECK(!hk_ratelimit_take(rl, "10.0.0.1", 111.0, NULL), "11 s later: still none");
    CHECK(hk_ratelimit_take(rl, "10.0.0.1", 112.5, NULL), "12.5 s later: one");
    CHECK(!hk_ratelimit_take(rl, "10.0.0.1", 112.5, NULL), "and only one");
    /* many clients: memory stays fixed and a new client is served */
    char key[32];
    for (int i = 0; i < 3 * HK_RATELIMIT_SLOTS; i++) {
        snprintf(key, sizeof key, "192.168.%d.%d", i / 256, i % 256);
        hk_ratelimit_take(rl, key, 200.0 + i * 1e-3, NULL);
    }
    CHECK(hk_ratelimit_take(rl, "172.16.0.1", 300.0, NULL), "a new client after 12288 others");
    hk_ratelimit_free(rl);
    rl = hk_ratelimit_new(0, 1);
    allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += hk_ratelimit_take(rl, "x", 1.0, NULL);
    CHECK(allowed == 1000, "rate off allows everything");
    hk_ratelimit_free(rl);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static void test_sign(void)
{
    char dir[] = "/tmp/test_serve_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temporary folder");
    char key[128], key2[128], pub[128], pub2[128], file[128], sig[128], other[128];
    snprintf(key, sizeof key, "%s/k", dir);
    snprintf(key2, sizeof key2, "%s/k2", dir);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    snprintf(pub2, sizeof pub2, "%s/k2.pub", dir);
    snprintf(file, sizeof file, "%s/model.hkm", dir);
    snprintf(other, sizeof other, "%s/other.hkm", dir);
    struct hk_error err;
    CHECK(hk_sign_keygen(key, &err) == HK_OK, "keygen: %s", err.msg);
    CHECK(hk_sign_keygen(key2, &err) == HK_OK, "keygen 2: %s", err.msg);
    struct stat st;
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "secret key mode %o", (unsigned)(st.st_mode & 0777));
    CHECK(hk_sign_keygen(key, &err) == HK_EINVAL && strstr(err.msg, "never overwritten"), "keygen over a key: %s",
          err.msg);
    CHECK(write_file(file, "model bytes") && write_file(other, "other bytes"), "files");
    CHECK(hk_sign_file(file, key, sig, sizeof sig, &err) == HK_OK, "sign: %s", err.msg);
    CHECK(strstr(sig, "model.hkm.sig") != NULL, "signature file name %s", sig);
    CHECK(hk_sign_verify((const unsigned char *)"model bytes", 11, sig, pub, &err) == HK_OK, "verifies: %s", err.msg);
    CHECK(hk_sign_verify((const unsigned char *)"model bytez", 11, sig, pub, &err) == HK_EFORMAT &&
              strstr(err.msg, "does not verify"), "a changed byte: %s", err.msg);
    CHECK(hk_sign_verify((const unsigned char *)"model bytes", 11, sig, pub2, &err) == HK_EFORMAT, "another key");
    CHECK(hk_sign_file(other, key, NULL, 0, &err) == HK_OK, "sign other");
    char osig[160];
    snprintf(osig, sizeof osig, "%s.sig", other);
    CHECK(hk_sign_verify((const unsigned char *)"model bytes", 11, osig, pub, &err) == HK_EFORMAT,
          "another file's signature");
    CHECK(hk_sign_verify((const unsigned char *)"model bytes", 11, sig, key, &err) == HK_EFORMAT &&
              strstr(err.msg, "not a husky key"), "a secret key as public key: %s", err.msg);
    CHECK(write_file(osig, "husky-ed25519-signature 00\n") &&
              hk_sign_verify((const unsigned char *)"model bytes", 11, osig, pub, &err) == HK_EFORMAT,
          "a short signature file");
    CHECK(hk_sign_file(file, pub, NULL, 0, &err) == HK_EFORMAT, "signing with the public key is refused");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "clean up");
}

int main(void)
{
    test_boundary();
    test_find();
    test_json();
    test_ratelimit();
    test_sign();
    return check_summary();
}
