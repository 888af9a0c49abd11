/* worker.c: the compute thread, its queue of short calls and its one long job. */
#include "worker.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

#include "team.h"

struct call {
    hk_job_fn fn;
    void *arg;
    int done;
    struct call *next;
};

struct hk_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* the worker waits on this for work */
    pthread_cond_t done;  /* callers wait on this for their call or the long job */
    struct call *head, *tail;
    hk_job_fn job;        /* pending long job */
    void *job_arg;
    int busy;             /* a long job is pending or running */
    int quit;
};

/* Run every queued call; called with the lock held, returns with it held. */
static void run_calls(struct hk_worker *w)
{
    while (w->head) {
        struct call *c = w->head;
        w->head = c->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        c->fn(c->arg);
        pthread_mutex_lock(&w->lock);
        c->done = 1;
        pthread_cond_broadcast(&w->done);
    }
}

static void *worker_main(void *arg)
{
    struct hk_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        run_calls(w);
        if (w->job) {
            hk_job_fn fn = w->job;
            void *job_arg = w->job_arg;
            w->job = NULL;
            pthread_mutex_unlock(&w->lock);
            fn(job_arg);
            pthread_mutex_lock(&w->lock);
            w->busy = 0;
            pthread_cond_broadcast(&w->done);
            continue;
        }
        if (w->quit)
            break;
        pthread_cond_wait(&w->wake, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct hk_worker *hk_worker_new(struct hk_error *err)
{
    struct hk_worker *w = calloc(1, sizeof *w);
    if (!w) {
        hk_fail(err, HK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        hk_fail(err, HK_ENOMEM, "cannot start the compute thread");
        free(w);
        return NULL;
    }
    return w;
}

void hk_worker_free(struct hk_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    free(w);
}

void hk_worker_call(struct hk_worker *w, hk_job_fn fn, void *arg)
{
    struct call c = {fn, arg, 0, NULL};
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = &c;
    else
        w->head = &c;
    w->tail = &c;
    pthread_cond_broadcast(&w->wake);
    while (!c.done)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

enum hk_status hk_worker_start(struct hk_worker *w, hk_job_fn fn, void *arg, struct hk_error *err)
{
    pthread_mutex_lock(&w->lock);
    if (w->busy) {
        pthread_mutex_unlock(&w->lock);
        return hk_fail(err, HK_EBUSY, "a run is already going; stop it or wait for it first");
    }
    w->busy = 1;
    w->job = fn;
    w->job_arg = arg;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return HK_OK;
}

int hk_worker_busy(struct hk_worker *w)
{
    pthread_mutex_lock(&w->lock);
    int busy = w->busy;
    pthread_mutex_unlock(&w->lock);
    return busy;
}

void hk_worker_wait(struct hk_worker *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->busy)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void hk_worker_service(struct hk_worker *w)
{
    pthread_mutex_lock(&w->lock);
    run_calls(w);
    pthread_mutex_unlock(&w->lock);
}

int hk_worker_stopping(struct hk_worker *w)
{
    pthread_mutex_lock(&w->lock);
    int quit = w->quit;
    pthread_mutex_unlock(&w->lock);
    return quit;
}

/* The team splits the conv layers over the batch; every sgemm then runs on one thread. */
static void set_threads(void *arg)
{
    int n = *(int *)arg;
    hk_team_resize(n > 0 ? n : openblas_get_num_procs(), NULL);
}

void hk_worker_set_threads(struct hk_worker *w, int threads)
{
    hk_worker_call(w, set_threads, &threads);
}
