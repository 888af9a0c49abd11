/* lexer.c: words, quotes, comments and number parsing of the command language. */
#include "lexer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum hk_status hk_lex(const char *line, struct hk_words *out, int *bad_col, struct hk_error *err)
{
    out->count = 0;
    out->rest = -1;
    *bad_col = 0;
    size_t len = strlen(line);
    if (len > HK_LEX_MAX_LINE) {
        *bad_col = HK_LEX_MAX_LINE;
        return hk_fail(err, HK_EINVAL, "line is %zu bytes long; the limit is %d", len, HK_LEX_MAX_LINE);
    }
    char *o = out->buf;
    int i = 0;
    for (;;) {
        while (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')
            i++;
        if (!line[i] || line[i] == '#')
            break;
        if (line[i] == ';') {
            out->rest = i + 1;
            break;
        }
        if (out->count == HK_LEX_MAX_WORDS) {
            *bad_col = i;
            return hk_fail(err, HK_EINVAL, "more than %d words in one command", HK_LEX_MAX_WORDS);
        }
        struct hk_word *w = &out->w[out->count++];
        w->col = i;
        w->text = o;
        w->key = w->value = NULL;
        char *eq = NULL;
        while (line[i] && line[i] != ' ' && line[i] != '\t' && line[i] != ';' && line[i] != '\r' &&
               line[i] != '\n') {
            char q = line[i];
            if (q == '"' || q == '\'') {
                int start = i++;
                while (line[i] && line[i] != q)
                    *o++ = line[i++];
                if (!line[i]) {
                    *bad_col = start;
                    return hk_fail(err, HK_EINVAL, "unterminated %s quote", q == '"' ? "double" : "single");
                }
                i++;
                continue;
            }
            if (q == '=' && !eq && o > w->text)
                eq = o;
            *o++ = line[i++];
        }
        *o++ = '\0';
        if (eq) {
            /* text stays whole ("key=value"); the key gets its own copy */
            w->value = eq + 1;
            size_t klen = (size_t)(eq - w->text);
            char *key = o;
            memcpy(key, w->text, klen);
            key[klen] = '\0';
            o += klen + 1;
            w->key = key;
        }
    }
    return HK_OK;
}

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    int row[33];
    for (int j = 0; j <= lb; j++)
        row[j] = j;
    for (int i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cur = row[j];
            int best = prev + (a[i - 1] != b[j - 1]);
            best = row[j] + 1 < best ? row[j] + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *hk_closest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    int best_d = 99;
    for (; *candidates; candidates++) {
        int d = edit_distance(word, *candidates);
        if (strncmp(word, *candidates, strlen(word)) == 0 && strlen(word) >= 2)
            d = 1;
        if (d < best_d) {
            best_d = d;
            best = *candidates;
        }
    }
    int len = (int)strlen(word);
    return best_d <= (len <= 4 ? 1 : len <= 8 ? 2 : 3) ? best : NULL;
}

int hk_parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return 0;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

int hk_parse_int(const char *text, int *out)
{
    if (*text < '0' || *text > '9') /* strtol would also take blanks (\v, \f) and a sign before the digits */
        return 0;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno || v > 2147483647L)
        return 0;
    *out = (int)v;
    return 1;
}

int hk_parse_dims(const char *text, int dims[3])
{
    int n = 0;
    const char *p = text;
    while (n < 3) {
        if (*p < '0' || *p > '9')
            return 0;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || v < 1 || v > 1000000)
            return 0;
        dims[n++] = (int)v;
        if (!*end)
            break;
        if (*end != 'x' && *end != 'X')
            return 0;
        p = end + 1;
        if (n == 3)
            return 0;
    }
    if (n == 1)
        dims[1] = dims[0];
    return n;
}

int hk_parse_float(const char *text, double *out)
{
    if (!*text || isspace((unsigned char)*text))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno)
        return 0;
    if (*end == '/') {
        char *end2;
        double d = strtod(end + 1, &end2);
        if (end2 == end + 1 || isspace((unsigned char)end[1]) || *end2 || d == 0)
            return 0;
        v /= d;
    } else if (*end) {
        return 0;
    }
    if (!isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Digits with an optional fraction, then an optional unit K (or k), M, G or T standing for base,
 * base^2, base^3, base^4; with bytes, also an optional B after it ("512M", "1.5GB", "100B").
 * The value must be at least 1 and fit a size_t. */
static int parse_scaled(const char *text, double base, int bytes, size_t *out)
{
    static const char units[] = "KMGT";
    size_t digits = strspn(text, "0123456789.");
    if (*text < '0' || *text > '9')
        return 0;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end != text + digits)
        return 0;
    const char *u = *end ? strchr(units, *end == 'k' ? 'K' : *end) : NULL;
    if (u) {
        v *= pow(base, (double)(u - units + 1));
        end++;
    }
    if (bytes && (*end == 'B' || (*end == 'b' && u)))
        end++;
    if (*end || !(v >= 1) || v >= 18446744073709549568.0 || v > (double)SIZE_MAX)
        return 0;
    *out = (size_t)v;
    return 1;
}

int hk_parse_bytes(const char *text, size_t *out)
{
    return parse_scaled(text, 1024.0, 1, out);
}

int hk_parse_count(const char *text, size_t *out)
{
    return parse_scaled(text, 1000.0, 0, out);
}

int hk_format_bytes_exact(char *buf, size_t cap, size_t bytes)
{
    static const char *const units[] = {"", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (u < 4 && bytes && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    return snprintf(buf, cap, "%zu%s", bytes, units[u]);
}

int hk_format_bytes(char *buf, size_t cap, size_t bytes)
{
    static const char *const units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
    if (bytes < 1024)
        return snprintf(buf, cap, "%zu bytes", bytes);
    double v = (double)bytes / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    return snprintf(buf, cap, "%.1f %s", v, units[u]);
}

int hk_format_float(char *buf, size_t cap, float v)
{
    char tmp[64];
    for (int prec = 1; prec < 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v)
            return snprintf(buf, cap, "%s", tmp);
    }
    return snprintf(buf, cap, "%.9g", (double)v);
}
