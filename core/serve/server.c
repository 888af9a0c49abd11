/* server.c: the HTTP server (libmicrohttpd thread pool, suspend/resume), the inference thread
 * with its bounded queue, the deadline watchdog, statistics and the audit log. See server.h.
 *
 * A POST /predict goes: first call (headers) -> rate limit, declared length, Content-Type;
 * upload calls -> the body into a buffer, never past max_body; last call -> multipart, sniff,
 * SHA-256, decode under the limits, then the inference API's preprocessing (infer.h: resize to the
 * model input, rescale); then the connection is suspended and its request queued (503 when the
 * queue is full); the inference thread predicts a batch with the inference API, decides each class
 * at the model's threshold (hk_infer_decide, as the shell's predict) and resumes each connection,
 * whose next call answers. Each answer is counted and gets an
 * audit line (audit.h); the watchdog (watchdog.h) holds every connection to its deadline. */
#define _GNU_SOURCE /* strcasestr */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "infer.h"
#include "json.h"
#include "multipart.h"
#include "page.h"
#include "ratelimit.h"
#include "sha256.h"
#include "watchdog.h"

#define LATENCY_RING 10000
#define PATH_KEEP 200 /* bytes of a request path kept for the audit log */

enum req_kind { REQ_OTHER, REQ_PREDICT };
enum req_state { ST_RECEIVING, ST_QUEUED, ST_DONE, ST_ANSWERED };

struct req {
    struct hk_server *srv;
    struct MHD_Connection *conn;
    struct req *next;                /* queue link */
    enum req_kind kind;
    enum req_state state;
    double t0;
    char client[INET6_ADDRSTRLEN + 8];
    char method[16];
    char path[PATH_KEEP + 1];
    unsigned char *body;
    size_t n, cap;
    size_t discarded;                /* bytes of a body over the limit, read and dropped */
    int hashed;
    char upload_sha256[65];
    size_t upload_bytes;
    float *x;                        /* the model input (infer.h), prepared for shape `in` and `rescale` */
    struct hk_shape in;
    float rescale;
    /* result, filled by the inference thread */
    int status;                      /* 0 = ok */
    char why[640];
    int best;
    double probability, score;
    float threshold;                 /* a sigmoid's decision threshold (0: a softmax) */
    char class_name[HK_MODELFILE_MAX_CLASS_NAME + 1];
    char model_sha256[65];
};

struct hk_server {
    struct hk_server_options opt;
    char *bind, *audit_path, *pin, *trust, *source;
    struct MHD_Daemon *daemon;
    int port;
    struct hk_ratelimit *rl;
    const char *page;
    size_t page_len;

    /* the model: `model` is used by the inference thread under model_lock; the snapshot below
       (input size, hash, /model answer) under info_lock */
    pthread_mutex_t model_lock;
    struct hk_served *model;
    pthread_mutex_t info_lock;
    struct hk_shape input;
    struct hk_infer_prep prep;
    char sha256[65];
    char *model_json;

    /* the queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct req *head, *tail;
    int queued;
    atomic_int stopping;
    pthread_t infer;
    int infer_started;

    struct hk_watchdog *wd;          /* the per-request deadline */

    /* statistics */
    pthread_mutex_t slock;
    struct hk_server_stats st;
    double *lat;
    size_t lat_n, lat_at;

    struct hk_audit *audit;          /* NULL: no audit log */
};

static double now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void hk_server_options_default(struct hk_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->bind = "127.0.0.1";
    o->port = 8080;
    o->max_body = (size_t)10 * 1024 * 1024;
    o->limits = hk_image_limits_default();
    o->rate_per_minute = 5;
    o->burst = 10;
    o->conns = 5;
    o->max_conns = 256;
    o->queue = 32;
    o->batch = 16;
    o->threads = 2;
    o->timeout = 10;
    o->deadline = 30;
}

/* ---- audit log ---- */

static void audit_request(struct hk_server *s, const struct req *r, int status, double ms)
{
    struct hk_json j = {0};
    hk_audit_begin(&j, "request");
    hk_json_raw(&j, ",\"client\":");
    hk_json_str(&j, r->client);
    hk_json_raw(&j, ",\"method\":");
    hk_json_str(&j, r->method);
    hk_json_raw(&j, ",\"path\":");
    hk_json_str(&j, r->path);
    hk_json_printf(&j, ",\"status\":%d,\"latency_ms\":%.3f", status, ms);
    if (r->kind == REQ_PREDICT) {
        hk_json_printf(&j, ",\"upload_bytes\":%zu,\"upload_sha256\":", r->upload_bytes);
        hk_json_str(&j, r->hashed ? r->upload_sha256 : NULL);
        if (status == 200) {
            hk_json_raw(&j, ",\"class\":");
            hk_json_str(&j, r->class_name);
            hk_json_printf(&j, ",\"probability\":%.6f", r->probability);
        }
        hk_json_raw(&j, ",\"model_sha256\":");
        hk_json_str(&j, r->model_sha256[0] ? r->model_sha256 : NULL);
    }
    if (status >= 400) {
        hk_json_raw(&j, ",\"error\":");
        hk_json_str(&j, r->why);
    }
    hk_audit_write(s->audit, &j);
    hk_json_free(&j);
}

static void audit_event(struct hk_server *s, const char *event, const char *old_sha, const char *new_sha,
                        const char *source, const char *error)
{
    struct hk_json j = {0};
    hk_audit_begin(&j, event);
    if (!strcmp(event, "reload")) {
        hk_json_raw(&j, ",\"old_model_sha256\":");
        hk_json_str(&j, old_sha);
        hk_json_raw(&j, ",\"new_model_sha256\":");
        hk_json_str(&j, new_sha && *new_sha ? new_sha : NULL);
        hk_json_printf(&j, ",\"ok\":%s", error ? "false" : "true");
    } else {
        hk_json_raw(&j, ",\"model_sha256\":");
        hk_json_str(&j, new_sha);
    }
    hk_json_raw(&j, ",\"source\":");
    hk_json_str(&j, source);
    if (!strcmp(event, "start"))
        hk_json_printf(&j, ",\"port\":%d", s->port);
    if (error) {
        hk_json_raw(&j, ",\"error\":");
        hk_json_str(&j, error);
    }
    hk_audit_write(s->audit, &j);
    hk_json_free(&j);
}

/* ---- the model snapshot ---- */

/* The served model's decision threshold on its sigmoid output (0.5 when its file has none). */
static float served_threshold(const struct hk_served *m)
{
    return m->meta.threshold > 0 ? m->meta.threshold : 0.5f;
}

/* How uploads become inputs of m: the server's decoder limits and m's rescale. */
static struct hk_infer_prep served_prep(const struct hk_server *s, const struct hk_served *m)
{
    return (struct hk_infer_prep){&s->opt.limits, m->meta.rescale > 0 ? m->meta.rescale : 1.0f};
}

static char *describe_model(const struct hk_served *m)
{
    struct hk_json j = {0};
    struct hk_shape in = hk_model_input(m->model);
    hk_json_raw(&j, "{\"classes\":[");
    int k = m->outputs == 1 ? 2 : m->outputs;
    for (int i = 0; i < k; i++) {
        char buf[32];
        if (i)
            hk_json_raw(&j, ",");
        hk_json_str(&j, hk_served_class(m, i, buf, sizeof buf));
    }
    float rescale = m->meta.rescale > 0 ? m->meta.rescale : 1.0f;
    hk_json_printf(&j, "],\"input\":{\"height\":%d,\"width\":%d,\"channels\":%d}", in.h, in.w, in.c);
    hk_json_printf(&j, ",\"preprocessing\":{\"formats\":[\"PNG\",\"JPEG\",\"GIF\"],\"color\":\"RGB\","
                       "\"resize\":\"antialiased bilinear to %dx%d\",\"rescale\":%.9g}",
                   in.w, in.h, (double)rescale);
    hk_json_printf(&j, ",\"output\":\"%s\"", m->outputs == 1 ? "sigmoid" : "softmax");
    if (m->outputs == 1)
        hk_json_printf(&j, ",\"score\":\"the sigmoid output: the probability of class 1\",\"threshold\":%.9g,"
                           "\"decision\":\"class 1 when the score is at least the threshold\"",
                       (double)served_threshold(m));
    hk_json_printf(&j, ",\"layers\":%d,\"parameters\":%zu,\"sha256\":\"%s\"}", hk_model_count(m->model),
                   hk_model_param_count(m->model), m->sha256);
    if (j.oom) {
        hk_json_free(&j);
        return NULL;
    }
    return j.p;
}

/* Install m as the served model (the server owns it); returns the old one (to free). */
static struct hk_served *install(struct hk_server *s, struct hk_served *m, char *json)
{
    pthread_mutex_lock(&s->model_lock);
    struct hk_served *old = s->model;
    s->model = m;
    pthread_mutex_unlock(&s->model_lock);
    pthread_mutex_lock(&s->info_lock);
    s->input = hk_model_input(m->model);
    s->prep = served_prep(s, m);
    memcpy(s->sha256, m->sha256, sizeof s->sha256);
    free(s->model_json);
    s->model_json = json;
    pthread_mutex_unlock(&s->info_lock);
    return old;
}

/* ---- statistics ---- */

static void count(struct hk_server *s, const struct req *r, int status, double ms)
{
    pthread_mutex_lock(&s->slock);
    s->st.requests++;
    if (status >= 400)
        s->st.errors++;
    switch (status) {
    case 429: s->st.rate_limited++; break;
    case 503: s->st.queue_full++; break;
    case 413: s->st.too_large++; break;
    case 415: s->st.not_image++; break;
    case 400: case 404: case 405: s->st.bad_request++; break;
    default: break;
    }
    if (status == 200 && r->kind == REQ_PREDICT) {
        s->st.predictions++;
        s->lat[s->lat_at] = ms;
        s->lat_at = (s->lat_at + 1) % LATENCY_RING;
        if (s->lat_n < LATENCY_RING)
            s->lat_n++;
    }
    pthread_mutex_unlock(&s->slock);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void hk_server_stats(struct hk_server *s, struct hk_server_stats *st)
{
    pthread_mutex_lock(&s->slock);
    *st = s->st;
    st->timed_out = hk_watchdog_closed(s->wd);
    size_t n = s->lat_n;
    double *v = n ? malloc(n * sizeof *v) : NULL;
    if (v)
        memcpy(v, s->lat, n * sizeof *v);
    pthread_mutex_unlock(&s->slock);
    st->p50_ms = st->p99_ms = 0;
    if (v) {
        qsort(v, n, sizeof *v, cmp_double);
        st->p50_ms = v[(n - 1) / 2];
        st->p99_ms = v[(size_t)ceil(0.99 * (double)n) - 1];
        free(v);
    }
    pthread_mutex_lock(&s->qlock);
    st->queued = s->queued;
    pthread_mutex_unlock(&s->qlock);
    pthread_mutex_lock(&s->info_lock);
    memcpy(st->model_sha256, s->sha256, sizeof st->model_sha256);
    pthread_mutex_unlock(&s->info_lock);
    snprintf(st->model_source, sizeof st->model_source, "%s", s->source ? s->source : "");
    st->port = s->port;
}

/* ---- answers ---- */

static enum MHD_Result send_answer(struct hk_server *s, struct req *r, int status, const char *type,
                                   const char *body, size_t len, int retry_after)
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
    double ms = (now_mono() - r->t0) * 1e3;
    count(s, r, status, ms);
    audit_request(s, r, status, ms);
    return ok;
}

static enum MHD_Result send_error(struct hk_server *s, struct req *r, int status, int retry_after, const char *fmt,
                                  ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(struct hk_server *s, struct req *r, int status, int retry_after, const char *fmt,
                                  ...)
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
                               : send_answer(s, r, status, "application/json", j.p, j.n, retry_after);
    hk_json_free(&j);
    return ok;
}

static enum MHD_Result send_prediction(struct hk_server *s, struct req *r)
{
    if (r->status)
        return send_error(s, r, r->status, r->status == 503 ? 1 : 0, "%s", r->why);
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
    enum MHD_Result ok = j.oom ? MHD_NO : send_answer(s, r, 200, "application/json", j.p, j.n, 0);
    hk_json_free(&j);
    return ok;
}

/* ---- the inference thread ---- */

static void resume(struct req *r)
{
    r->state = ST_DONE;
    MHD_resume_connection(r->conn);
}

static void predict_batch(struct hk_server *s, struct req **batch, int n, float **x, size_t *xcap, float **probs,
                          size_t *pcap)
{
    pthread_mutex_lock(&s->model_lock);
    struct hk_served *m = s->model;
    struct hk_shape in = hk_model_input(m->model);
    size_t size = hk_shape_size(in);
    int k = m->outputs;
    struct hk_infer_prep prep = served_prep(s, m);
    float threshold = k == 1 ? served_threshold(m) : 0;
    int good = 0;
    struct req *ok[64];
    if ((size_t)n * size > *xcap) {
        float *nx = realloc(*x, (size_t)n * size * sizeof **x);
        if (nx) {
            *x = nx;
            *xcap = (size_t)n * size;
        }
    }
    if ((size_t)n * (size_t)k > *pcap) {
        float *np = realloc(*probs, (size_t)n * (size_t)k * sizeof **probs);
        if (np) {
            *probs = np;
            *pcap = (size_t)n * (size_t)k;
        }
    }
    for (int i = 0; i < n; i++) {
        struct req *r = batch[i];
        if (r->in.h != in.h || r->in.w != in.w || r->in.c != in.c || r->rescale != prep.rescale) {
            r->status = 503;
            snprintf(r->why, sizeof r->why, "the model was reloaded with another input size or rescale; send it again");
        } else if ((size_t)n * size > *xcap || (size_t)n * (size_t)k > *pcap) {
            r->status = 503;
            snprintf(r->why, sizeof r->why, "out of memory");
        } else {
            memcpy(*x + (size_t)good * size, r->x, size * sizeof **x);
            ok[good++] = r;
        }
    }
    struct hk_error err;
    enum hk_status st = hk_infer_predict_here(m->model, *x, good, *probs, &err);
    for (int i = 0; i < good; i++) {
        struct req *r = ok[i];
        memcpy(r->model_sha256, m->sha256, sizeof r->model_sha256);
        if (st != HK_OK) {
            r->status = 503;
            snprintf(r->why, sizeof r->why, "%s", err.msg);
            continue;
        }
        const float *p = *probs + (size_t)i * (size_t)k;
        int finite = 1;
        for (int c = 0; c < k; c++)
            finite = finite && isfinite(p[c]);
        if (!finite) {
            r->status = 503;
            snprintf(r->why, sizeof r->why, "the model's output is not a number");
            continue;
        }
        r->best = hk_infer_decide(p, k, threshold, &r->probability);
        r->score = k == 1 ? (double)p[0] : (double)p[r->best];
        r->threshold = threshold;
        char buf[32];
        snprintf(r->class_name, sizeof r->class_name, "%s", hk_served_class(m, r->best, buf, sizeof buf));
    }
    pthread_mutex_unlock(&s->model_lock);
}

static void *infer_main(void *arg)
{
    struct hk_server *s = arg;
    float *x = NULL, *probs = NULL;
    size_t xcap = 0, pcap = 0;
    int most = s->opt.batch < 1 ? 1 : s->opt.batch > 64 ? 64 : s->opt.batch;
    for (;;) {
        struct req *batch[64];
        int n = 0;
        pthread_mutex_lock(&s->qlock);
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->qcond, &s->qlock);
        if (!s->head) {
            pthread_mutex_unlock(&s->qlock);
            break;
        }
        while (s->head && n < most) {
            batch[n++] = s->head;
            s->head = s->head->next;
            s->queued--;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->qlock);
        predict_batch(s, batch, n, &x, &xcap, &probs, &pcap);
        for (int i = 0; i < n; i++)
            resume(batch[i]);
    }
    free(x);
    free(probs);
    return NULL;
}

/* ---- the deadline watchdog ---- */

static struct hk_watch *watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd's connection start and close: watched from the first byte to the close. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct hk_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? hk_watchdog_add(s->wd, ci->connect_fd) : NULL;
    } else {
        hk_watchdog_remove(s->wd, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- requests ---- */

static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
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

static enum MHD_Result finish_upload(struct hk_server *s, struct req *r, struct MHD_Connection *c)
{
    struct hk_error err;
    char boundary[HK_MULTIPART_MAX_BOUNDARY + 1];
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (hk_multipart_boundary(ctype, boundary, &err) != HK_OK)
        return send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
    struct hk_multipart_part part;
    if (hk_multipart_find(r->body ? r->body : (const unsigned char *)"", r->n, boundary, "file", &part, &err) != HK_OK)
        return send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
    unsigned char digest[HK_SHA256_BYTES];
    hk_sha256(part.data, part.size, digest);
    hk_sha256_hex(digest, r->upload_sha256);
    r->hashed = 1;
    r->upload_bytes = part.size;
    if (part.size == 0)
        return send_error(s, r, 415, 0, "the file field is empty; send a PNG, JPEG or GIF picture");
    if (!sniff(part.data, part.size))
        return send_error(s, r, 415, 0, "not a PNG, JPEG or GIF picture (judged by its first bytes)");
    unsigned char *rgb = NULL;
    int w, h;
    enum hk_status st = hk_image_decode(part.data, part.size, &s->opt.limits, &rgb, &w, &h, &err);
    if (st != HK_OK)
        return send_error(s, r, st == HK_ENOMEM ? 413 : 415, 0, "%s", err.msg);
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
        return send_error(s, r, 503, 1, "%s", err.msg);

    pthread_mutex_lock(&s->qlock);
    if (s->stopping || s->queued >= s->opt.queue) {
        int stopping = atomic_load(&s->stopping);
        pthread_mutex_unlock(&s->qlock);
        return send_error(s, r, 503, 1, stopping ? "the server is stopping" : "busy: %d pictures are waiting; try "
                          "again", s->opt.queue);
    }
    /* suspended before it is queued, so that the inference thread's resume always follows */
    r->state = ST_QUEUED;
    hk_watchdog_mark(s->wd, watch_of(c), 1, 0);
    MHD_suspend_connection(c);
    r->next = NULL;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->queued++;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    return MHD_YES;
}

static enum MHD_Result send_model(struct hk_server *s, struct req *r)
{
    pthread_mutex_lock(&s->info_lock);
    char *copy = s->model_json ? strdup(s->model_json) : NULL;
    pthread_mutex_unlock(&s->info_lock);
    if (!copy)
        return send_error(s, r, 503, 1, "out of memory");
    enum MHD_Result ok = send_answer(s, r, 200, "application/json", copy, strlen(copy), 0);
    free(copy);
    return ok;
}

static enum MHD_Result first_call(struct hk_server *s, struct req *r, struct MHD_Connection *c, const char *url,
                                  const char *method)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/predict")) {
        r->kind = REQ_PREDICT;
        if (strcmp(method, "POST"))
            return send_error(s, r, 405, 0, "POST a multipart/form-data body with a field named file");
        int retry = 0;
        if (!hk_ratelimit_take(s->rl, r->client, now_mono(), &retry))
            return send_error(s, r, 429, retry, "too many requests: at most %g a minute (burst %d); try again "
                              "in %d s", s->opt.rate_per_minute, s->opt.burst, retry);
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (len) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(len, &end, 10);
            if (errno || *end || v > s->opt.max_body)
                return send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
        }
        char boundary[HK_MULTIPART_MAX_BOUNDARY + 1];
        struct hk_error err;
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (hk_multipart_boundary(ctype, boundary, &err) != HK_OK)
            return send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
        return MHD_YES; /* the body follows */
    }
    if (get && !strcmp(url, "/"))
        return send_answer(s, r, 200, "text/html; charset=utf-8", s->page, s->page_len, 0);
    if (get && !strcmp(url, "/model"))
        return send_model(s, r);
    if (!strcmp(url, "/") || !strcmp(url, "/model"))
        return send_error(s, r, 405, 0, "use GET");
    return send_error(s, r, 404, 0, "no such page; try GET /, GET /model or POST /predict");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct hk_server *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->srv = s;
        r->conn = c;
        r->t0 = now_mono();
        client_address(c, r->client, sizeof r->client);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        return first_call(s, r, c, url, method);
    }
    if (r->state == ST_ANSWERED) {
        *upload_size = 0; /* an answer went out early: the rest of the body is dropped */
        return MHD_YES;
    }
    if (r->state == ST_DONE)
        return send_prediction(s, r);
    if (r->kind != REQ_PREDICT || r->state != ST_RECEIVING)
        return MHD_YES;
    if (*upload_size) {
        size_t more = *upload_size;
        *upload_size = 0;
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
                return send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
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
                return send_error(s, r, 503, 1, "out of memory");
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->n, upload, more);
        r->n += more;
        return MHD_YES;
    }
    if (r->discarded)
        return send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
    return finish_upload(s, r, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    (void)code;
    struct hk_server *s = cls;
    struct req *r = *con_cls;
    hk_watchdog_mark(s->wd, watch_of(c), 0, 1); /* the next request's deadline starts now */
    if (!r)
        return;
    free(r->body);
    free(r->x);
    free(r);
    *con_cls = NULL;
}

/* ---- start, reload, stop ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_server(struct hk_server *s)
{
    hk_audit_close(s->audit);
    hk_watchdog_stop(s->wd);
    hk_ratelimit_free(s->rl);
    hk_served_free(s->model);
    free(s->model_json);
    free(s->lat);
    free(s->bind);
    free(s->audit_path);
    free(s->pin);
    free(s->trust);
    free(s->source);
    pthread_mutex_destroy(&s->model_lock);
    pthread_mutex_destroy(&s->info_lock);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->slock);
    free(s);
}

static void stop_threads(struct hk_server *s)
{
    pthread_mutex_lock(&s->qlock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    if (s->infer_started)
        pthread_join(s->infer, NULL);
    s->infer_started = 0;
}

enum hk_status hk_server_start(const struct hk_server_options *o, struct hk_served *model, struct hk_server **out,
                               struct hk_error *err)
{
    char ebuf[128];
    *out = NULL;
    if (o->port < 0 || o->port > 65535 || o->max_body < 1 || o->queue < 1 || o->conns < 1 || o->threads < 1 ||
        o->timeout < 1 || o->deadline < 1 || o->max_conns < 1) {
        hk_served_free(model);
        return hk_fail(err, HK_EINVAL, "bad server option");
    }
    struct hk_server *s = calloc(1, sizeof *s);
    if (!s) {
        hk_served_free(model);
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->model_lock, NULL);
    pthread_mutex_init(&s->info_lock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_mutex_init(&s->slock, NULL);
    s->opt = *o;
    s->bind = dup_or_null(o->bind ? o->bind : "127.0.0.1");
    s->audit_path = dup_or_null(o->audit_path);
    s->pin = dup_or_null(o->pin_sha256);
    s->trust = dup_or_null(o->trust_pub);
    s->source = dup_or_null(o->model_source);
    s->opt.bind = s->bind;
    s->opt.audit_path = s->audit_path;
    s->opt.pin_sha256 = s->pin;
    s->opt.trust_pub = s->trust;
    s->opt.model_source = s->source;
    s->page = hk_serve_page;
    s->page_len = hk_serve_page_len;
    s->rl = hk_ratelimit_new(o->rate_per_minute, o->burst);
    s->lat = malloc(LATENCY_RING * sizeof *s->lat);
    char *json = describe_model(model);
    if (!s->bind || !s->rl || !s->lat || !json || (o->audit_path && !s->audit_path)) {
        free(json);
        hk_served_free(model);
        free_server(s);
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    install(s, model, json);

    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, s->bind, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, s->bind, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)o->port);
        flags |= MHD_USE_IPv6;
    } else {
        free_server(s);
        return hk_fail(err, HK_EINVAL, "bind=%s is not an IPv4 or IPv6 address", o->bind);
    }
    if ((s->audit_path && hk_audit_open(s->audit_path, &s->audit, err) != HK_OK) ||
        hk_watchdog_start(o->deadline, &s->wd, err) != HK_OK) {
        free_server(s);
        return err->status;
    }
    if (pthread_create(&s->infer, NULL, infer_main, s) != 0) {
        free_server(s);
        return hk_fail(err, HK_ENOMEM, "cannot start the inference thread");
    }
    s->infer_started = 1;
    s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->conns,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        stop_threads(s);
        free_server(s);
        return hk_fail(err, HK_EIO, "cannot listen on %s port %d%s%s", o->bind, o->port, e ? ": " : "",
                       e ? hk_os_error(e, ebuf, sizeof ebuf) : "");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    audit_event(s, "start", NULL, s->sha256, s->source, NULL);
    *out = s;
    return HK_OK;
}

int hk_server_port(const struct hk_server *s)
{
    return s->port;
}

enum hk_status hk_server_reload(struct hk_server *s, const char *path, const char *source, const char *pin_hex,
                                struct hk_error *err)
{
    char seen[65], old[65];
    pthread_mutex_lock(&s->info_lock);
    memcpy(old, s->sha256, sizeof old);
    pthread_mutex_unlock(&s->info_lock);
    const char *pin = pin_hex ? pin_hex : s->pin;
    const char *name = source ? source : path;
    struct hk_served *m = NULL;
    enum hk_status st = hk_served_load(path, pin, s->trust, &m, seen, err);
    char *json = st == HK_OK ? describe_model(m) : NULL;
    if (st == HK_OK && !json) {
        hk_served_free(m);
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&s->slock);
    s->st.reloads++;
    if (st != HK_OK)
        s->st.reloads_refused++;
    pthread_mutex_unlock(&s->slock);
    if (st != HK_OK) {
        audit_event(s, "reload", old, seen, name, err->msg);
        return st;
    }
    hk_served_free(install(s, m, json));
    if (pin_hex) {
        free(s->pin);
        s->pin = strdup(pin_hex);
    }
    char *src = strdup(name);
    if (src) {
        free(s->source);
        s->source = src;
    }
    audit_event(s, "reload", old, m->sha256, name, NULL);
    return HK_OK;
}

void hk_server_stop(struct hk_server *s)
{
    if (!s)
        return;
    /* the inference thread answers what is queued (and resumes those connections) first */
    stop_threads(s);
    MHD_stop_daemon(s->daemon);
    audit_event(s, "stop", NULL, s->sha256, s->source, NULL);
    free_server(s);
}
