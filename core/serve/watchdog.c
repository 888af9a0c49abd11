/* watchdog.c: per-request deadlines over a list of watched sockets (see watchdog.h). */
#include "watchdog.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct hk_watch {
    int fd;                          /* -1 once shut down */
    double t0;                       /* start of the connection or of its current request */
    int busy;
    struct hk_watch *prev, *next;
};

struct hk_watchdog {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    double deadline;
    int stopping;
    uint64_t closed;
    struct hk_watch *list;
};

static double now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *watch_main(void *arg)
{
    struct hk_watchdog *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &until);
        double now = now_mono();
        /* the fd stays open until the owner removes the watch, which needs this lock */
        for (struct hk_watch *t = w->list; t; t = t->next)
            if (!t->busy && t->fd >= 0 && now - t->t0 > w->deadline) {
                shutdown(t->fd, SHUT_RDWR);
                t->fd = -1;
                w->closed++;
            }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

enum hk_status hk_watchdog_start(double deadline, struct hk_watchdog **out, struct hk_error *err)
{
    *out = NULL;
    struct hk_watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->deadline = deadline;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return hk_fail(err, HK_ENOMEM, "cannot start the watchdog thread");
    }
    *out = w;
    return HK_OK;
}

struct hk_watch *hk_watchdog_add(struct hk_watchdog *w, int fd)
{
    struct hk_watch *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fd = fd;
    t->t0 = now_mono();
    pthread_mutex_lock(&w->lock);
    t->next = w->list;
    if (w->list)
        w->list->prev = t;
    w->list = t;
    pthread_mutex_unlock(&w->lock);
    return t;
}

void hk_watchdog_remove(struct hk_watchdog *w, struct hk_watch *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&w->lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        w->list = t->next;
    if (t->next)
        t->next->prev = t->prev;
    pthread_mutex_unlock(&w->lock);
    free(t);
}

void hk_watchdog_mark(struct hk_watchdog *w, struct hk_watch *t, int busy, int restart)
{
    if (!t)
        return;
    pthread_mutex_lock(&w->lock);
    t->busy = busy;
    if (restart)
        t->t0 = now_mono();
    pthread_mutex_unlock(&w->lock);
}

uint64_t hk_watchdog_closed(struct hk_watchdog *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t n = w->closed;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void hk_watchdog_stop(struct hk_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    while (w->list) {
        struct hk_watch *t = w->list;
        w->list = t->next;
        free(t);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
