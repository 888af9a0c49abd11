/* layer_dropout.c: inverted dropout. While training, each value is kept with probability 1-rate
 * and scaled by 1/(1-rate); outside training it is the identity. Masks are drawn from
 * (seed, step, layer, sample), so they do not depend on how a batch is split. */
#include <string.h>

#include "layer.h"

static enum hk_status dropout_infer(struct hk_layer *l, struct hk_error *err)
{
    if (!(l->spec.rate >= 0.0f && l->spec.rate < 1.0f))
        return hk_fail(err, HK_EINVAL, "%s: rate must be in [0, 1), got %g", l->name, (double)l->spec.rate);
    l->out = l->in;
    l->wcount = l->bcount = 0;
    return HK_OK;
}

static size_t dropout_aux(const struct hk_layer *l, int n)
{
    return (size_t)n * hk_shape_size(l->out);
}

/* y[i] = x[i] * scale where keep[i], else +0; the product's bits masked by the flag, so that it
 * vectorises and a dropped inf or nan still gives 0. */
static void apply_mask(float *restrict y, const float *restrict x, const unsigned char *restrict keep, size_t total,
                       float scale)
{
    for (size_t i = 0; i < total; i++) {
        float v = x[i] * scale;
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        bits &= -(uint32_t)keep[i];
        memcpy(&y[i], &bits, sizeof bits);
    }
}

/* x, y: [n][size]; aux: [n][size] keep flags */
static void dropout_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    size_t size = hk_shape_size(l->out);
    if (!p->training || l->spec.rate == 0.0f) {
        memcpy(l->y, x, (size_t)n * size * sizeof *x);
        return;
    }
    unsigned char *keep = l->aux;
    float scale = 1.0f / (1.0f - l->spec.rate);
    uint32_t threshold = (uint32_t)((double)l->spec.rate * 4294967296.0);
    int s = 0;
    for (; s + 4 <= n; s += 4) {
        struct hk_rng rng[4];
        uint8_t *flags[4];
        for (int k = 0; k < 4; k++) {
            hk_rng_derive(&rng[k], p->seed, p->step, (uint64_t)l->index, p->sample0 + (uint64_t)(s + k));
            flags[k] = keep + (size_t)(s + k) * size;
        }
        hk_rng_flags4(rng, flags, size, threshold);
    }
    for (; s < n; s++) {
        struct hk_rng rng;
        hk_rng_derive(&rng, p->seed, p->step, (uint64_t)l->index, p->sample0 + (uint64_t)s);
        hk_rng_flags(&rng, keep + (size_t)s * size, size, threshold);
    }
    apply_mask(l->y, x, keep, (size_t)n * size, scale);
}

static void dropout_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                             const struct hk_pass *p)
{
    (void)x;
    if (!dx)
        return;
    size_t total = (size_t)n * hk_shape_size(l->out);
    if (!p->training || l->spec.rate == 0.0f) {
        memcpy(dx, dy, total * sizeof *dx);
        return;
    }
    apply_mask(dx, dy, l->aux, total, 1.0f / (1.0f - l->spec.rate));
}

const struct hk_layer_ops hk_dropout_ops = {
    .word = "dropout",
    .keras_name = "dropout",
    .keras_class = "Dropout",
    .usage = "dropout RATE",
    .help = "Dropout (Keras Dropout): while training, zeroes a RATE share of the values and scales the rest.",
    .positional = 1,
    .required = 1,
    .infer = dropout_infer,
    .aux_bytes = dropout_aux,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
