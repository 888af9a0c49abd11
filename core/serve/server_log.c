/* server_log.c: the server's clock, its statistics (answers by status, the latency of the last
 * predictions, hk_server_stats) and its audit lines for requests and for start, reload and stop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "json.h"
#include "server_internal.h"
#include "watchdog.h"

double sv_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void sv_count(struct hk_server *s, const struct req *r, int status, double ms)
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

void sv_audit_request(struct hk_server *s, const struct req *r, int status, double ms)
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

void sv_audit_event(struct hk_server *s, const char *event, const char *old_sha, const char *new_sha,
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
