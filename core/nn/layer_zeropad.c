/* layer_zeropad.c: zero padding (Keras ZeroPadding2D): pad[0] rows on top, pad[1] at the bottom,
 * pad[2] columns on the left, pad[3] on the right of every channel plane. */
#include <string.h>

#include "layer.h"

static enum hk_status zeropad_infer(struct hk_layer *l, struct hk_error *err)
{
    const int *p = l->spec.pad;
    for (int i = 0; i < 4; i++)
        if (p[i] < 0 || p[i] > 4096)
            return hk_fail(err, HK_EINVAL, "%s: padding must be from 0 to 4096, got %d", l->name, p[i]);
    l->out = (struct hk_shape){l->in.c, l->in.h + p[0] + p[1], l->in.w + p[2] + p[3]};
    l->wcount = l->bcount = 0;
    return HK_OK;
}

/* x: [n][c][h][w] -> y: [n][c][pt+h+pb][pl+w+pr], the border zero */
static void zeropad_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w, pt = l->spec.pad[0], pl = l->spec.pad[2];
    size_t planes = (size_t)n * l->in.c;
    for (size_t k = 0; k < planes; k++) {
        const float *src = x + k * h * w;
        float *dst = l->y + k * oh * ow;
        memset(dst, 0, (size_t)pt * ow * sizeof *dst);
        for (int r = 0; r < h; r++) {
            float *row = dst + (size_t)(pt + r) * ow;
            memset(row, 0, (size_t)pl * sizeof *row);
            memcpy(row + pl, src + (size_t)r * w, (size_t)w * sizeof *row);
            memset(row + pl + w, 0, (size_t)(ow - pl - w) * sizeof *row);
        }
        memset(dst + (size_t)(pt + h) * ow, 0, (size_t)(oh - pt - h) * ow * sizeof *dst);
    }
}

/* dx: [n][c][h][w] = the inner window of dy: [n][c][oh][ow] */
static void zeropad_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                             const struct hk_pass *p)
{
    (void)x;
    (void)p;
    if (!dx)
        return;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w, pt = l->spec.pad[0], pl = l->spec.pad[2];
    size_t planes = (size_t)n * l->in.c;
    for (size_t k = 0; k < planes; k++)
        for (int r = 0; r < h; r++)
            memcpy(dx + (k * h + r) * w, dy + (k * oh + pt + r) * ow + pl, (size_t)w * sizeof *dx);
}

const struct hk_layer_ops hk_zeropad_ops = {
    .word = "zeropad",
    .keras_name = "zero_padding2d",
    .keras_class = "ZeroPadding2D",
    .usage = "zeropad P|T,B,L,R",
    .help = "Zero padding (Keras ZeroPadding2D): P rows and columns on every side, or T,B,L,R: top, bottom, left, "
            "right.",
    .positional = 1,
    .required = 1,
    .infer = zeropad_infer,
    .forward = zeropad_forward,
    .backward = zeropad_backward,
};
