/* prefetch.c: the double-buffered batch producer behind hk_prefetch_*: two slots, one helper
 * thread, a mutex and two condition variables. */
#include "prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct slot {
    float *x;
    enum slot_state state;
    int batch; /* which batch it holds (READY) or is filling (FILLING) */
};

struct hk_prefetch {
    const struct hk_dataset *ds;
    int batch, batches;
    int part, parts;         /* this process fills share `part` of `parts` of each batch */
    float rescale;
    struct hk_augment aug;
    uint64_t seed, epoch;
    uint32_t *order;         /* the current epoch's order; rewritten only while nothing is FILLING */
    unsigned char *tmp;      /* warp scratch of the filling thread */
    struct slot slots[2];
    int next;                /* the next batch the helper fills */
    int started;             /* an epoch has begun */
    int quit;
    int threaded;
    double wait_seconds;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;     /* helper: a slot came free, an epoch began, or quit */
    pthread_cond_t ready;    /* caller: a slot became READY or stopped FILLING */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int hk_prefetch_share(const struct hk_prefetch *p, int b, int *first)
{
    size_t start = (size_t)b * (size_t)p->batch, left = p->ds->count - start;
    long long n = left < (size_t)p->batch ? (long long)left : p->batch;
    *first = (int)(n * p->part / p->parts);
    return (int)(n * (p->part + 1) / p->parts) - *first;
}

static void fill(struct hk_prefetch *p, struct slot *s, int b)
{
    int first, n = hk_prefetch_share(p, b, &first);
    hk_batch_fill(s->x, p->ds, p->order + (size_t)b * (size_t)p->batch + first, n, p->rescale, &p->aug, p->seed,
                  p->epoch, p->tmp);
}

static void *helper(void *arg)
{
    struct hk_prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && !(p->started && p->next < p->batches && p->slots[p->next % 2].state == SLOT_FREE))
            pthread_cond_wait(&p->work, &p->mu);
        if (p->quit)
            break;
        int b = p->next++;
        struct slot *s = &p->slots[b % 2];
        s->state = SLOT_FILLING;
        s->batch = b;
        pthread_mutex_unlock(&p->mu);
        fill(p, s, b);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_READY;
        pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

enum hk_status hk_prefetch_new(const struct hk_dataset *ds, int batch, float rescale, const struct hk_augment *aug,
                               uint64_t seed, struct hk_prefetch **out, struct hk_error *err)
{
    *out = NULL;
    if (!ds || !ds->count || batch < 1)
        return hk_fail(err, HK_EINVAL, "prefetch: no pictures or a bad batch size");
    struct hk_prefetch *p = calloc(1, sizeof *p);
    if (!p)
        return hk_fail(err, HK_ENOMEM, "out of memory for the batch buffers");
    size_t size = (size_t)ds->height * (size_t)ds->width * 3;
    p->ds = ds;
    p->batch = batch;
    p->batches = (int)((ds->count + (size_t)batch - 1) / (size_t)batch);
    p->parts = 1;
    p->rescale = rescale;
    p->aug = aug ? *aug : hk_augment_default();
    p->seed = seed;
    p->order = malloc(ds->count * sizeof *p->order);
    p->tmp = malloc(size);
    for (int i = 0; i < 2; i++)
        p->slots[i].x = malloc((size_t)batch * size * sizeof(float));
    if (!p->order || !p->tmp || !p->slots[0].x || !p->slots[1].x) {
        hk_prefetch_free(p);
        return hk_fail(err, HK_ENOMEM, "out of memory for the batch buffers");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->threaded = pthread_create(&p->thread, NULL, helper, p) == 0;
    *out = p;
    return HK_OK;
}

void hk_prefetch_free(struct hk_prefetch *p)
{
    if (!p)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->quit = 1;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->order && p->tmp && p->slots[0].x && p->slots[1].x) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->ready);
    }
    free(p->order);
    free(p->tmp);
    free(p->slots[0].x);
    free(p->slots[1].x);
    free(p);
}

void hk_prefetch_set_share(struct hk_prefetch *p, int part, int parts)
{
    p->part = parts > 1 ? part : 0;
    p->parts = parts > 1 ? parts : 1;
}

void hk_prefetch_epoch(struct hk_prefetch *p, const uint32_t *order, uint64_t epoch, int first)
{
    pthread_mutex_lock(&p->mu);
    while (p->slots[0].state == SLOT_FILLING || p->slots[1].state == SLOT_FILLING)
        pthread_cond_wait(&p->ready, &p->mu);
    memcpy(p->order, order, p->ds->count * sizeof *p->order);
    p->epoch = epoch;
    p->next = first;
    p->slots[0].state = p->slots[1].state = SLOT_FREE;
    p->started = 1;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

const float *hk_prefetch_get(struct hk_prefetch *p, int b)
{
    struct slot *s = &p->slots[b % 2];
    double t0 = now_seconds();
    if (!p->threaded) {
        fill(p, s, b);
        s->batch = b;
    } else {
        pthread_mutex_lock(&p->mu);
        while (!(s->state == SLOT_READY && s->batch == b))
            pthread_cond_wait(&p->ready, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    p->wait_seconds += now_seconds() - t0;
    return s->x;
}

void hk_prefetch_release(struct hk_prefetch *p, int b)
{
    if (!p->threaded)
        return;
    pthread_mutex_lock(&p->mu);
    p->slots[b % 2].state = SLOT_FREE;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

double hk_prefetch_wait_seconds(const struct hk_prefetch *p)
{
    return p->wait_seconds;
}
