/* feature_cache.c: per-picture features at a model's cache point (see feature_cache.h). */
#include "feature_cache.h"

#include <stdlib.h>
#include <string.h>

struct hk_feature_cache {
    int point;          /* the layer whose outputs are kept */
    size_t size;        /* floats per picture */
    size_t count;       /* pictures */
    int nbatch;         /* pictures a gathered batch holds at most */
    float *feat;        /* count x size */
    unsigned char *have;
    float *batch;       /* one batch gathered */
};

enum hk_status hk_fcache_new(const struct hk_model *m, size_t count, int batch, size_t budget,
                             struct hk_feature_cache **out, size_t *need, struct hk_error *err)
{
    *out = NULL;
    *need = 0;
    int point = hk_model_cache_point(m);
    if (point < 0 || !count || batch < 1)
        return HK_OK;
    size_t size = hk_shape_size(hk_model_layer(m, point)->out);
    double bytes = ((double)count + batch) * (double)size * sizeof(float) + (double)count;
    *need = bytes >= (double)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
    if (bytes > (double)budget)
        return HK_OK;
    struct hk_feature_cache *fc = calloc(1, sizeof *fc);
    if (fc) {
        fc->feat = malloc(count * size * sizeof *fc->feat);
        fc->have = calloc(count, 1);
        fc->batch = malloc((size_t)batch * size * sizeof *fc->batch);
    }
    if (!fc || !fc->feat || !fc->have || !fc->batch) {
        hk_fcache_free(fc);
        return hk_fail(err, HK_ENOMEM, "out of memory for the feature cache (%zu pictures x %zu values)", count,
                       size);
    }
    fc->point = point;
    fc->size = size;
    fc->count = count;
    fc->nbatch = batch;
    *out = fc;
    return HK_OK;
}

void hk_fcache_free(struct hk_feature_cache *fc)
{
    if (!fc)
        return;
    free(fc->feat);
    free(fc->have);
    free(fc->batch);
    free(fc);
}

int hk_fcache_point(const struct hk_feature_cache *fc)
{
    return fc->point;
}

const float *hk_fcache_get(struct hk_feature_cache *fc, const uint32_t *idx, int n)
{
    if (n > fc->nbatch)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!fc->have[idx[i]])
            return NULL;
    for (int i = 0; i < n; i++)
        memcpy(fc->batch + (size_t)i * fc->size, fc->feat + (size_t)idx[i] * fc->size, fc->size * sizeof(float));
    return fc->batch;
}

void hk_fcache_put(struct hk_feature_cache *fc, const struct hk_model *m, const uint32_t *idx, int n)
{
    const float *y = hk_model_layer(m, fc->point)->y;
    for (int i = 0; i < n; i++) {
        memcpy(fc->feat + (size_t)idx[i] * fc->size, y + (size_t)i * fc->size, fc->size * sizeof(float));
        fc->have[idx[i]] = 1;
    }
}

size_t hk_fcache_bytes(const struct hk_feature_cache *fc)
{
    return fc ? (fc->count + (size_t)fc->nbatch) * fc->size * sizeof(float) + fc->count : 0;
}
