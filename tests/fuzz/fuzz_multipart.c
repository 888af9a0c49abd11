/* fuzz_multipart.c: fuzz target for the upload parser of serve (core/serve/multipart.h) and the
 * JSON escaping of what it returns. The input is a Content-Type value up to the first newline,
 * then the body. Checked properties: a parsed boundary is 1..70 characters RFC 2046 allows; a
 * found field lies inside the body and is followed by CRLF "--" boundary (its delimiter); its
 * filename and content type have no control characters or quotes; a refusal leaves the part
 * empty with a message; the field's filename and first bytes escaped as JSON have no raw control
 * characters, no '<' and no unescaped quote. */
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "multipart.h"

static void check_json(const char *s, size_t n)
{
    struct hk_json j = {0};
    hk_json_string(&j, s, n);
    if (j.oom)
        return;
    FUZZ_CHECK(j.n >= 2 && j.p[0] == '"' && j.p[j.n - 1] == '"');
    for (size_t i = 1; i + 1 < j.n; i++) {
        unsigned char c = (unsigned char)j.p[i];
        FUZZ_CHECK(c >= 0x20 && c != '<' && c != '>' && c != '&');
        if (c == '\\')
            i++; /* the escaped character */
        else
            FUZZ_CHECK(c != '"');
    }
    hk_json_free(&j);
}

static void check_clean(const char *s)
{
    for (; *s; s++)
        FUZZ_CHECK((unsigned char)*s >= 0x20 && *s != '"' && *s != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
    if (!nl)
        return 0;
    char ctype[513];
    size_t cl = (size_t)(nl - data);
    memcpy(ctype, data, cl);
    ctype[cl] = '\0';
    const unsigned char *body = nl + 1;
    size_t n = size - cl - 1;
    char boundary[HK_MULTIPART_MAX_BOUNDARY + 1];
    struct hk_error err;
    if (hk_multipart_boundary(ctype, boundary, &err) != HK_OK) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    size_t bl = strlen(boundary);
    FUZZ_CHECK(bl >= 1 && bl <= HK_MULTIPART_MAX_BOUNDARY && boundary[bl - 1] != ' ');
    for (const char *field = "file"; field; field = strcmp(field, "file") ? NULL : "other") {
        struct hk_multipart_part p;
        if (hk_multipart_find(body, n, boundary, field, &p, &err) != HK_OK) {
            FUZZ_CHECK(p.data == NULL && p.size == 0 && err.msg[0] != '\0');
            continue;
        }
        FUZZ_CHECK(p.data >= body && p.size <= n && (size_t)(p.data - body) <= n - p.size);
        size_t after = (size_t)(p.data - body) + p.size;
        FUZZ_CHECK(n - after >= 4 + bl && !memcmp(body + after, "\r\n--", 4) &&
                   !memcmp(body + after + 4, boundary, bl));
        check_clean(p.filename);
        check_clean(p.content_type);
        check_json(p.filename, strlen(p.filename));
        check_json((const char *)p.data, p.size < 256 ? p.size : 256);
    }
    return 0;
}
