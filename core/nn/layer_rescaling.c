/* layer_rescaling.c: y = x * scale + offset on every value (Keras Rescaling), so that the input
 * scaling a network was trained with travels inside it: `rescaling 2 offset=-1` maps pictures
 * already scaled to 0..1 onto Keras's -1..1 (MobileNetV2's preprocess_input). No parameters. */
#include <math.h>

#include "layer.h"

static enum hk_status rescaling_infer(struct hk_layer *l, struct hk_error *err)
{
    if (!isfinite(l->spec.scale) || !isfinite(l->spec.offset))
        return hk_fail(err, HK_EINVAL, "%s: scale and offset must be finite numbers", l->name);
    l->out = l->in;
    l->wcount = l->bcount = 0;
    return HK_OK;
}

static void rescaling_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    size_t count = (size_t)n * hk_shape_size(l->in);
    float scale = l->spec.scale, offset = l->spec.offset;
    for (size_t i = 0; i < count; i++)
        l->y[i] = x[i] * scale + offset;
}

static void rescaling_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                               const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (!dx)
        return;
    size_t count = (size_t)n * hk_shape_size(l->in);
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * l->spec.scale;
}

static const char *const rescaling_options[] = {"offset", NULL};

const struct hk_layer_ops hk_rescaling_ops = {
    .word = "rescaling",
    .keras_name = "rescaling",
    .keras_class = "Rescaling",
    .usage = "rescaling SCALE [offset=O]",
    .help = "Multiply every input value by SCALE and add O (Keras Rescaling): input scaling that travels with "
            "the model, e.g. rescaling 2 offset=-1 after the usual 1/255 gives -1..1. SCALE may be a fraction "
            "(1/127.5).",
    .options = rescaling_options,
    .positional = 1,
    .required = 1,
    .infer = rescaling_infer,
    .forward = rescaling_forward,
    .backward = rescaling_backward,
};
