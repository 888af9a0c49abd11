/* layer_maxpool2d.c: max pooling (Keras MaxPooling2D); forward records each window's argmax once,
 * backward routes the gradient through it. Padding valid or same. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "layer.h"

static enum hk_status pool_infer(struct hk_layer *l, struct hk_error *err)
{
    struct hk_layer_spec *s = &l->spec;
    if (s->kh < 1 || s->kw < 1)
        return hk_fail(err, HK_EINVAL, "%s: pool size must be at least 1x1", l->name);
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

static size_t pool_aux(const struct hk_layer *l, int n)
{
    return (size_t)n * hk_shape_size(l->out) * sizeof(int32_t);
}

/* x: [n][c][h][w] -> y: [n][c][oh][ow]; aux[k] = index into x of the max of window k */
static void pool_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    const struct hk_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int pt = s->same ? ((oh - 1) * s->sh + s->kh - h) / 2 : 0;
    int pl = s->same ? ((ow - 1) * s->sw + s->kw - w) / 2 : 0;
    pt = pt > 0 ? pt : 0;
    pl = pl > 0 ? pl : 0;
    int32_t *arg = l->aux;
    size_t planes = (size_t)n * l->in.c, k = 0;
    for (size_t pl_i = 0; pl_i < planes; pl_i++) {
        const float *xp = x + pl_i * h * w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++, k++) {
                float best = -FLT_MAX;
                int32_t at = -1;
                for (int i = 0; i < s->kh; i++) {
                    int iy = oy * s->sh + i - pt;
                    if (iy < 0 || iy >= h)
                        continue;
                    for (int j = 0; j < s->kw; j++) {
                        int ix = ox * s->sw + j - pl;
                        if (ix < 0 || ix >= w)
                            continue;
                        float v = xp[iy * w + ix];
                        if (at < 0 || v > best) {
                            best = v;
                            at = iy * w + ix;
                        }
                    }
                }
                l->y[k] = best;
                arg[k] = (int32_t)(pl_i * h * w) + at;
            }
    }
}

static void pool_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                          const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (!dx)
        return;
    size_t in_total = (size_t)n * hk_shape_size(l->in), out_total = (size_t)n * hk_shape_size(l->out);
    const int32_t *arg = l->aux;
    memset(dx, 0, in_total * sizeof *dx);
    for (size_t k = 0; k < out_total; k++)
        dx[arg[k]] += dy[k];
}

const struct hk_layer_ops hk_maxpool2d_ops = {
    .word = "maxpool",
    .keras_name = "max_pooling2d",
    .keras_class = "MaxPooling2D",
    .infer = pool_infer,
    .aux_bytes = pool_aux,
    .forward = pool_forward,
    .backward = pool_backward,
};
