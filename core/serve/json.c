/* json.c: the JSON text buffer and string escaping (see json.h). */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(struct hk_json *j, size_t more)
{
    if (j->oom)
        return 0;
    if (j->n + more + 1 <= j->cap)
        return 1;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->n + more + 1)
        cap *= 2;
    char *p = realloc(j->p, cap);
    if (!p) {
        j->oom = 1;
        return 0;
    }
    j->p = p;
    j->cap = cap;
    return 1;
}

static void add(struct hk_json *j, const char *s, size_t n)
{
    if (!grow(j, n))
        return;
    memcpy(j->p + j->n, s, n);
    j->n += n;
    j->p[j->n] = '\0';
}

void hk_json_raw(struct hk_json *j, const char *s)
{
    add(j, s, strlen(s));
}

void hk_json_printf(struct hk_json *j, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof buf) {
        j->oom = 1;
        return;
    }
    add(j, buf, (size_t)r);
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void hk_json_string(struct hk_json *j, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    add(j, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            add(j, esc, 2);
            i++;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            add(j, esc, 6);
            i++;
        } else if (c < 0x80) {
            add(j, (const char *)u + i, 1);
            i++;
        } else {
            size_t len = utf8_len(u + i, n - i);
            if (!len) {
                add(j, "\\ufffd", 6);
                i++;
            } else if (len == 3 && u[i] == 0xE2 && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
                add(j, u[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                i += 3;
            } else {
                add(j, (const char *)u + i, len);
                i += len;
            }
        }
    }
    add(j, "\"", 1);
}

void hk_json_str(struct hk_json *j, const char *s)
{
    if (!s)
        hk_json_raw(j, "null");
    else
        hk_json_string(j, s, strlen(s));
}

void hk_json_free(struct hk_json *j)
{
    free(j->p);
    memset(j, 0, sizeof *j);
}
