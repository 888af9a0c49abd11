/* sign.c: Ed25519 key pairs, detached signatures over a file's bytes and their check, with
 * libsodium (crypto_sign_*). Key and signature files are one line of hex (see sign.h); the secret
 * key file is created 0600 and never replaces an existing file. */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "sha256.h"

#define SECRET_TAG "husky-ed25519-secret-key"
#define PUBLIC_TAG "husky-ed25519-public-key"
#define SIG_TAG "husky-ed25519-signature"

enum hk_status hk_sign_read_file(const char *path, size_t max, unsigned char **bytes, size_t *n,
                                 struct hk_error *err)
{
    char ebuf[128];
    *bytes = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return hk_fail(err, HK_EIO, "cannot open '%s': %s", path, hk_os_error(errno, ebuf, sizeof ebuf));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hk_fail(err, HK_EIO, "'%s' is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "'%s' is too large: %lld bytes (at most %zu)", path, (long long)st.st_size,
                       max);
    }
    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return hk_fail(err, HK_EIO, "cannot read '%s': %s", path,
                           e ? hk_os_error(e, ebuf, sizeof ebuf) : "it shrank while being read");
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = '\0';
    *bytes = buf;
    *n = size;
    return HK_OK;
}

static void to_hex(const unsigned char *b, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* Read a one-line key or signature file "TAG HEX\n" holding exactly n bytes into out. */
static enum hk_status read_tagged(const char *path, const char *tag, unsigned char *out, size_t n,
                                  struct hk_error *err)
{
    unsigned char *text;
    size_t len;
    enum hk_status st = hk_sign_read_file(path, HK_SIGN_MAX_KEY_FILE, &text, &len, err);
    if (st != HK_OK)
        return st;
    size_t tl = strlen(tag);
    const char *s = (const char *)text;
    int ok = len >= tl + 1 + 2 * n && !memcmp(s, tag, tl) && s[tl] == ' ';
    for (size_t i = 0; ok && i < n; i++) {
        int hi = hk_hex_digit(s[tl + 1 + 2 * i]), lo = hk_hex_digit(s[tl + 2 + 2 * i]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            out[i] = (unsigned char)(hi << 4 | lo);
    }
    size_t end = tl + 1 + 2 * n;
    ok = ok && (len == end || (len == end + 1 && s[end] == '\n'));
    free(text);
    if (!ok)
        return hk_fail(err, HK_EFORMAT, "'%s' is not a husky %s file (\"%s\" and %zu hex digits expected)", path,
                       strstr(tag, "signature") ? "signature" : "key", tag, 2 * n);
    return HK_OK;
}

struct tagged {
    const char *tag;
    const unsigned char *bytes;
    size_t n;
};

static int write_tagged(FILE *f, void *user, char *why, size_t cap)
{
    (void)why;
    (void)cap;
    const struct tagged *t = user;
    char hex[2 * crypto_sign_SECRETKEYBYTES + 1];
    to_hex(t->bytes, t->n, hex);
    return fprintf(f, "%s %s\n", t->tag, hex) > 0;
}

static int ensure_sodium(struct hk_error *err)
{
    if (sodium_init() < 0) {
        hk_fail(err, HK_EIO, "libsodium cannot start (no source of randomness)");
        return -1;
    }
    return 0;
}

enum hk_status hk_sign_keygen(const char *key_path, struct hk_error *err)
{
    char ebuf[128];
    if (ensure_sodium(err))
        return HK_EIO;
    size_t plen = strlen(key_path);
    char *pub = malloc(plen + 5);
    if (!pub)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    memcpy(pub, key_path, plen);
    memcpy(pub + plen, ".pub", 5);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    /* O_EXCL: a secret key is never replaced, and it is 0600 from its first byte */
    int fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        free(pub);
        sodium_memzero(sk, sizeof sk);
        return hk_fail(err, e == EEXIST ? HK_EINVAL : HK_EIO, "cannot create '%s': %s%s", key_path,
                       hk_os_error(e, ebuf, sizeof ebuf), e == EEXIST ? " (a key is never overwritten)" : "");
    }
    FILE *f = fdopen(fd, "w");
    int ok = f != NULL;
    if (ok) {
        struct tagged t = {SECRET_TAG, sk, sizeof sk};
        ok = write_tagged(f, &t, NULL, 0) && fflush(f) == 0 && fsync(fd) == 0;
        ok = (fclose(f) == 0) && ok;
    } else
        close(fd);
    sodium_memzero(sk, sizeof sk);
    enum hk_status st = HK_OK;
    if (!ok)
        st = hk_fail(err, HK_EIO, "cannot write '%s'", key_path);
    else {
        struct tagged t = {PUBLIC_TAG, pk, sizeof pk};
        st = hk_file_write_atomic(pub, write_tagged, &t, err);
    }
    if (st != HK_OK)
        unlink(key_path);
    free(pub);
    return st;
}

enum hk_status hk_sign_file(const char *path, const char *key_path, char *sig_path, size_t cap,
                            struct hk_error *err)
{
    if (ensure_sodium(err))
        return HK_EIO;
    unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    enum hk_status st = read_tagged(key_path, SECRET_TAG, sk, sizeof sk, err);
    if (st != HK_OK)
        return st;
    unsigned char *bytes;
    size_t n;
    st = hk_sign_read_file(path, (size_t)1 << 40, &bytes, &n, err);
    if (st == HK_OK) {
        crypto_sign_detached(sig, NULL, bytes, n, sk);
        free(bytes);
    }
    sodium_memzero(sk, sizeof sk);
    if (st != HK_OK)
        return st;
    size_t plen = strlen(path);
    char *sp = malloc(plen + 5);
    if (!sp)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    memcpy(sp, path, plen);
    memcpy(sp + plen, ".sig", 5);
    struct tagged t = {SIG_TAG, sig, sizeof sig};
    st = hk_file_write_atomic(sp, write_tagged, &t, err);
    if (st == HK_OK && sig_path && cap)
        snprintf(sig_path, cap, "%s", sp);
    free(sp);
    return st;
}

enum hk_status hk_sign_verify(const unsigned char *bytes, size_t n, const char *sig_path, const char *pub_path,
                              struct hk_error *err)
{
    if (ensure_sodium(err))
        return HK_EIO;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    enum hk_status st = read_tagged(pub_path, PUBLIC_TAG, pk, sizeof pk, err);
    if (st == HK_OK)
        st = read_tagged(sig_path, SIG_TAG, sig, sizeof sig, err);
    if (st != HK_OK)
        return st;
    if (crypto_sign_verify_detached(sig, bytes, n, pk) != 0)
        return hk_fail(err, HK_EFORMAT, "the signature in '%s' does not verify with the key '%s'", sig_path, pub_path);
    return HK_OK;
}
