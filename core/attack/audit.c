/* audit.c: activations of a whole set on the worker, and spectral-signature scores. */
#include "audit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "rng.h"

#define AUDIT_CHUNK 32
#define AUDIT_ITERATIONS 100

struct act_call {
    struct hk_model *m;
    const float *x;
    int n, layer;
    float *act;
    enum hk_status st;
    struct hk_error err;
};

static void act_on_worker(void *arg)
{
    struct act_call *c = arg;
    c->st = hk_model_forward(c->m, c->x, c->n, 0, 0, NULL, &c->err);
    if (c->st == HK_OK) {
        const struct hk_layer *l = hk_model_layer(c->m, c->layer);
        memcpy(c->act, l->y, (size_t)c->n * hk_shape_size(l->out) * sizeof *c->act);
    }
}

enum hk_status hk_audit_activations(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                    float rescale, int layer, float *act, struct hk_error *err)
{
    const struct hk_layer *l = hk_model_layer(m, layer);
    if (!l)
        return hk_fail(err, HK_EINVAL, "no layer %d", layer);
    size_t size = (size_t)ds->height * ds->width * 3, d = hk_shape_size(l->out);
    if (size != hk_shape_size(hk_model_input(m)))
        return hk_fail(err, HK_ESHAPE, "the set's pictures (%dx%d) are not the model's input", ds->width, ds->height);
    float *x = malloc(AUDIT_CHUNK * size * sizeof *x);
    if (!x)
        return hk_fail(err, HK_ENOMEM, "out of memory for an audit batch");
    uint32_t idx[AUDIT_CHUNK];
    enum hk_status st = HK_OK;
    for (size_t s = 0; s < ds->count && st == HK_OK; s += AUDIT_CHUNK) {
        int b = ds->count - s < AUDIT_CHUNK ? (int)(ds->count - s) : AUDIT_CHUNK;
        for (int i = 0; i < b; i++)
            idx[i] = (uint32_t)(s + i);
        hk_batch_fill(x, ds, idx, b, rescale, NULL, 0, 0, NULL);
        struct act_call c = {m, x, b, layer, act + s * d, HK_OK, {0}};
        hk_worker_call(wk, act_on_worker, &c);
        st = c.st;
        if (st != HK_OK && err)
            *err = c.err;
    }
    free(x);
    return st;
}

enum hk_status hk_audit_spectral(const float *act, size_t n, int d, const int *labels, int classes, double *score,
                                 struct hk_error *err)
{
    double *mean = malloc((size_t)d * sizeof *mean), *v = malloc((size_t)d * sizeof *v);
    double *nv = malloc((size_t)d * sizeof *nv);
    if (!mean || !v || !nv) {
        free(mean);
        free(v);
        free(nv);
        return hk_fail(err, HK_ENOMEM, "out of memory for the audit of %zu pictures", n);
    }
    for (size_t i = 0; i < n; i++)
        score[i] = 0;
    for (int c = 0; c < classes; c++) {
        size_t count = 0;
        memset(mean, 0, (size_t)d * sizeof *mean);
        for (size_t i = 0; i < n; i++)
            if (labels[i] == c) {
                count++;
                for (int j = 0; j < d; j++)
                    mean[j] += act[i * d + j];
            }
        if (count < 2)
            continue;
        for (int j = 0; j < d; j++)
            mean[j] /= (double)count;
        struct hk_rng rng;
        hk_rng_derive(&rng, 0x61756469 /* "audi" */, (uint64_t)c, 0, 0);
        for (int j = 0; j < d; j++)
            v[j] = hk_rng_uniform(&rng, -1, 1);
        /* power iteration on R^T R without forming it: u = R v, v = R^T u, normalised */
        for (int it = 0; it < AUDIT_ITERATIONS; it++) {
            memset(nv, 0, (size_t)d * sizeof *nv);
            for (size_t i = 0; i < n; i++) {
                if (labels[i] != c)
                    continue;
                double dot = 0;
                for (int j = 0; j < d; j++)
                    dot += ((double)act[i * d + j] - mean[j]) * v[j];
                for (int j = 0; j < d; j++)
                    nv[j] += ((double)act[i * d + j] - mean[j]) * dot;
            }
            double norm = 0;
            for (int j = 0; j < d; j++)
                norm += nv[j] * nv[j];
            norm = sqrt(norm);
            if (!(norm > 0))
                break;
            for (int j = 0; j < d; j++)
                v[j] = nv[j] / norm;
        }
        for (size_t i = 0; i < n; i++) {
            if (labels[i] != c)
                continue;
            double dot = 0;
            for (int j = 0; j < d; j++)
                dot += ((double)act[i * d + j] - mean[j]) * v[j];
            score[i] = dot * dot;
        }
    }
    free(mean);
    free(v);
    free(nv);
    return HK_OK;
}
