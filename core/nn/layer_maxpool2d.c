/* layer_maxpool2d.c: max pooling (Keras MaxPooling2D); forward records each window's argmax once,
 * backward routes the gradient through it. Padding valid or same. 2x2 pooling (the fast path) is
 * split over the batch by the compute team. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "layer.h"

/* 2x2 windows, stride 2, no padding: the blog's pooling, with its own loops (pool2_*). */
static int is_pool2(const struct hk_layer *l)
{
    const struct hk_layer_spec *s = &l->spec;
    return s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 && !s->same;
}

/* pool2 keeps one byte per window (which of the 4 won), the general case an int32 index into x. */
static size_t pool_aux(const struct hk_layer *l, int n)
{
    return (size_t)n * hk_shape_size(l->out) * (is_pool2(l) ? sizeof(uint8_t) : sizeof(int32_t));
}

/* x: [planes][h][w] -> y: [planes][h/2][w/2]; win[k] = 2*dy+dx of the max of window k, the first
 * in the order (0,0), (0,1), (1,0), (1,1) on ties, as the general loop picks it. Written so that
 * the compiler vectorises it. */
static void pool2_forward(float *restrict y, uint8_t *restrict win, const float *restrict x, size_t planes, int h,
                          int w)
{
    int oh = h / 2, ow = w / 2;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)2 * oy * w, *r1 = r0 + w;
            float *yr = y + (p * oh + oy) * ow;
            uint8_t *wr = win + (p * oh + oy) * ow;
            for (int ox = 0; ox < ow; ox++) {
                float best = r0[2 * ox];
                uint8_t at = 0;
                if (r0[2 * ox + 1] > best) {
                    best = r0[2 * ox + 1];
                    at = 1;
                }
                if (r1[2 * ox] > best) {
                    best = r1[2 * ox];
                    at = 2;
                }
                if (r1[2 * ox + 1] > best) {
                    best = r1[2 * ox + 1];
                    at = 3;
                }
                yr[ox] = best;
                wr[ox] = at;
            }
        }
    }
}

/* dx: [planes][h][w] = dy routed to each window's winner, 0 elsewhere (every value written): each
 * pair of rows is zeroed while it is in cache, then takes one value per window. */
static void pool2_backward(float *restrict dx, const float *restrict dy, const uint8_t *restrict win, size_t planes,
                           int h, int w)
{
    int oh = h / 2, ow = w / 2;
    for (size_t p = 0; p < planes; p++) {
        float *xp = dx + p * h * w;
        for (int oy = 0; oy < oh; oy++) {
            float *r0 = xp + (size_t)2 * oy * w;
            const float *d = dy + (p * oh + oy) * ow;
            const uint8_t *wr = win + (p * oh + oy) * ow;
            memset(r0, 0, (size_t)2 * w * sizeof *r0);
            for (int ox = 0; ox < ow; ox++)
                r0[(wr[ox] >> 1) * w + 2 * ox + (wr[ox] & 1)] = d[ox];
        }
        if (h % 2)
            memset(xp + (size_t)(h - 1) * w, 0, (size_t)w * sizeof *xp);
    }
}

/* One team call of a 2x2 pooling layer: each part pools (x given) or routes the gradient back
 * (dy given) for the planes of its samples. */
struct pool2_call {
    struct hk_layer *l;
    const float *x, *dy;
    float *dx;
    int n;
};

static void pool2_part(void *arg, int part, int member)
{
    (void)member;
    const struct pool2_call *c = arg;
    const struct hk_layer *l = c->l;
    size_t s0 = (size_t)hk_team_part_start(c->n, HK_TEAM_PARTS, part);
    size_t s1 = (size_t)hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    size_t in = hk_shape_size(l->in), out = hk_shape_size(l->out), planes = (s1 - s0) * l->in.c;
    if (c->dy)
        pool2_backward(c->dx + s0 * in, c->dy + s0 * out, (const uint8_t *)l->aux + s0 * out, planes, l->in.h,
                       l->in.w);
    else
        pool2_forward(l->y + s0 * out, (uint8_t *)l->aux + s0 * out, c->x + s0 * in, planes, l->in.h, l->in.w);
}

/* x: [n][c][h][w] -> y: [n][c][oh][ow]; aux[k] = index into x of the max of window k */
static void pool_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    (void)p;
    if (is_pool2(l)) {
        struct pool2_call c = {l, x, NULL, NULL, n};
        hk_team_run(pool2_part, &c, HK_TEAM_PARTS);
        return;
    }
    const struct hk_layer_spec *s = &l->spec;
    int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    int pt = s->same ? hk_pad_before(h, oh, s->kh, s->sh) : 0;
    int pl = s->same ? hk_pad_before(w, ow, s->kw, s->sw) : 0;
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
    if (is_pool2(l)) {
        struct pool2_call c = {l, NULL, dy, dx, n};
        hk_team_run(pool2_part, &c, HK_TEAM_PARTS);
        return;
    }
    size_t in_total = (size_t)n * hk_shape_size(l->in), out_total = (size_t)n * hk_shape_size(l->out);
    const int32_t *arg = l->aux;
    memset(dx, 0, in_total * sizeof *dx);
    for (size_t k = 0; k < out_total; k++)
        dx[arg[k]] += dy[k];
}

static const char *const pool_opts[] = {"strides", "padding", NULL};

const struct hk_layer_ops hk_maxpool2d_ops = {
    .word = "maxpool",
    .keras_name = "max_pooling2d",
    .keras_class = "MaxPooling2D",
    .usage = "maxpool [KxK] [strides=SxS] [padding=valid|same]",
    .help = "Max pooling (Keras MaxPooling2D); strides default to the pool size.",
    .options = pool_opts,
    .positional = 1,
    .required = 0,
    .infer = hk_pool_infer,
    .aux_bytes = pool_aux,
    .forward = pool_forward,
    .backward = pool_backward,
};
