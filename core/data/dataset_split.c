/* dataset_split.c: carving a validation set out of a training set, class by class (stratified),
 * deterministically from the seed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "dataset.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define SPLIT_STREAM 0x73706c74u /* "splt" */

/* A new set holding the pictures of ds whose take[i] equals want, in ds's order; with skipped,
 * also ds's skipped files. NULL when memory runs out. */
static struct hk_dataset *subset(const struct hk_dataset *ds, const unsigned char *take, unsigned char want,
                                 int with_skipped)
{
    size_t stride = (size_t)ds->width * (size_t)ds->height * 3, n = 0;
    for (size_t i = 0; i < ds->count; i++)
        n += take[i] == want;
    struct hk_dataset *out = calloc(1, sizeof *out);
    if (!out)
        return NULL;
    out->width = ds->width;
    out->height = ds->height;
    out->class_count = ds->class_count;
    out->root = strdup(ds->root);
    out->pixels = malloc(n ? n * stride : 1);
    out->labels = malloc((n ? n : 1) * sizeof *out->labels);
    out->paths = calloc(n ? n : 1, sizeof *out->paths);
    out->pixel_hash = malloc((n ? n : 1) * sizeof *out->pixel_hash);
    out->file_sha256 = malloc((n ? n : 1) * sizeof *out->file_sha256);
    out->class_names = calloc((size_t)ds->class_count, sizeof *out->class_names);
    out->class_counts = calloc((size_t)ds->class_count, sizeof *out->class_counts);
    size_t skipped = with_skipped ? ds->skipped_count : 0;
    out->skipped = calloc(skipped ? skipped : 1, sizeof *out->skipped);
    if (!out->root || !out->pixels || !out->labels || !out->paths || !out->pixel_hash || !out->file_sha256 || !out->class_names ||
        !out->class_counts || !out->skipped)
        goto fail;
    for (int c = 0; c < ds->class_count; c++)
        if (!(out->class_names[c] = strdup(ds->class_names[c])))
            goto fail;
    for (size_t i = 0; i < ds->count; i++) {
        if (take[i] != want)
            continue;
        size_t k = out->count;
        if (!(out->paths[k] = strdup(ds->paths[i])))
            goto fail;
        memcpy(out->pixels + k * stride, hk_dataset_image(ds, i), stride);
        out->labels[k] = ds->labels[i];
        out->pixel_hash[k] = ds->pixel_hash[i];
        memcpy(out->file_sha256[k], ds->file_sha256[i], sizeof out->file_sha256[k]);
        out->class_counts[ds->labels[i]]++;
        out->count++;
    }
    for (size_t i = 0; i < skipped; i++) {
        struct hk_skip *s = &out->skipped[i];
        *s = ds->skipped[i];
        s->path = strdup(ds->skipped[i].path);
        s->reason = strdup(ds->skipped[i].reason);
        out->skipped_count++;
        if (!s->path || !s->reason)
            goto fail;
    }
    return out;
fail:
    hk_dataset_free(out);
    return NULL;
}

/* A picture by pixel hash, for finding copies. */
struct hashed {
    uint64_t hash;
    uint32_t index;
};

static int compare_hashed(const void *pa, const void *pb)
{
    const struct hashed *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Put every copy of a picture (equal cached pixels) on the side of its first copy, so that the
 * split never leaks a picture into both parts. 0 when memory runs out. */
static int keep_copies_together(const struct hk_dataset *ds, unsigned char *take)
{
    struct hashed *v = malloc((ds->count ? ds->count : 1) * sizeof *v);
    if (!v)
        return 0;
    for (size_t i = 0; i < ds->count; i++)
        v[i] = (struct hashed){ds->pixel_hash[i], (uint32_t)i};
    qsort(v, ds->count, sizeof *v, compare_hashed);
    size_t stride = (size_t)ds->width * (size_t)ds->height * 3;
    for (size_t lo = 0, hi; lo < ds->count; lo = hi) {
        for (hi = lo + 1; hi < ds->count && v[hi].hash == v[lo].hash; hi++)
            ;
        for (size_t j = lo + 1; j < hi; j++)
            for (size_t i = lo; i < j; i++)
                if (!memcmp(hk_dataset_image(ds, v[i].index), hk_dataset_image(ds, v[j].index), stride)) {
                    take[v[j].index] = take[v[i].index];
                    break;
                }
    }
    free(v);
    return 1;
}

enum hk_status hk_dataset_split(const struct hk_dataset *ds, double fraction, uint64_t seed,
                                struct hk_dataset **rest, struct hk_dataset **carved, struct hk_error *err)
{
    *rest = *carved = NULL;
    if (!(fraction > 0 && fraction < 1))
        return hk_fail(err, HK_EINVAL, "the fraction must be between 0 and 1 (exclusive), got %g", fraction);
    if (ds->count > UINT32_MAX)
        return hk_fail(err, HK_EINVAL, "split: too many pictures");
    unsigned char *take = calloc(ds->count ? ds->count : 1, 1);
    uint32_t *members = malloc((ds->count ? ds->count : 1) * sizeof *members);
    if (!take || !members) {
        free(take);
        free(members);
        return hk_fail(err, HK_ENOMEM, "out of memory splitting '%s'", ds->root);
    }
    for (int c = 0; c < ds->class_count; c++) {
        uint32_t n = 0;
        for (size_t i = 0; i < ds->count; i++)
            if (ds->labels[i] == c)
                members[n++] = (uint32_t)i;
        struct hk_rng rng;
        hk_rng_derive(&rng, seed, (uint64_t)c, SPLIT_STREAM, 0);
        hk_rng_shuffle(&rng, members, n);
        uint32_t k = (uint32_t)(fraction * n + 0.5);
        if (n && k > n - 1)
            k = n - 1;
        for (uint32_t i = 0; i < k; i++)
            take[members[i]] = 1;
    }
    free(members);
    if (!keep_copies_together(ds, take)) {
        free(take);
        return hk_fail(err, HK_ENOMEM, "out of memory splitting '%s'", ds->root);
    }
    size_t carved_count = 0;
    for (size_t i = 0; i < ds->count; i++)
        carved_count += take[i];
    if (!carved_count) {
        free(take);
        return hk_fail(err, HK_EINVAL, "%g of each class of '%s' rounds to no picture; use a larger fraction",
                       fraction, ds->root);
    }
    struct hk_dataset *a = subset(ds, take, 0, 1), *b = subset(ds, take, 1, 0);
    free(take);
    if (!a || !b) {
        hk_dataset_free(a);
        hk_dataset_free(b);
        return hk_fail(err, HK_ENOMEM, "out of memory splitting '%s'", ds->root);
    }
    a->split_fraction = b->split_fraction = fraction;
    a->split_seed = b->split_seed = seed;
    b->split_is_val = 1;
    *rest = a;
    *carved = b;
    return HK_OK;
}
