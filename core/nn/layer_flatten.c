/* layer_flatten.c: flatten (c,h,w) to a vector of c*h*w values; the memory order stays NCHW.
 * Also the standalone activation layer, which is the identity followed by its activation. */
#include <string.h>

#include "layer.h"

static enum hk_status flatten_infer(struct hk_layer *l, struct hk_error *err)
{
    (void)err;
    l->out = (struct hk_shape){(int)hk_shape_size(l->in), 1, 1};
    l->wcount = l->bcount = 0;
    return HK_OK;
}

static enum hk_status identity_infer(struct hk_layer *l, struct hk_error *err)
{
    (void)err;
    l->out = l->in;
    l->wcount = l->bcount = 0;
    return HK_OK;
}

/* x, y: [n][size] */
static void copy_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    memcpy(l->y, x, (size_t)n * hk_shape_size(l->out) * sizeof *x);
}

static void copy_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                          const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (dx)
        memcpy(dx, dy, (size_t)n * hk_shape_size(l->out) * sizeof *dx);
}

const struct hk_layer_ops hk_flatten_ops = {
    .word = "flatten",
    .keras_name = "flatten",
    .keras_class = "Flatten",
    .usage = "flatten",
    .help = "Flatten (Keras Flatten): the values as one vector.",
    .positional = 0,
    .required = 0,
    .infer = flatten_infer,
    .forward = copy_forward,
    .backward = copy_backward,
};

const struct hk_layer_ops hk_activation_ops = {
    .word = "activation",
    .keras_name = "activation",
    .keras_class = "Activation",
    .usage = "activation NAME",
    .help = "An activation as a layer of its own (Keras Activation; activation relu6 is Keras ReLU(max_value=6), "
            "named re_lu).",
    .positional = 1,
    .required = 1,
    .infer = identity_infer,
    .forward = copy_forward,
    .backward = copy_backward,
};
