/* multipart.c: boundary from Content-Type, and one field out of a multipart/form-data body
 * (RFC 7578 over RFC 2046). A delimiter is CRLF "--" boundary followed by "--" (the close) or by
 * optional spaces and CRLF; the first one may open the body without the CRLF. Everything else
 * that looks like a boundary is data. */
#define _GNU_SOURCE /* memmem */
#include "multipart.h"

#include <string.h>
#include <strings.h>

#define DELIM_CAP (HK_MULTIPART_MAX_BOUNDARY + 5)

static int is_bchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("'()+_,-./:=? ", c);
}

static int is_token_char(int c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* Read one parameter value (token or quoted string) at s into out (cap bytes); returns the
 * position after it, or NULL when malformed or too long. */
static const char *param_value(const char *s, const char *end, char *out, size_t cap)
{
    size_t k = 0;
    if (s < end && *s == '"') {
        for (s++; s < end && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < end)
                s++;
            if (k + 1 >= cap)
                return NULL;
            out[k++] = *s;
        }
        if (s >= end)
            return NULL;
        s++;
    } else {
        for (; s < end && is_token_char((unsigned char)*s); s++) {
            if (k + 1 >= cap)
                return NULL;
            out[k++] = *s;
        }
    }
    out[k] = '\0';
    return s;
}

/* Walk "; key=value" parameters of a header value from s; for the key `want` copy the value into
 * out (cap bytes) and return 1; 0 when absent; -1 when malformed. */
static int find_param(const char *s, const char *end, const char *want, char *out, size_t cap)
{
    int found = 0;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t' || *s == ';'))
            s++;
        if (s >= end)
            break;
        const char *key = s;
        while (s < end && is_token_char((unsigned char)*s))
            s++;
        size_t klen = (size_t)(s - key);
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (klen == 0 || s >= end || *s != '=')
            return -1;
        s++;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        char tmp[512];
        const char *next = param_value(s, end, tmp, sizeof tmp);
        if (!next)
            return -1;
        if (!found && klen == strlen(want) && !strncasecmp(key, want, klen)) {
            if (strlen(tmp) >= cap)
                return -1;
            memcpy(out, tmp, strlen(tmp) + 1);
            found = 1;
        }
        s = next;
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s < end && *s != ';')
            return -1;
    }
    return found;
}

enum hk_status hk_multipart_boundary(const char *content_type, char out[HK_MULTIPART_MAX_BOUNDARY + 1],
                                     struct hk_error *err)
{
    static const char type[] = "multipart/form-data";
    out[0] = '\0';
    if (!content_type)
        return hk_fail(err, HK_EFORMAT, "no Content-Type; expected multipart/form-data with a boundary");
    const char *s = content_type, *end = s + strlen(s);
    while (*s == ' ' || *s == '\t')
        s++;
    size_t tl = sizeof type - 1;
    if (strncasecmp(s, type, tl) != 0 || (s[tl] && s[tl] != ';' && s[tl] != ' ' && s[tl] != '\t'))
        return hk_fail(err, HK_EFORMAT, "Content-Type is not multipart/form-data");
    char b[HK_MULTIPART_MAX_BOUNDARY + 2];
    int r = find_param(s + tl, end, "boundary", b, sizeof b);
    if (r < 0)
        return hk_fail(err, HK_EFORMAT, "malformed Content-Type parameters (or a boundary over %d characters)",
                       HK_MULTIPART_MAX_BOUNDARY);
    if (r == 0 || !b[0])
        return hk_fail(err, HK_EFORMAT, "multipart/form-data without a boundary");
    size_t bl = strlen(b);
    if (bl > HK_MULTIPART_MAX_BOUNDARY)
        return hk_fail(err, HK_EFORMAT, "boundary over %d characters", HK_MULTIPART_MAX_BOUNDARY);
    for (size_t i = 0; i < bl; i++)
        if (!is_bchar((unsigned char)b[i]))
            return hk_fail(err, HK_EFORMAT, "boundary has a character RFC 2046 does not allow (byte %zu)", i);
    if (b[bl - 1] == ' ')
        return hk_fail(err, HK_EFORMAT, "boundary ends with a space");
    memcpy(out, b, bl + 1);
    return HK_OK;
}

/* The next delimiter at or after `from`: *at is where it starts (its CRLF, or 0 for a body that
 * opens with it), *after where the part that follows starts (past its CRLF), *close 1 for the
 * closing "--". Returns 0 when there is none. */
static int next_delim(const unsigned char *body, size_t n, size_t from, const char *delim, size_t dlen, size_t *at,
                      size_t *after, int *close)
{
    size_t pos = from;
    for (;;) {
        size_t start, p;
        if (pos == 0 && n >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2)) {
            start = 0;
            p = dlen - 2;
        } else {
            if (pos >= n)
                return 0;
            const unsigned char *hit = memmem(body + pos, n - pos, delim, dlen);
            if (!hit)
                return 0;
            start = (size_t)(hit - body);
            p = start + dlen;
        }
        if (p + 2 <= n && body[p] == '-' && body[p + 1] == '-') {
            *at = start;
            *after = p + 2;
            *close = 1;
            return 1;
        }
        size_t q = p;
        while (q < n && (body[q] == ' ' || body[q] == '\t'))
            q++;
        if (q + 2 <= n && body[q] == '\r' && body[q + 1] == '\n') {
            *at = start;
            *after = q + 2;
            *close = 0;
            return 1;
        }
        pos = start + 1; /* boundary-like data: look further */
    }
}

static void copy_clean(char *dst, size_t cap, const char *src)
{
    size_t k = 0;
    for (; *src && k + 1 < cap; src++)
        if ((unsigned char)*src >= 0x20 && *src != '"' && *src != 0x7f)
            dst[k++] = *src;
    dst[k] = '\0';
}

/* Parse one part's header block hdr[0..len) (lines without the final empty one). *is_form is
 * set when Content-Disposition is form-data; name, filename, ctype receive what they say. */
static enum hk_status parse_headers(const char *hdr, size_t len, int *is_form, char *name, size_t ncap,
                                    char *filename, size_t fcap, char *ctype, size_t ccap, struct hk_error *err)
{
    *is_form = 0;
    name[0] = filename[0] = ctype[0] = '\0';
    const char *s = hdr, *end = hdr + len;
    while (s < end) {
        const char *eol = s;
        while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= end)
            eol = end;
        const char *colon = memchr(s, ':', (size_t)(eol - s));
        if (!colon || colon == s)
            return hk_fail(err, HK_EFORMAT, "a part header line without a name and a colon");
        size_t nl = (size_t)(colon - s);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        if (nl == 19 && !strncasecmp(s, "Content-Disposition", nl)) {
            const char *p = v;
            while (p < eol && is_token_char((unsigned char)*p))
                p++;
            *is_form = (size_t)(p - v) == 9 && !strncasecmp(v, "form-data", 9);
            char tmp[256];
            if (find_param(p, eol, "name", tmp, sizeof tmp) < 0)
                return hk_fail(err, HK_EFORMAT, "malformed Content-Disposition parameters");
            if (strlen(tmp) >= ncap)
                tmp[0] = '\0';
            memcpy(name, tmp, strlen(tmp) + 1);
            tmp[0] = '\0';
            if (find_param(p, eol, "filename", tmp, sizeof tmp) < 0)
                return hk_fail(err, HK_EFORMAT, "malformed Content-Disposition parameters");
            copy_clean(filename, fcap, tmp);
        } else if (nl == 12 && !strncasecmp(s, "Content-Type", nl)) {
            char tmp[128];
            size_t vl = (size_t)(eol - v) < sizeof tmp - 1 ? (size_t)(eol - v) : sizeof tmp - 1;
            memcpy(tmp, v, vl);
            tmp[vl] = '\0';
            copy_clean(ctype, ccap, tmp);
        }
        s = eol + 2;
    }
    return HK_OK;
}

enum hk_status hk_multipart_find(const unsigned char *body, size_t n, const char *boundary, const char *field,
                                 struct hk_multipart_part *out, struct hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (!body || !n)
        return hk_fail(err, HK_EFORMAT, "the body is empty");
    size_t bl = strlen(boundary);
    if (bl == 0 || bl > HK_MULTIPART_MAX_BOUNDARY)
        return hk_fail(err, HK_EFORMAT, "bad boundary length %zu", bl);
    char delim[DELIM_CAP];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, bl);
    size_t dlen = 4 + bl;
    size_t at, pos;
    int close;
    if (!next_delim(body, n, 0, delim, dlen, &at, &pos, &close))
        return hk_fail(err, HK_EFORMAT, "the body has no boundary line (--%s)", boundary);
    for (int parts = 0; !close; parts++) {
        if (parts >= HK_MULTIPART_MAX_PARTS)
            return hk_fail(err, HK_EFORMAT, "more than %d parts", HK_MULTIPART_MAX_PARTS);
        size_t hend, data;
        if (pos + 2 <= n && body[pos] == '\r' && body[pos + 1] == '\n') {
            hend = pos;
            data = pos + 2;
        } else {
            size_t window = n - pos < HK_MULTIPART_MAX_HEADERS ? n - pos : HK_MULTIPART_MAX_HEADERS;
            const unsigned char *e = memmem(body + pos, window, "\r\n\r\n", 4);
            if (!e)
                return hk_fail(err, HK_EFORMAT, "part %d: its headers have no end (or are over %d bytes)", parts + 1,
                               HK_MULTIPART_MAX_HEADERS);
            hend = (size_t)(e - body);
            data = hend + 4;
        }
        if (memchr(body + pos, '\0', hend - pos))
            return hk_fail(err, HK_EFORMAT, "part %d: a NUL byte in its headers", parts + 1);
        int is_form;
        char name[128];
        enum hk_status st = parse_headers((const char *)body + pos, hend - pos, &is_form, name, sizeof name,
                                          out->filename, sizeof out->filename, out->content_type,
                                          sizeof out->content_type, err);
        if (st != HK_OK)
            return st;
        size_t next;
        if (!next_delim(body, n, data, delim, dlen, &at, &next, &close) || at < data)
            return hk_fail(err, HK_EFORMAT, "part %d has no closing boundary line", parts + 1);
        if (is_form && !strcmp(name, field)) {
            out->data = body + data;
            out->size = at - data;
            return HK_OK;
        }
        pos = next;
    }
    memset(out, 0, sizeof *out);
    return hk_fail(err, HK_EFORMAT, "no form field named '%s'", field);
}
