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
    uint64_t key;       /* hk_fcache_key it was made under */
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
    if (n > fc->nbatch) { /* a later run with a larger batch */
        float *grown = realloc(fc->batch, (size_t)n * fc->size * sizeof *grown);
        if (!grown)
            return NULL;
        fc->batch = grown;
        fc->nbatch = n;
    }
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

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_int(uint64_t h, long long v)
{
    return fnv(h, &v, sizeof v);
}

uint64_t hk_fcache_key(const struct hk_model *m, const struct hk_dataset *ds, float rescale)
{
    int point = hk_model_cache_point(m);
    struct hk_shape in = hk_model_input(m);
    uint64_t h = 0xcbf29ce484222325ull;
    long long head[] = {point, in.c, in.h, in.w, (long long)ds->count, ds->height, ds->width};
    h = fnv(h, head, sizeof head);
    h = fnv(h, &rescale, sizeof rescale);
    for (int i = 0; i <= point; i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        const struct hk_layer_spec *s = &l->spec;
        long long f[] = {s->kind, s->units, s->kh, s->kw, s->sh, s->sw, s->same, s->nobias, s->pad[0], s->pad[1],
                         s->pad[2], s->pad[3], s->act, l->input, l->input2, l->frozen};
        h = fnv(h, f, sizeof f);
        float g[] = {s->momentum, s->epsilon, s->rate};
        h = fnv(h, g, sizeof g);
        h = fnv(h, l->w, l->wcount * sizeof *l->w);
        h = fnv(h, l->b, l->bcount * sizeof *l->b);
        h = fnv(h, l->state, l->scount * sizeof *l->state);
    }
    h = fnv_int(h, ds->pixel_hash ? 1 : 0);
    if (ds->pixel_hash)
        h = fnv(h, ds->pixel_hash, ds->count * sizeof *ds->pixel_hash);
    else
        h = fnv(h, ds->pixels, ds->count * (size_t)ds->height * (size_t)ds->width * 3);
    return h ? h : 1;
}

void hk_fcache_set_key(struct hk_feature_cache *fc, uint64_t key)
{
    fc->key = key;
}

uint64_t hk_fcache_get_key(const struct hk_feature_cache *fc)
{
    return fc ? fc->key : 0;
}
