/* server_upload.c: the body of a POST /predict: kept up to max_body (over it read and dropped, so
 * that the client still gets its 413), then the multipart field `file`, its SHA-256, sniffing
 * (PNG, JPEG, GIF by the first bytes), decoding under the limits and the inference API's
 * preprocessing (hk_infer_pixels) on the HTTP thread, and the request queued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "server_internal.h"
#include "sha256.h"

enum MHD_Result sv_upload_receive(struct hk_server *s, struct req *r, const char *upload, size_t more)
{
    if (r->discarded || more > s->opt.max_body - r->n) {
        /* over the limit: the rest is read and dropped, so that the client, still sending,
           gets the 413 (closing on unread data would reset the connection and lose it); up
           to twice the limit, beyond which the connection is answered and closed at once */
        if (!r->discarded) {
            r->discarded = r->n;
            free(r->body);
            r->body = NULL;
            r->n = r->cap = 0;
        }
        r->discarded += more;
        if (r->discarded / 2 > s->opt.max_body)
            return sv_send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
        return MHD_YES;
    }
    if (r->n + more > r->cap) {
        size_t cap = r->cap ? r->cap : 64 * 1024;
        while (cap < r->n + more)
            cap *= 2;
        if (cap > s->opt.max_body)
            cap = s->opt.max_body;
        unsigned char *b = realloc(r->body, cap);
        if (!b)
            return sv_send_error(s, r, 503, 1, "out of memory");
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->n, upload, more);
    r->n += more;
    return MHD_YES;
}

/* "PNG", "JPEG", "GIF" by the first bytes, or NULL. */
static const char *sniff(const unsigned char *b, size_t n)
{
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
        return "PNG";
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "JPEG";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
        return "GIF";
    return NULL;
}

enum MHD_Result sv_upload_finish(struct hk_server *s, struct req *r, struct MHD_Connection *c)
{
    struct hk_error err;
    char boundary[HK_MULTIPART_MAX_BOUNDARY + 1];
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (hk_multipart_boundary(ctype, boundary, &err) != HK_OK)
        return sv_send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
    struct hk_multipart_part part;
    if (hk_multipart_find(r->body ? r->body : (const unsigned char *)"", r->n, boundary, "file", &part, &err) != HK_OK)
        return sv_send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
    unsigned char digest[HK_SHA256_BYTES];
    hk_sha256(part.data, part.size, digest);
    hk_sha256_hex(digest, r->upload_sha256);
    r->hashed = 1;
    r->upload_bytes = part.size;
    if (part.size == 0)
        return sv_send_error(s, r, 415, 0, "the file field is empty; send a PNG, JPEG or GIF picture");
    if (!sniff(part.data, part.size))
        return sv_send_error(s, r, 415, 0, "not a PNG, JPEG or GIF picture (judged by its first bytes)");
    unsigned char *rgb = NULL;
    int w, h;
    enum hk_status st = hk_image_decode(part.data, part.size, &s->opt.limits, &rgb, &w, &h, &err);
    if (st != HK_OK)
        return sv_send_error(s, r, st == HK_ENOMEM ? 413 : 415, 0, "%s", err.msg);
    free(r->body); /* the picture is decoded: the body is no longer needed */
    r->body = NULL;
    r->cap = 0;
    pthread_mutex_lock(&s->info_lock);
    r->in = s->input;
    struct hk_infer_prep prep = s->prep;
    pthread_mutex_unlock(&s->info_lock);
    r->rescale = prep.rescale;
    r->x = malloc(hk_shape_size(r->in) * sizeof *r->x);
    st = r->x ? hk_infer_pixels(r->in, &prep, rgb, w, h, NULL, r->x, &err) : hk_fail(&err, HK_ENOMEM, "out of memory");
    free(rgb);
    if (st != HK_OK)
        return sv_send_error(s, r, 503, 1, "%s", err.msg);

    int stopping = 0;
    if (sv_enqueue(s, r, &stopping))
        return sv_send_error(s, r, 503, 1, stopping ? "the server is stopping" : "busy: %d pictures are waiting; try "
                          "again", s->opt.queue);
    return MHD_YES;
}
