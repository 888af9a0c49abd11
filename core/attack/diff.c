/* diff.c: tensor-by-tensor comparison of two models' weights and state, bit for bit. */
#include "diff.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Compare n values; fill d when any differs. Returns 1 when some do. */
static int compare(const float *a, const float *b, size_t n, struct hk_tensor_diff *d)
{
    d->count = n;
    d->differ = 0;
    d->largest = -1;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof *a) == 0)
            continue;
        d->differ++;
        double change = fabs((double)b[i] - (double)a[i]);
        if (isnan(change))
            change = INFINITY;
        if (change > d->largest) {
            d->largest = change;
            d->at = i;
            d->before = a[i];
            d->after = b[i];
        }
    }
    return d->differ > 0;
}

enum hk_status hk_model_diff(const struct hk_model *a, const struct hk_model *b, struct hk_tensor_diff *diffs,
                             int max, int *ndiff, int *ntensors, struct hk_error *err)
{
    *ndiff = *ntensors = 0;
    if (hk_model_count(a) != hk_model_count(b))
        return hk_fail(err, HK_ESHAPE, "the models have %d and %d layers; diff compares models of one architecture",
                       hk_model_count(a), hk_model_count(b));
    for (int i = 0; i < hk_model_count(a); i++) {
        const struct hk_layer *la = hk_model_layer(a, i), *lb = hk_model_layer(b, i);
        if (la->spec.kind != lb->spec.kind || strcmp(la->name, lb->name) || la->wcount != lb->wcount ||
            la->bcount != lb->bcount || la->scount != lb->scount)
            return hk_fail(err, HK_ESHAPE, "layer %d is %s (%s, %zu parameters) in one model and %s (%s, %zu) in the "
                           "other; diff compares models of one architecture", i, la->name, la->ops->word,
                           la->wcount + la->bcount, lb->name, lb->ops->word, lb->wcount + lb->bcount);
        int bn = la->spec.kind == HK_LAYER_BATCHNORM;
        const char *wname = bn ? "gamma" : la->spec.kind == HK_LAYER_DEPTHWISE ? "depthwise_kernel" : "kernel";
        struct {
            const char *suffix;
            const float *x, *y;
            size_t n;
        } parts[4] = {
            {wname, la->w, lb->w, la->wcount},
            {bn ? "beta" : "bias", la->b, lb->b, la->bcount},
            {"moving_mean", la->state, lb->state, la->scount / 2},
            {"moving_variance", la->state ? la->state + la->scount / 2 : NULL,
             lb->state ? lb->state + lb->scount / 2 : NULL, la->scount / 2},
        };
        for (int p = 0; p < 4; p++) {
            if (!parts[p].n)
                continue;
            ++*ntensors;
            struct hk_tensor_diff d = {.layer = i};
            snprintf(d.name, sizeof d.name, "%s/%s", la->name, parts[p].suffix);
            if (!compare(parts[p].x, parts[p].y, parts[p].n, &d))
                continue;
            if (*ndiff < max)
                diffs[*ndiff] = d;
            ++*ndiff;
        }
    }
    return HK_OK;
}
