/* server_answer.c: every answer the server gives: the common headers (nosniff, no-store, the
 * page's Content-Security-Policy, Retry-After), JSON errors, a prediction and GET /model; each
 * answer is counted and audited once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "server_internal.h"

enum MHD_Result sv_send_answer(struct hk_server *s, struct req *r, int status, const char *type, const char *body,
                               size_t len, int retry_after)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (!strncmp(type, "text/html", 9))
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                "img-src blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'");
    if (retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->state = ST_ANSWERED;
    double ms = (sv_now() - r->t0) * 1e3;
    sv_count(s, r, status, ms);
    sv_audit_request(s, r, status, ms);
    return ok;
}

enum MHD_Result sv_send_error(struct hk_server *s, struct req *r, int status, int retry_after, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    struct hk_json j = {0};
    hk_json_printf(&j, "{\"error\":");
    hk_json_str(&j, r->why);
    hk_json_printf(&j, ",\"status\":%d}\n", status);
    enum MHD_Result ok = j.oom ? MHD_NO
                               : sv_send_answer(s, r, status, "application/json", j.p, j.n, retry_after);
    hk_json_free(&j);
    return ok;
}

enum MHD_Result sv_send_prediction(struct hk_server *s, struct req *r)
{
    if (r->status)
        return sv_send_error(s, r, r->status, r->status == 503 ? 1 : 0, "%s", r->why);
    struct hk_json j = {0};
    hk_json_raw(&j, "{\"class\":");
    hk_json_str(&j, r->class_name);
    hk_json_printf(&j, ",\"probability\":%.6f,\"score\":%.6f,", r->probability, r->score);
    if (r->threshold > 0)
        hk_json_printf(&j, "\"threshold\":%.9g,", (double)r->threshold);
    hk_json_raw(&j, "\"text\":");
    hk_json_str(&j, strcmp(r->class_name, "husky") ? "Does not look like a husky to me." : "It is a husky!");
    hk_json_printf(&j, ",\"model_sha256\":\"%s\",\"upload_sha256\":\"%s\",\"upload_bytes\":%zu}\n",
                   r->model_sha256, r->upload_sha256, r->upload_bytes);
    enum MHD_Result ok = j.oom ? MHD_NO : sv_send_answer(s, r, 200, "application/json", j.p, j.n, 0);
    hk_json_free(&j);
    return ok;
}

enum MHD_Result sv_send_model(struct hk_server *s, struct req *r)
{
    pthread_mutex_lock(&s->info_lock);
    char *copy = s->model_json ? strdup(s->model_json) : NULL;
    pthread_mutex_unlock(&s->info_lock);
    if (!copy)
        return sv_send_error(s, r, 503, 1, "out of memory");
    enum MHD_Result ok = sv_send_answer(s, r, 200, "application/json", copy, strlen(copy), 0);
    free(copy);
    return ok;
}
