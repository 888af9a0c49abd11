/* modelfile_util.c: small helpers shared by the model-file reader and writer: error messages,
 * little-endian integers, a growable buffer, UTF-8 checks, overflow-checked sizes. */
#include "modelfile_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* err = "model file 'path': <fmt>" */
enum hk_status mf_fail_file(struct hk_error *err, enum hk_status st, const char *path, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hk_fail(err, st, "model file '%s': %s", path, what);
}

/* A printable excerpt of n bytes of text for messages: non-printable bytes become '?', long
 * text is cut with "...". */
const char *mf_excerpt(const void *text, size_t n, char *buf, size_t cap)
{
    const unsigned char *s = text;
    size_t max = cap - 4, i;
    for (i = 0; i < n && i < max; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    if (i < n)
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

uint16_t mf_get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t mf_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t mf_get_u64(const unsigned char *p)
{
    return (uint64_t)mf_get_u32(p) | (uint64_t)mf_get_u32(p + 4) << 32;
}

void mf_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void mf_buf_add(struct mf_buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0'; /* text stays terminated */
}

void mf_buf_str(struct mf_buf *b, const char *s)
{
    mf_buf_add(b, s, strlen(s));
}

void mf_buf_int(struct mf_buf *b, uint64_t v, int bytes)
{
    unsigned char le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    mf_buf_add(b, le, (size_t)bytes);
}

void mf_buf_printf(struct mf_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->oom = 1; /* only short fixed-format pieces go through here */
    else
        mf_buf_add(b, tmp, (size_t)n);
}

/* 1 when s[0..n) is well-formed UTF-8; else 0 and *bad is the offset of the first bad byte. */
int mf_utf8_valid(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = i;
            return 0;
        }
        if (n - i < len) {
            *bad = i;
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

int mf_str_utf8(const char *s)
{
    size_t bad;
    return mf_utf8_valid((const unsigned char *)s, strlen(s), &bad);
}

char *mf_dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* a * b into *r; 0 on overflow of 64 bits */
int mf_mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    if (b && a > UINT64_MAX / b)
        return 0;
    *r = a * b;
    return 1;
}

enum hk_status mf_fail_line(struct hk_error *err, enum hk_status st, const struct mf_where *w, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mf_fail_file(err, st, w->path, "header line %d (offset %zu): %s", w->line, w->offset, what);
}
