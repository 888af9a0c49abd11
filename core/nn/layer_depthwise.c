/* layer_depthwise.c: depthwise 2-D convolution (Keras DepthwiseConv2D, depth multiplier 1): each
 * channel plane is convolved with its own kh x kw kernel. Direct kernels over the contiguous
 * planes of NCHW (no im2col): per output row, one pass per kernel tap over the row, all in L1.
 * The batch is cut into HK_TEAM_PARTS parts for the compute team, as conv2d does; each part's
 * kernel and bias gradients are summed in the order of the parts, so any thread count gives the
 * same bits. Kernel layout [channels][kh][kw] (stored as channels x 1 x kh x kw, PyTorch's
 * layout); bias [channels] or none. Padding valid or same (TF rule, as conv2d). */
#include <string.h>

#include "layer.h"
#include "team.h"

static enum hk_status dw_infer(struct hk_layer *l, struct hk_error *err)
{
    struct hk_layer_spec *s = &l->spec;
    if (s->kh < 1 || s->kw < 1 || s->kh > 1024 || s->kw > 1024)
        return hk_fail(err, HK_EINVAL, "%s: needs a kernel from 1x1 to 1024x1024", l->name);
    if (s->sh < 1)
        s->sh = 1;
    if (s->sw < 1)
        s->sw = 1;
    int oh, ow;
    if (s->same) {
        oh = (l->in.h + s->sh - 1) / s->sh;
        ow = (l->in.w + s->sw - 1) / s->sw;
    } else {
        if (l->in.h < s->kh || l->in.w < s->kw)
            return hk_fail(err, HK_ESHAPE, "%s: kernel %dx%d does not fit input (%d,%d,%d)", l->name, s->kh, s->kw,
                           l->in.h, l->in.w, l->in.c);
        oh = (l->in.h - s->kh) / s->sh + 1;
        ow = (l->in.w - s->kw) / s->sw + 1;
    }
    l->out = (struct hk_shape){l->in.c, oh, ow};
    l->wcount = (size_t)l->in.c * s->kh * s->kw;
    l->bcount = s->nobias ? 0 : (size_t)l->in.c;
    return HK_OK;
}

/* Keras initialises the depthwise kernel (kh, kw, channels, 1) glorot-uniform, with its fans
 * computed as for any 4-D kernel: fan_in = channels*kh*kw, fan_out = 1*kh*kw. */
static void dw_init(struct hk_layer *l, struct hk_rng *rng)
{
    int rf = l->spec.kh * l->spec.kw;
    hk_glorot_uniform(l->w, l->wcount, l->in.c * rf, rf, rng);
    if (l->bcount)
        memset(l->b, 0, l->bcount * sizeof *l->b);
}

/* Per part (parts 1 and up): the part's kernel and bias gradients. */
static size_t dw_scratch(const struct hk_layer *l)
{
    return l->wcount + l->bcount;
}

/* The geometry of one plane. */
struct plane {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl;
};

static struct plane plane_of(const struct hk_layer *l)
{
    const struct hk_layer_spec *s = &l->spec;
    struct plane g = {l->in.h, l->in.w, l->out.h, l->out.w, s->kh, s->kw, s->sh, s->sw, 0, 0};
    if (s->same) {
        g.pt = hk_pad_before(g.h, g.oh, g.kh, g.sh);
        g.pl = hk_pad_before(g.w, g.ow, g.kw, g.sw);
    }
    return g;
}

/* Output columns [*lo, *hi) whose input column ox*sw + j - pl lies in 0..w-1. */
static void tap_cols(const struct plane *g, int j, int *lo, int *hi)
{
    int a = g->pl - j, b = g->w - 1 + g->pl - j; /* need a <= ox*sw <= b */
    int l = a > 0 ? (a + g->sw - 1) / g->sw : 0;
    int h = b >= 0 ? b / g->sw + 1 : 0;
    *lo = l;
    *hi = h < g->ow ? h : g->ow;
}

/* y: [oh][ow] = bias + sum over taps k[i][j] x[oy*sh+i-pt][ox*sw+j-pl]; x: [h][w] */
static void plane_forward(float *restrict y, const float *restrict x, const float *restrict k, float bias,
                          const struct plane *g)
{
    for (int oy = 0; oy < g->oh; oy++) {
        float *restrict yr = y + (size_t)oy * g->ow;
        for (int ox = 0; ox < g->ow; ox++)
            yr[ox] = bias;
        for (int i = 0; i < g->kh; i++) {
            int iy = oy * g->sh + i - g->pt;
            if (iy < 0 || iy >= g->h)
                continue;
            const float *restrict xr = x + (size_t)iy * g->w;
            for (int j = 0; j < g->kw; j++) {
                float kv = k[i * g->kw + j];
                int lo, hi;
                tap_cols(g, j, &lo, &hi);
                if (g->sw == 1) {
                    const float *restrict xs = xr + j - g->pl;
                    for (int ox = lo; ox < hi; ox++)
                        yr[ox] += kv * xs[ox];
                } else {
                    for (int ox = lo; ox < hi; ox++)
                        yr[ox] += kv * xr[ox * g->sw + j - g->pl];
                }
            }
        }
    }
}

/* Given dy: [oh][ow] of one plane with input x: [h][w]: dk[i][j] += sum dy * x (shifted),
 * *db += sum dy, and (dx != NULL) dx: [h][w] = sum over taps k[i][j] dy (shifted back). */
static void plane_backward(float *restrict dx, float *restrict dk, float *db, const float *restrict x,
                           const float *restrict dy, const float *restrict k, const struct plane *g)
{
    if (dx)
        memset(dx, 0, (size_t)g->h * g->w * sizeof *dx);
    float bsum = 0;
    for (int oy = 0; oy < g->oh; oy++) {
        const float *restrict dr = dy + (size_t)oy * g->ow;
        for (int ox = 0; ox < g->ow; ox++)
            bsum += dr[ox];
        for (int i = 0; i < g->kh; i++) {
            int iy = oy * g->sh + i - g->pt;
            if (iy < 0 || iy >= g->h)
                continue;
            const float *restrict xr = x + (size_t)iy * g->w;
            float *restrict dxr = dx ? dx + (size_t)iy * g->w : NULL;
            for (int j = 0; j < g->kw; j++) {
                float kv = k[i * g->kw + j], dot = 0;
                int lo, hi;
                tap_cols(g, j, &lo, &hi);
                if (g->sw == 1) {
                    const float *restrict xs = xr + j - g->pl;
                    for (int ox = lo; ox < hi; ox++)
                        dot += dr[ox] * xs[ox];
                    if (dxr) {
                        float *restrict ds = dxr + j - g->pl;
                        for (int ox = lo; ox < hi; ox++)
                            ds[ox] += kv * dr[ox];
                    }
                } else {
                    for (int ox = lo; ox < hi; ox++)
                        dot += dr[ox] * xr[ox * g->sw + j - g->pl];
                    if (dxr)
                        for (int ox = lo; ox < hi; ox++)
                            dxr[ox * g->sw + j - g->pl] += kv * dr[ox];
                }
                dk[i * g->kw + j] += dot;
            }
        }
    }
    if (db)
        *db += bsum;
}

/* One team call of a depthwise layer over a batch. */
struct dw_call {
    struct hk_layer *l;
    const struct hk_pass *p;
    const float *x, *dy;
    float *dx;
    int n;
};

static void forward_part(void *arg, int part, int member)
{
    (void)member;
    const struct dw_call *c = arg;
    struct hk_layer *l = c->l;
    struct plane g = plane_of(l);
    int ch = l->in.c, kk = g.kh * g.kw;
    size_t in_plane = (size_t)g.h * g.w, out_plane = (size_t)g.oh * g.ow;
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++)
        for (int q = 0; q < ch; q++) {
            size_t k = (size_t)s * ch + q;
            plane_forward(l->y + k * out_plane, c->x + k * in_plane, l->w + (size_t)q * kk,
                          l->bcount ? l->b[q] : 0.0f, &g);
        }
}

/* x: [n][c][h][w] -> y: [n][c][oh][ow] */
static void dw_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    struct dw_call c = {l, p, x, NULL, NULL, n};
    hk_team_run(forward_part, &c, HK_TEAM_PARTS);
}

/* Part 0 accumulates into l->dw and l->db, part k > 0 into its own zeroed scratch k. */
static void backward_part(void *arg, int part, int member)
{
    (void)member;
    const struct dw_call *c = arg;
    struct hk_layer *l = c->l;
    struct plane g = plane_of(l);
    int ch = l->in.c, kk = g.kh * g.kw;
    size_t in_plane = (size_t)g.h * g.w, out_plane = (size_t)g.oh * g.ow;
    float *dw = l->dw, *db = l->db;
    if (part) {
        dw = c->p->scratch[part];
        db = dw + l->wcount;
        memset(dw, 0, (l->wcount + l->bcount) * sizeof *dw);
    }
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++)
        for (int q = 0; q < ch; q++) {
            size_t k = (size_t)s * ch + q;
            plane_backward(c->dx ? c->dx + k * in_plane : NULL, dw + (size_t)q * kk, l->bcount ? db + q : NULL,
                           c->x + k * in_plane, c->dy + k * out_plane, l->w + (size_t)q * kk, &g);
        }
}

/* dy: [n][c][oh][ow] -> dw, db accumulated, dx: [n][c][h][w] */
static void dw_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                        const struct hk_pass *p)
{
    struct dw_call c = {l, p, x, dy, dx, n};
    hk_team_run(backward_part, &c, HK_TEAM_PARTS);
    for (int part = 1; part < HK_TEAM_PARTS; part++) {
        const float *dw = p->scratch[part], *db = dw + l->wcount;
        for (size_t i = 0; i < l->wcount; i++)
            l->dw[i] += dw[i];
        for (size_t i = 0; i < l->bcount; i++)
            l->db[i] += db[i];
    }
}

const struct hk_layer_ops hk_depthwise_ops = {
    .word = "depthwise",
    .keras_name = "depthwise_conv2d",
    .keras_class = "DepthwiseConv2D",
    .infer = dw_infer,
    .scratch_floats = dw_scratch,
    .init = dw_init,
    .forward = dw_forward,
    .backward = dw_backward,
};
