/* import_weights.c: the weights of an imported layer: which manifest tensors a Keras layer holds
 * (names and shapes), each claimed once, and their values (dequantised by tj_value) copied from
 * Keras layouts (Conv2D HWIO, DepthwiseConv2D HWC1, Dense after Flatten in HWC order,
 * BatchNormalization's four vectors) into husky's. */
#include <stdio.h>
#include <string.h>

#include "import_internal.h"

int tj_wanted(const struct tj_layer *l, struct hk_shape in, struct tj_want w[4])
{
    int k[2] = {0, 0}, n = 0, bias = tj_get_bool(l->config, "use_bias", 1) == 1;
    tj_get_pair(l->config, "kernel_size", 0, k);
    if (!strcmp(l->cls, "Conv2D")) {
        int f = (int)json_integer_value(json_object_get(l->config, "filters"));
        w[n++] = (struct tj_want){"kernel", 4, {k[0], k[1], in.c, f}};
        if (bias)
            w[n++] = (struct tj_want){"bias", 1, {f}};
    } else if (!strcmp(l->cls, "DepthwiseConv2D")) {
        w[n++] = (struct tj_want){"depthwise_kernel", 4, {k[0], k[1], in.c, 1}};
        if (bias)
            w[n++] = (struct tj_want){"bias", 1, {in.c}};
    } else if (!strcmp(l->cls, "Dense")) {
        int u = (int)json_integer_value(json_object_get(l->config, "units"));
        w[n++] = (struct tj_want){"kernel", 2, {(int)hk_shape_size(in), u}};
        w[n++] = (struct tj_want){"bias", 1, {u}};
    } else if (!strcmp(l->cls, "BatchNormalization")) {
        if (tj_get_bool(l->config, "scale", 1))
            w[n++] = (struct tj_want){"gamma", 1, {in.c}};
        if (tj_get_bool(l->config, "center", 1))
            w[n++] = (struct tj_want){"beta", 1, {in.c}};
        w[n++] = (struct tj_want){"moving_mean", 1, {in.c}};
        w[n++] = (struct tj_want){"moving_variance", 1, {in.c}};
    }
    return n;
}

static void format_dims(char *buf, size_t cap, int rank, const int *dims)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int d = 0; d < rank && o < cap; d++) {
        int w = snprintf(buf + o, cap - o, "%s%d", d ? "," : "[", dims[d]);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o < cap)
        snprintf(buf + o, cap - o, "%s", rank ? "]" : "[]");
}

enum hk_status tj_claim(struct tj_ctx *c, const struct tj_layer *l, const struct tj_want *w, struct tj_tensor **out,
                        struct hk_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", l->name, w->suffix);
    struct tj_tensor *t = tj_manifest_find(&c->man, name);
    if (!t || t->used)
        return tj_layer_fail(c, l, HK_EFORMAT, "the weights manifest has no tensor '%s'", name);
    if (t->rank != w->rank || memcmp(t->dims, w->dims, (size_t)w->rank * sizeof *w->dims) != 0) {
        char have[64], want[64];
        format_dims(have, sizeof have, t->rank, t->dims);
        format_dims(want, sizeof want, w->rank, w->dims);
        return tj_layer_fail(c, l, HK_ESHAPE, "tensor '%s' has shape %s; the layer needs %s", name, have, want);
    }
    (void)err;
    t->used = 1;
    *out = t;
    return HK_OK;
}

/* Where a Dense layer's rows come from: when it reads (through dropouts and activations) a flatten
 * of a map, Keras flattened it H, W, C and husky C, H, W; *map is that map, else h = w = 1. */
static struct hk_shape flattened_map(struct hk_model *m, const struct hk_layer *dense)
{
    int i = dense->input;
    while (i >= 0) {
        const struct hk_layer *x = hk_model_layer(m, i);
        if (x->spec.kind == HK_LAYER_FLATTEN)
            return x->in;
        if (x->spec.kind != HK_LAYER_DROPOUT && x->spec.kind != HK_LAYER_ACTIVATION)
            break;
        i = x->input;
    }
    return (struct hk_shape){0, 1, 1};
}

enum hk_status tj_fill(struct tj_ctx *c, const struct tj_layer *l, const struct hk_layer *h,
                       struct tj_tensor *const *t, int n)
{
    const unsigned char *W = c->weights;
    if (!strcmp(l->cls, "Conv2D")) {
        int O = h->out.c, I = h->in.c, KH = h->spec.kh, KW = h->spec.kw;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int y = 0; y < KH; y++)
                    for (int x = 0; x < KW; x++)
                        h->w[(((size_t)o * I + i) * KH + y) * KW + x] =
                            tj_value(t[0], W, (((uint64_t)y * KW + x) * I + i) * O + o);
        for (int o = 0; n > 1 && o < O; o++)
            h->b[o] = tj_value(t[1], W, (uint64_t)o);
        return HK_OK;
    }
    if (!strcmp(l->cls, "Dense")) {
        struct hk_shape map = flattened_map(c->m, h);
        size_t rows = hk_shape_size(h->in), U = (size_t)h->out.c, plane = (size_t)map.h * map.w;
        for (size_t r = 0; r < rows; r++) {
            size_t hr = r; /* Keras row (y * W + x) * C + ch -> husky row ch * H * W + y * W + x */
            if (plane > 1)
                hr = (r % (size_t)map.c) * plane + r / (size_t)map.c;
            for (size_t u = 0; u < U; u++)
                h->w[hr * U + u] = tj_value(t[0], W, (uint64_t)(r * U + u));
        }
        for (size_t u = 0; u < U; u++)
            h->b[u] = tj_value(t[1], W, (uint64_t)u);
        return HK_OK;
    }
    if (!strcmp(l->cls, "DepthwiseConv2D")) {
        int C = h->in.c, KH = h->spec.kh, KW = h->spec.kw;
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < KW; x++)
                    h->w[((size_t)ch * KH + y) * KW + x] = tj_value(t[0], W, ((uint64_t)y * KW + x) * C + ch);
        for (int ch = 0; n > 1 && ch < C; ch++)
            h->b[ch] = tj_value(t[1], W, (uint64_t)ch);
        return HK_OK;
    }
    if (!strcmp(l->cls, "BatchNormalization")) {
        /* gamma -> w, beta -> b, moving mean and variance -> state[0..C) and [C..2C); a layer
         * without scale or center keeps gamma 1 and beta 0 */
        size_t C = (size_t)h->in.c;
        for (size_t ch = 0; ch < C; ch++) {
            h->w[ch] = 1;
            h->b[ch] = 0;
        }
        for (int k = 0; k < n; k++) {
            const char *suffix = strrchr(t[k]->name, '/') + 1;
            float *dst = !strcmp(suffix, "gamma") ? h->w
                         : !strcmp(suffix, "beta") ? h->b
                         : !strcmp(suffix, "moving_mean") ? h->state
                                                           : h->state + C;
            for (size_t ch = 0; ch < C; ch++)
                dst[ch] = tj_value(t[k], W, (uint64_t)ch);
        }
        return HK_OK;
    }
    return tj_layer_fail(c, l, HK_EFORMAT, "husky has no way to load this layer's weights");
}
