/* server_lifecycle.c: starting, reloading and stopping the HTTP server (see server.h). Its
 * parts, one file each (server_internal.h lists them): libmicrohttpd and routing (server_http.c),
 * the upload of a picture (server_upload.c), the queue and the inference thread
 * (server_infer.c), the answers (server_answer.c), the served model (server_model.c), statistics
 * and the audit log (server_log.c).
 *
 * A POST /predict goes: first call (headers) -> rate limit, declared length, Content-Type;
 * upload calls -> the body into a buffer, never past max_body; last call -> multipart, sniff,
 * SHA-256, decode under the limits, then the inference API's preprocessing (infer.h: resize to the
 * model input, rescale); then the connection is suspended and its request queued (503 when the
 * queue is full); the inference thread predicts a batch with the inference API, decides each class
 * at the model's threshold (hk_infer_decide, as the shell's predict) and resumes each connection,
 * whose next call answers. Each answer is counted and gets an audit line (audit.h); the watchdog
 * (watchdog.h) holds every connection to its deadline. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"
#include "page.h"
#include "ratelimit.h"
#include "server_internal.h"
#include "watchdog.h"

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
    char *json = sv_describe_model(model);
    if (!s->bind || !s->rl || !s->lat || !json || (o->audit_path && !s->audit_path)) {
        free(json);
        hk_served_free(model);
        free_server(s);
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    sv_install(s, model, json);

    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    int v6 = 0;
    if (inet_pton(AF_INET, s->bind, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, s->bind, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)o->port);
        v6 = 1;
    } else {
        free_server(s);
        return hk_fail(err, HK_EINVAL, "bind=%s is not an IPv4 or IPv6 address", o->bind);
    }
    if ((s->audit_path && hk_audit_open(s->audit_path, &s->audit, err) != HK_OK) ||
        hk_watchdog_start(o->deadline, &s->wd, err) != HK_OK) {
        free_server(s);
        return err->status;
    }
    if (pthread_create(&s->infer, NULL, sv_infer_main, s) != 0) {
        free_server(s);
        return hk_fail(err, HK_ENOMEM, "cannot start the inference thread");
    }
    s->infer_started = 1;
    if (sv_http_start(s, (const struct sockaddr *)&addr, v6, err) != HK_OK) {
        stop_threads(s);
        free_server(s);
        return err->status;
    }
    sv_audit_event(s, "start", NULL, s->sha256, s->source, NULL);
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
    char *json = st == HK_OK ? sv_describe_model(m) : NULL;
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
        sv_audit_event(s, "reload", old, seen, name, err->msg);
        return st;
    }
    hk_served_free(sv_install(s, m, json));
    if (pin_hex) {
        free(s->pin);
        s->pin = strdup(pin_hex);
    }
    char *src = strdup(name);
    if (src) {
        free(s->source);
        s->source = src;
    }
    sv_audit_event(s, "reload", old, m->sha256, name, NULL);
    return HK_OK;
}

void hk_server_stop(struct hk_server *s)
{
    if (!s)
        return;
    /* the inference thread answers what is queued (and resumes those connections) first */
    stop_threads(s);
    MHD_stop_daemon(s->daemon);
    sv_audit_event(s, "stop", NULL, s->sha256, s->source, NULL);
    free_server(s);
}
