/* multipart.h: the part of RFC 7578 (multipart/form-data) that an upload form needs: the boundary
 * from a Content-Type header, and one named field's bytes out of a complete body. Pure functions
 * over caller-owned memory (no allocation), written for hostile input: every length is bounded,
 * every search stays inside the body, and a refusal says what was wrong. */
#ifndef HK_MULTIPART_H
#define HK_MULTIPART_H

#include <stddef.h>

#include "status.h"

#define HK_MULTIPART_MAX_BOUNDARY 70   /* RFC 2046 */
#define HK_MULTIPART_MAX_HEADERS 8192  /* bytes of one part's header block */
#define HK_MULTIPART_MAX_PARTS 64

/* One field found in a body: borrowed views into it. */
struct hk_multipart_part {
    const unsigned char *data; /* the field's bytes (may contain NULs) */
    size_t size;
    char filename[256];        /* the filename parameter, or "" (bytes < 0x20 and '"' dropped) */
    char content_type[128];    /* the part's Content-Type, or "" */
};

/* The boundary of a "multipart/form-data; boundary=..." header value (quoted or not) into out
 * (HK_MULTIPART_MAX_BOUNDARY + 1 bytes). HK_EFORMAT when the type is another one, the boundary is
 * missing, empty, too long or has characters RFC 2046 does not allow. */
enum hk_status hk_multipart_boundary(const char *content_type, char out[HK_MULTIPART_MAX_BOUNDARY + 1],
                                     struct hk_error *err);

/* Find the part whose Content-Disposition is form-data with name="field" in body[0..n), delimited
 * by boundary. HK_EFORMAT when the body is not well-formed up to that part (no opening delimiter,
 * a header block that is too long, has a NUL or has no end, a part with no closing delimiter, too
 * many parts) or has no such field. */
enum hk_status hk_multipart_find(const unsigned char *body, size_t n, const char *boundary, const char *field,
                                 struct hk_multipart_part *out, struct hk_error *err);

#endif
