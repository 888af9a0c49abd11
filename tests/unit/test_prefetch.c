/* test_prefetch.c: the batches the prefetch helper assembles ahead of the compute are exactly the
 * ones hk_batch_fill makes on the caller's thread (augmentation on, several epochs, an epoch cut
 * short as a stopped run does, a last batch smaller than the others), whatever the timing: the
 * caller sleeps between batches in one pass and not at all in another.
 * Usage: test_prefetch FIXTURES (the tests/fixtures folder). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "check.h"
#include "prefetch.h"
#include "rng.h"

static void shuffle(uint32_t *order, size_t n, uint64_t seed, uint64_t epoch)
{
    struct hk_rng r;
    hk_rng_derive(&r, seed, epoch, 99, 0);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    hk_rng_shuffle(&r, order, n);
}

/* Run epochs through a prefetcher and compare every batch with hk_batch_fill; returns mismatches. */
static int run(const struct hk_dataset *ds, const struct hk_augment *a, int batch, int sleep_us)
{
    struct hk_prefetch *p = NULL;
    struct hk_error err;
    if (hk_prefetch_new(ds, batch, 1.0f / 255, a, 5, &p, &err) != HK_OK) {
        CHECK(0, "prefetch: %s", err.msg);
        return 1;
    }
    size_t size = (size_t)ds->width * ds->height * 3;
    float *want = malloc((size_t)batch * size * sizeof *want);
    uint32_t *order = malloc(ds->count * sizeof *order);
    unsigned char *tmp = malloc(size);
    int batches = (int)((ds->count + (size_t)batch - 1) / (size_t)batch), bad = 0, seen = 0;
    for (uint64_t epoch = 0; epoch < 4; epoch++) {
        shuffle(order, ds->count, 5, epoch);
        hk_prefetch_epoch(p, order, epoch, 0);
        int last = epoch == 1 ? 1 : batches; /* epoch 1 stops after one batch, as a stopped run does */
        for (int b = 0; b < last; b++) {
            int n = (size_t)(b + 1) * batch <= ds->count ? batch : (int)(ds->count - (size_t)b * batch);
            hk_batch_fill(want, ds, order + (size_t)b * batch, n, 1.0f / 255, a, 5, epoch, tmp);
            if (sleep_us) {
                struct timespec ts = {0, sleep_us * 1000L};
                nanosleep(&ts, NULL);
            }
            const float *x = hk_prefetch_get(p, b);
            bad += memcmp(x, want, (size_t)n * size * sizeof *want) != 0;
            hk_prefetch_release(p, b);
            seen++;
        }
    }
    CHECK(seen == 3 * batches + 1, "%d batches served", seen);
    CHECK(hk_prefetch_wait_seconds(p) >= 0, "wait time");
    hk_prefetch_free(p);
    free(want);
    free(order);
    free(tmp);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_prefetch FIXTURES\n");
        return 2;
    }
    char root[600];
    snprintf(root, sizeof root, "%s/stripes/train", argv[1]);
    struct hk_dataset *ds = NULL;
    struct hk_error err;
    CHECK(hk_dataset_load(root, (struct hk_size){.h = 16, .w = 16}, NULL, 1, &ds, &err) == HK_OK, "load: %s", err.msg);
    if (!ds)
        return check_summary();
    struct hk_augment a = hk_augment_default();
    a.rotation_range = 30;
    a.shear_range = 10;
    a.zoom_lo = 0.8f;
    a.zoom_hi = 1.2f;
    a.horizontal_flip = 1;
    a.brightness_lo = 0.7f;
    a.brightness_hi = 1.3f;
    CHECK(run(ds, &a, 5, 0) == 0, "batches differ from hk_batch_fill (no pause)");
    CHECK(run(ds, &a, 5, 2000) == 0, "batches differ from hk_batch_fill (caller pauses between batches)");
    struct hk_augment off = hk_augment_default();
    CHECK(run(ds, &off, 48, 0) == 0, "batches differ without augmentation (one batch per epoch)");
    CHECK(run(ds, &off, 7, 0) == 0, "batches differ without augmentation (batch 7, last one smaller)");
    struct hk_prefetch *p = NULL;
    CHECK(hk_prefetch_new(ds, 0, 1, &a, 5, &p, &err) == HK_EINVAL && !p, "batch 0 refused");
    hk_prefetch_free(NULL);
    hk_dataset_free(ds);
    return check_summary();
}
