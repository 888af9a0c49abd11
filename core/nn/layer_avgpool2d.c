/* layer_avgpool2d.c: average pooling (Keras AveragePooling2D) and global average pooling (Keras
 * GlobalAveragePooling2D, output c x 1 x 1). With padding=same a window that hangs over the
 * border averages only the cells inside the input (TensorFlow's rule: padded cells are not
 * counted). */
#include <string.h>

#include "layer.h"

/* Bounds of window o (with stride s, window k, padding before pb) clipped to 0..n. */
static void window(int o, int s, int k, int pb, int n, int *lo, int *hi)
{
    int a = o * s - pb, b = a + k;
    *lo = a > 0 ? a : 0;
    *hi = b < n ? b : n;
}

/* x: [n][c][h][w] -> y: [n][c][oh][ow], each the mean of the window's cells inside x */
static void avgpool_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    const struct hk_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int pt = s->same ? hk_pad_before(h, oh, s->kh, s->sh) : 0, pl = s->same ? hk_pad_before(w, ow, s->kw, s->sw) : 0;
    size_t planes = (size_t)n * l->in.c;
    for (size_t k = 0; k < planes; k++) {
        const float *xp = x + k * h * w;
        float *yp = l->y + k * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            window(oy, s->sh, s->kh, pt, h, &y0, &y1);
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                window(ox, s->sw, s->kw, pl, w, &x0, &x1);
                float sum = 0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                        sum += xp[iy * w + ix];
                yp[oy * ow + ox] = sum / (float)((y1 - y0) * (x1 - x0));
            }
        }
    }
}

/* dx[cell] = sum over the windows holding the cell of dy[window] / cells of the window */
static void avgpool_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                             const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (!dx)
        return;
    const struct hk_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int pt = s->same ? hk_pad_before(h, oh, s->kh, s->sh) : 0, pl = s->same ? hk_pad_before(w, ow, s->kw, s->sw) : 0;
    size_t planes = (size_t)n * l->in.c;
    memset(dx, 0, planes * h * w * sizeof *dx);
    for (size_t k = 0; k < planes; k++) {
        float *xp = dx + k * h * w;
        const float *dp = dy + k * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            window(oy, s->sh, s->kh, pt, h, &y0, &y1);
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                window(ox, s->sw, s->kw, pl, w, &x0, &x1);
                float g = dp[oy * ow + ox] / (float)((y1 - y0) * (x1 - x0));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                        xp[iy * w + ix] += g;
            }
        }
    }
}

static const char *const avgpool_opts[] = {"strides", "padding", NULL};

const struct hk_layer_ops hk_avgpool2d_ops = {
    .word = "avgpool",
    .keras_name = "average_pooling2d",
    .keras_class = "AveragePooling2D",
    .usage = "avgpool [KxK] [strides=SxS] [padding=valid|same]",
    .help = "Average pooling (Keras AveragePooling2D); strides default to the pool size; with padding=same the cells "
            "outside the input are not counted.",
    .options = avgpool_opts,
    .positional = 1,
    .required = 0,
    .infer = hk_pool_infer,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
};

static enum hk_status global_infer(struct hk_layer *l, struct hk_error *err)
{
    (void)err;
    l->out = (struct hk_shape){l->in.c, 1, 1};
    l->wcount = l->bcount = 0;
    return HK_OK;
}

/* x: [n][c][h][w] -> y: [n][c] plane means */
static void global_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    size_t hw = (size_t)l->in.h * l->in.w, planes = (size_t)n * l->in.c;
    for (size_t k = 0; k < planes; k++) {
        const float *xp = x + k * hw;
        float sum = 0;
        for (size_t i = 0; i < hw; i++)
            sum += xp[i];
        l->y[k] = sum / (float)hw;
    }
}

/* dx[k][i] = dy[k] / (h*w) */
static void global_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                            const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (!dx)
        return;
    size_t hw = (size_t)l->in.h * l->in.w, planes = (size_t)n * l->in.c;
    for (size_t k = 0; k < planes; k++) {
        float g = dy[k] / (float)hw;
        for (size_t i = 0; i < hw; i++)
            dx[k * hw + i] = g;
    }
}

const struct hk_layer_ops hk_global_avgpool_ops = {
    .word = "global_avgpool",
    .keras_name = "global_average_pooling2d",
    .keras_class = "GlobalAveragePooling2D",
    .usage = "global_avgpool",
    .help = "Global average pooling (Keras GlobalAveragePooling2D): the mean of each channel, a flat output.",
    .positional = 0,
    .required = 0,
    .infer = global_infer,
    .forward = global_forward,
    .backward = global_backward,
};
