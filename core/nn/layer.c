/* layer.c: the table of layer kinds and helpers shared by all layers. */
#include "layer.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

size_t hk_shape_size(struct hk_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

const struct hk_layer_ops *hk_layer_ops_of(enum hk_layer_kind kind)
{
    static const struct hk_layer_ops *const table[HK_LAYER_KIND_COUNT] = {
        [HK_LAYER_CONV2D] = &hk_conv2d_ops,       [HK_LAYER_MAXPOOL2D] = &hk_maxpool2d_ops,
        [HK_LAYER_DROPOUT] = &hk_dropout_ops,     [HK_LAYER_FLATTEN] = &hk_flatten_ops,
        [HK_LAYER_DENSE] = &hk_dense_ops,         [HK_LAYER_ACTIVATION] = &hk_activation_ops,
        [HK_LAYER_DEPTHWISE] = &hk_depthwise_ops, [HK_LAYER_BATCHNORM] = &hk_batchnorm_ops,
        [HK_LAYER_ZEROPAD] = &hk_zeropad_ops,     [HK_LAYER_AVGPOOL2D] = &hk_avgpool2d_ops,
        [HK_LAYER_GLOBAL_AVGPOOL] = &hk_global_avgpool_ops, [HK_LAYER_ADD] = &hk_add_ops,
        [HK_LAYER_RESCALING] = &hk_rescaling_ops,
    };
    return (unsigned)kind < HK_LAYER_KIND_COUNT ? table[kind] : NULL;
}

static int is_relu6_layer(const struct hk_layer_spec *spec)
{
    return spec->kind == HK_LAYER_ACTIVATION && spec->act == HK_ACT_RELU6;
}

int hk_layer_fuses_act(const struct hk_layer *l)
{
    return l->spec.kind == HK_LAYER_ACTIVATION && (l->spec.act == HK_ACT_RELU || l->spec.act == HK_ACT_RELU6);
}

const char *hk_layer_keras_name(const struct hk_layer_spec *spec)
{
    return is_relu6_layer(spec) ? "re_lu" : hk_layer_ops_of(spec->kind)->keras_name;
}

const char *hk_layer_keras_class(const struct hk_layer_spec *spec)
{
    return is_relu6_layer(spec) ? "ReLU" : hk_layer_ops_of(spec->kind)->keras_class;
}

/* The name counter a layer of this spec draws its suffix from. */
static int name_slot(const struct hk_layer_spec *spec)
{
    return is_relu6_layer(spec) ? HK_LAYER_NAME_RELU6 : (int)spec->kind;
}

void hk_layer_auto_name(char name[HK_LAYER_NAME_MAX], const struct hk_layer_spec *spec,
                        int serial[HK_LAYER_NAME_SLOTS], const struct hk_layer *taken, int count)
{
    const char *base = hk_layer_keras_name(spec);
    int slot = name_slot(spec);
    for (int clash = 1; clash;) {
        if (serial[slot])
            snprintf(name, HK_LAYER_NAME_MAX, "%.24s_%d", base, serial[slot]);
        else
            snprintf(name, HK_LAYER_NAME_MAX, "%.24s", base);
        serial[slot]++;
        clash = 0;
        for (int j = 0; j < count && !clash; j++)
            clash = strcmp(taken[j].name, name) == 0;
    }
}

int hk_layer_kernel_dims(const struct hk_layer *l, uint64_t dims[4])
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(l->spec.kind);
    if (ops && ops->kernel_dims)
        return ops->kernel_dims(l, dims);
    dims[0] = l->wcount;
    return 1;
}

int hk_layer_same_params(const struct hk_layer *a, const struct hk_layer *b)
{
    if (a->spec.kind != b->spec.kind || a->wcount != b->wcount || a->bcount != b->bcount || a->scount != b->scount)
        return 0;
    uint64_t da[4], db[4];
    int rank = hk_layer_kernel_dims(a, da);
    return rank == hk_layer_kernel_dims(b, db) && memcmp(da, db, (size_t)rank * sizeof *da) == 0;
}

int hk_pad_before(int n, int out, int k, int s)
{
    int total = (out - 1) * s + k - n;
    return total > 0 ? total / 2 : 0;
}

enum hk_status hk_pool_infer(struct hk_layer *l, struct hk_error *err)
{
    struct hk_layer_spec *s = &l->spec;
    if (s->kh < 1 || s->kw < 1 || s->kh > 1024 || s->kw > 1024)
        return hk_fail(err, HK_EINVAL, "%s: pool size must be from 1x1 to 1024x1024", l->name);
    if (s->sh < 1)
        s->sh = s->kh;
    if (s->sw < 1)
        s->sw = s->kw;
    int oh, ow;
    if (s->same) {
        oh = (l->in.h + s->sh - 1) / s->sh;
        ow = (l->in.w + s->sw - 1) / s->sw;
    } else {
        if (l->in.h < s->kh || l->in.w < s->kw)
            return hk_fail(err, HK_ESHAPE, "%s: pool %dx%d does not fit input (%d,%d,%d)", l->name, s->kh, s->kw,
                           l->in.h, l->in.w, l->in.c);
        oh = (l->in.h - s->kh) / s->sh + 1;
        ow = (l->in.w - s->kw) / s->sw + 1;
    }
    l->out = (struct hk_shape){l->in.c, oh, ow};
    l->wcount = l->bcount = 0;
    return HK_OK;
}

void hk_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, struct hk_rng *rng)
{
    float limit = sqrtf(6.0f / (float)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++)
        w[i] = hk_rng_uniform(rng, -limit, limit);
}
