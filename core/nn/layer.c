/* layer.c: the table of layer kinds and helpers shared by all layers. */
#include "layer.h"

#include <math.h>

size_t hk_shape_size(struct hk_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

const struct hk_layer_ops *hk_layer_ops_of(enum hk_layer_kind kind)
{
    static const struct hk_layer_ops *const table[HK_LAYER_KIND_COUNT] = {
        [HK_LAYER_CONV2D] = &hk_conv2d_ops,   [HK_LAYER_MAXPOOL2D] = &hk_maxpool2d_ops,
        [HK_LAYER_DROPOUT] = &hk_dropout_ops, [HK_LAYER_FLATTEN] = &hk_flatten_ops,
        [HK_LAYER_DENSE] = &hk_dense_ops,     [HK_LAYER_ACTIVATION] = &hk_activation_ops,
        [HK_LAYER_ADD] = &hk_add_ops,
    };
    return (unsigned)kind < HK_LAYER_KIND_COUNT ? table[kind] : NULL;
}

void hk_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, struct hk_rng *rng)
{
    float limit = sqrtf(6.0f / (float)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++)
        w[i] = hk_rng_uniform(rng, -limit, limit);
}
