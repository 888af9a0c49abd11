/* server_infer.c: the bounded queue and the ONE inference thread that owns the served model: it
 * takes up to `batch` queued requests, predicts them with the inference API (infer.h), decides
 * each class at the model's threshold (hk_infer_decide, as the shell's predict) and resumes each
 * connection, whose next call answers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"
#include "watchdog.h"

static void resume(struct req *r)
{
    r->state = ST_DONE;
    MHD_resume_connection(r->conn);
}

int sv_enqueue(struct hk_server *s, struct req *r, int *stopping)
{
    pthread_mutex_lock(&s->qlock);
    if (s->stopping || s->queued >= s->opt.queue) {
        *stopping = atomic_load(&s->stopping);
        pthread_mutex_unlock(&s->qlock);
        return 1;
    }
    /* suspended before it is queued, so that the inference thread's resume always follows */
    r->state = ST_QUEUED;
    hk_watchdog_mark(s->wd, sv_watch_of(r->conn), 1, 0);
    MHD_suspend_connection(r->conn);
    r->next = NULL;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->queued++;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    return 0;
}

static void predict_batch(struct hk_server *s, struct req **batch, int n, float **x, size_t *xcap, float **probs,
                          size_t *pcap)
{
    pthread_mutex_lock(&s->model_lock);
    struct hk_served *m = s->model;
    struct hk_shape in = hk_model_input(m->model);
    size_t size = hk_shape_size(in);
    int k = m->outputs;
    struct hk_infer_prep prep = sv_prep(s, m);
    float threshold = k == 1 ? sv_threshold(m) : 0;
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

void *sv_infer_main(void *arg)
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
