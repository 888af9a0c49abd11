/* history.c: growable arrays behind a mutex. */
#include "history.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hk_history {
    pthread_mutex_t lock;
    struct hk_epoch_record *epochs;
    size_t nepochs, cap_epochs;
    float *batches;
    size_t nbatches, cap_batches;
    struct hk_progress progress;
};

static const char *const metric_names[HK_METRIC_COUNT] = {"loss", "accuracy", "val_loss", "val_accuracy",
                                                          "seconds", "images_per_s"};

const char *hk_metric_name(enum hk_metric m)
{
    return (unsigned)m < HK_METRIC_COUNT ? metric_names[m] : NULL;
}

enum hk_metric hk_metric_find(const char *name)
{
    if (strcmp(name, "acc") == 0)
        return HK_METRIC_ACCURACY;
    if (strcmp(name, "val_acc") == 0)
        return HK_METRIC_VAL_ACCURACY;
    for (int i = 0; i < HK_METRIC_COUNT; i++)
        if (strcmp(name, metric_names[i]) == 0)
            return (enum hk_metric)i;
    return HK_METRIC_COUNT;
}

struct hk_history *hk_history_new(void)
{
    struct hk_history *h = calloc(1, sizeof *h);
    if (h)
        pthread_mutex_init(&h->lock, NULL);
    return h;
}

void hk_history_free(struct hk_history *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h->epochs);
    free(h->batches);
    free(h);
}

void hk_history_clear(struct hk_history *h)
{
    pthread_mutex_lock(&h->lock);
    h->nepochs = h->nbatches = 0;
    pthread_mutex_unlock(&h->lock);
}

/* Make room for one more element of size `size` in *arr; 0 when out of memory. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

int hk_history_add_epoch(struct hk_history *h, const struct hk_epoch_record *r)
{
    pthread_mutex_lock(&h->lock);
    int ok = grow((void **)&h->epochs, &h->cap_epochs, h->nepochs, sizeof *h->epochs);
    if (ok)
        h->epochs[h->nepochs++] = *r;
    pthread_mutex_unlock(&h->lock);
    return ok;
}

int hk_history_add_batch(struct hk_history *h, float loss)
{
    pthread_mutex_lock(&h->lock);
    int ok = grow((void **)&h->batches, &h->cap_batches, h->nbatches, sizeof *h->batches);
    if (ok)
        h->batches[h->nbatches++] = loss;
    pthread_mutex_unlock(&h->lock);
    return ok;
}

void hk_history_set_progress(struct hk_history *h, const struct hk_progress *p)
{
    pthread_mutex_lock(&h->lock);
    h->progress = *p;
    pthread_mutex_unlock(&h->lock);
}

struct hk_progress hk_history_progress(struct hk_history *h)
{
    pthread_mutex_lock(&h->lock);
    struct hk_progress p = h->progress;
    pthread_mutex_unlock(&h->lock);
    return p;
}

static void *copy_out(const void *src, size_t count, size_t size, size_t *n)
{
    void *out = malloc(count ? count * size : 1);
    if (out && count)
        memcpy(out, src, count * size);
    *n = out ? count : 0;
    return out;
}

struct hk_epoch_record *hk_history_epochs(struct hk_history *h, size_t *n)
{
    pthread_mutex_lock(&h->lock);
    struct hk_epoch_record *out = copy_out(h->epochs, h->nepochs, sizeof *h->epochs, n);
    pthread_mutex_unlock(&h->lock);
    return out;
}

float *hk_history_batches(struct hk_history *h, size_t *n)
{
    pthread_mutex_lock(&h->lock);
    float *out = copy_out(h->batches, h->nbatches, sizeof *h->batches, n);
    pthread_mutex_unlock(&h->lock);
    return out;
}

size_t hk_history_epoch_count(struct hk_history *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->nepochs;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int hk_history_replace(struct hk_history *h, const struct hk_epoch_record *epochs, size_t nepochs,
                       const float *batches, size_t nbatches)
{
    size_t ne, nb;
    struct hk_epoch_record *e = copy_out(epochs, nepochs, sizeof *epochs, &ne);
    float *b = copy_out(batches, nbatches, sizeof *batches, &nb);
    if (!e || !b) {
        free(e);
        free(b);
        return 0;
    }
    pthread_mutex_lock(&h->lock);
    free(h->epochs);
    free(h->batches);
    h->epochs = e, h->nepochs = h->cap_epochs = nepochs;
    h->batches = b, h->nbatches = h->cap_batches = nbatches;
    pthread_mutex_unlock(&h->lock);
    return 1;
}
