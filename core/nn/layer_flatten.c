/* layer_flatten.c: flatten (c,h,w) to a vector of c*h*w values; the memory order stays NCHW.
 * Also the standalone activation layer, which is the identity followed by its activation: relu
 * and relu6 are applied here in one pass each way (hk_layer_fuses_act; MobileNetV2 has 35 relu6
 * layers, and a copy plus an in-place pass cost twice the memory traffic), the others by the
 * model after the copy. */
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

/* x, y: [n][size]; y = act(x) for relu and relu6, else a copy (the model applies act) */
static void act_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    size_t count = (size_t)n * hk_shape_size(l->out);
    float *y = l->y;
    if (!hk_layer_fuses_act(l))
        copy_forward(l, x, n, p);
    else if (l->spec.act == HK_ACT_RELU6)
        for (size_t i = 0; i < count; i++) {
            float v = x[i] > 0 ? x[i] : 0;
            y[i] = v < 6 ? v : 6;
        }
    else
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0 ? x[i] : 0;
}

/* dx = dy where the output is inside the activation's linear range, else 0 (the derivative
 * hk_act_backward takes from the output); a copy when the model applied act' to dy */
static void act_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                         const struct hk_pass *p)
{
    size_t count = (size_t)n * hk_shape_size(l->out);
    const float *y = l->y;
    if (!dx)
        return;
    if (!hk_layer_fuses_act(l))
        copy_backward(l, x, dy, dx, n, p);
    else if (l->spec.act == HK_ACT_RELU6) /* & and unconditional loads: no branch per value */
        for (size_t i = 0; i < count; i++) {
            float g = dy[i];
            dx[i] = (y[i] > 0) & (y[i] < 6) ? g : 0;
        }
    else
        for (size_t i = 0; i < count; i++) {
            float g = dy[i];
            dx[i] = y[i] > 0 ? g : 0;
        }
}

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
    .forward = act_forward,
    .backward = act_backward,
};
