/* layer_depthwise.c: depthwise 2-D convolution (Keras DepthwiseConv2D, depth multiplier 1): each
 * channel plane is convolved with its own kh x kw kernel. Direct kernels over the contiguous
 * planes of NCHW (no im2col): each plane is copied into a zero-padded plane in the member's
 * scratch (in cache), so the loops over it have no borders; 3x3 (MobileNet's) sums its nine taps
 * per output in one expression.
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
    if (s->kh < 1 || s->kw < 1 || s->kh * s->kw > 64)
        return hk_fail(err, HK_EINVAL, "%s: needs a kernel of 1 to 64 taps (1x1 to 8x8), got %dx%d", l->name, s->kh,
                       s->kw);
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

/* The geometry of one plane: input h x w, output oh x ow, and the padded plane hp x wp that holds
 * every cell a tap reads (the input at row pt, column pl, zeros around it, cropped to what the
 * windows reach), so the loops over it have no borders. With stride 1 the input gradient is a
 * correlation of the output gradient, zero-padded by kernel-1 on every side (hd x wd), with the
 * flipped kernel. */
struct plane {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl, hp, wp, hd, wd;
};

static struct plane plane_of(const struct hk_layer *l)
{
    const struct hk_layer_spec *s = &l->spec;
    struct plane g = {l->in.h, l->in.w, l->out.h, l->out.w, s->kh, s->kw, s->sh, s->sw, 0, 0, 0, 0, 0, 0};
    if (s->same) {
        g.pt = hk_pad_before(g.h, g.oh, g.kh, g.sh);
        g.pl = hk_pad_before(g.w, g.ow, g.kw, g.sw);
    }
    g.hp = (g.oh - 1) * g.sh + g.kh;
    g.wp = (g.ow - 1) * g.sw + g.kw;
    g.hd = g.oh + 2 * (g.kh - 1);
    g.wd = g.ow + 2 * (g.kw - 1);
    return g;
}

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* The member's buffers in its scratch: the padded input plane, the padded gradient (a padded
 * input-gradient plane for strides over 1, the padded output gradient for stride 1), and the
 * per-tap (and bias) partial sums of one plane's kernel gradient, one per output column. */
struct bufs {
    float *pad, *grad, *taps;
};

static size_t pad_floats(const struct plane *g)
{
    return round16((size_t)g->hp * g->wp);
}

/* 3x3 with stride 2 (MobileNet's downsampling) gathers its input gradient by parity. */
static int is_3x3_s2(const struct plane *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 2 && g->sw == 2;
}

static size_t grad_floats(const struct plane *g)
{
    if (g->sh == 1 && g->sw == 1)
        return round16((size_t)g->hd * g->wd);
    if (is_3x3_s2(g))
        return round16((size_t)(g->oh + 2) * (g->ow + 2) + (size_t)g->wp);
    return round16((size_t)g->hp * g->wp);
}

static size_t taps_floats(const struct plane *g)
{
    return round16((size_t)(g->kh * g->kw + 1) * g->ow);
}

static size_t bufs_floats(const struct hk_layer *l)
{
    struct plane g = plane_of(l);
    return pad_floats(&g) + grad_floats(&g) + taps_floats(&g);
}

static struct bufs bufs_of(float *scratch, const struct plane *g)
{
    struct bufs b = {scratch, scratch + pad_floats(g), scratch + pad_floats(g) + grad_floats(g)};
    return b;
}

/* Per member: its buffers; then (parts 1 and up) the part's kernel and bias gradients. */
static size_t dw_scratch(const struct hk_layer *l)
{
    return bufs_floats(l) + l->wcount + l->bcount;
}

/* Four floats in one register (GCC and clang vector extension); loads go through memcpy, so
 * they may be unaligned. */
typedef float v4 __attribute__((vector_size(16)));

static v4 load4(const float *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* p[0], p[2], p[4], p[6] */
static v4 load4_even(const float *p)
{
    v4 v = {p[0], p[2], p[4], p[6]};
    return v;
}

static void store4(float *p, v4 v)
{
    memcpy(p, &v, sizeof v);
}

/* The input cells of p: [hp][wp] (at row pt, column pl) = x: [h][w]; the border, zeroed once
 * per call, stays zero. */
static void pad_plane(float *restrict p, const float *restrict x, const struct plane *g)
{
    int n = g->w < g->wp - g->pl ? g->w : g->wp - g->pl; /* input columns inside the plane */
    for (int iy = 0; iy < g->h && iy + g->pt < g->hp; iy++) {
        float *restrict pr = p + (size_t)(iy + g->pt) * g->wp + g->pl;
        const float *restrict xr = x + (size_t)iy * g->w;
        int c = 0;
        for (; c + 4 <= n; c += 4)
            store4(pr + c, load4(xr + c));
        for (; c < n; c++)
            pr[c] = xr[c];
    }
}

/* y: [oh][ow] = bias + sum over taps k[i][j] p[oy*sh+i][ox*sw+j], p with rows of wp floats.
 * 3x3 with stride 1 or 2 (MobileNet's) sums the nine taps per output in one expression. */
static void correlate(float *restrict y, int oh, int ow, const float *restrict p, int wp, const float *restrict k,
                      int kh, int kw, int sh, int sw, float bias)
{
    for (int oy = 0; oy < oh; oy++) {
        float *restrict yr = y + (size_t)oy * ow;
        const float *r0 = p + (size_t)oy * sh * wp, *r1 = r0 + wp, *r2 = r1 + wp;
        if (kh == 3 && kw == 3 && sw == 1) {
            /* four outputs a register (no alias checks or loop versions: small planes pay per row) */
            int ox = 0;
            for (; ox + 4 <= ow; ox += 4)
                store4(yr + ox, bias + k[0] * load4(r0 + ox) + k[1] * load4(r0 + ox + 1) + k[2] * load4(r0 + ox + 2) +
                                    k[3] * load4(r1 + ox) + k[4] * load4(r1 + ox + 1) + k[5] * load4(r1 + ox + 2) +
                                    k[6] * load4(r2 + ox) + k[7] * load4(r2 + ox + 1) + k[8] * load4(r2 + ox + 2));
            for (; ox < ow; ox++)
                yr[ox] = bias + k[0] * r0[ox] + k[1] * r0[ox + 1] + k[2] * r0[ox + 2] + k[3] * r1[ox] +
                         k[4] * r1[ox + 1] + k[5] * r1[ox + 2] + k[6] * r2[ox] + k[7] * r2[ox + 1] +
                         k[8] * r2[ox + 2];
            continue;
        }
        if (kh == 3 && kw == 3 && sw == 2) {
            for (int ox = 0; ox < ow; ox++)
                yr[ox] = bias + k[0] * r0[2 * ox] + k[1] * r0[2 * ox + 1] + k[2] * r0[2 * ox + 2] +
                         k[3] * r1[2 * ox] + k[4] * r1[2 * ox + 1] + k[5] * r1[2 * ox + 2] + k[6] * r2[2 * ox] +
                         k[7] * r2[2 * ox + 1] + k[8] * r2[2 * ox + 2];
            continue;
        }
        for (int ox = 0; ox < ow; ox++)
            yr[ox] = bias;
        for (int i = 0; i < kh; i++) {
            const float *restrict pr = r0 + (size_t)i * wp;
            for (int j = 0; j < kw; j++) {
                float kv = k[i * kw + j];
                for (int ox = 0; ox < ow; ox++)
                    yr[ox] += kv * pr[ox * sw + j];
            }
        }
    }
}

/* 3x3 kernel gradient of one plane: dk[i*3+j] += sum over the plane of dy * p (shifted by the
 * tap), *db += sum of dy (db may be NULL). Four output columns at a time, the ten sums in
 * registers down the whole column strip, so each input value is loaded a few times, not once per
 * tap and row. The order of the additions depends only on the shapes. */
static void taps_3x3(float *restrict dk, float *db, const float *restrict dy, const float *restrict p,
                     const struct plane *g)
{
    int ow = g->ow, wp = g->wp, sw = g->sw;
    float sum[10] = {0};
    int ox0 = 0;
    for (; ox0 + 4 <= ow && sw <= 2; ox0 += 4) {
        v4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, a8 = {0}, ab = {0};
        for (int oy = 0; oy < g->oh; oy++) {
            v4 d = load4(dy + (size_t)oy * ow + ox0);
            const float *r0 = p + (size_t)oy * g->sh * wp + (size_t)ox0 * sw, *r1 = r0 + wp, *r2 = r1 + wp;
            ab += d;
            if (sw == 1) {
                a0 += d * load4(r0), a1 += d * load4(r0 + 1), a2 += d * load4(r0 + 2);
                a3 += d * load4(r1), a4 += d * load4(r1 + 1), a5 += d * load4(r1 + 2);
                a6 += d * load4(r2), a7 += d * load4(r2 + 1), a8 += d * load4(r2 + 2);
            } else {
                a0 += d * load4_even(r0), a1 += d * load4_even(r0 + 1), a2 += d * load4_even(r0 + 2);
                a3 += d * load4_even(r1), a4 += d * load4_even(r1 + 1), a5 += d * load4_even(r1 + 2);
                a6 += d * load4_even(r2), a7 += d * load4_even(r2 + 1), a8 += d * load4_even(r2 + 2);
            }
        }
        const v4 acc[10] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, ab};
        for (int t = 0; t < 10; t++)
            sum[t] += (acc[t][0] + acc[t][1]) + (acc[t][2] + acc[t][3]);
    }
    for (; ox0 < ow; ox0++)
        for (int oy = 0; oy < g->oh; oy++) {
            float d = dy[(size_t)oy * ow + ox0];
            const float *r0 = p + (size_t)oy * g->sh * wp + (size_t)ox0 * sw;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    sum[i * 3 + j] += d * r0[(size_t)i * wp + j];
            sum[9] += d;
        }
    for (int t = 0; t < 9; t++)
        dk[t] += sum[t];
    if (db)
        *db += sum[9];
}

/* taps[t][ox] += dy[oy][ox] * p[oy*sh+i][ox*sw+j] for every tap t = i*kw+j, and
 * taps[kk][ox] += dy[oy][ox], over the rows of one plane (elementwise, so it vectorises). */
static void tap_products(float *restrict taps, const float *restrict dy, const float *restrict p,
                         const struct plane *g)
{
    int ow = g->ow, kk = g->kh * g->kw;
    float *restrict tb = taps + (size_t)kk * ow;
    for (int oy = 0; oy < g->oh; oy++) {
        const float *restrict d = dy + (size_t)oy * ow;
        const float *r0 = p + (size_t)oy * g->sh * g->wp;
        for (int ox = 0; ox < ow; ox++)
            tb[ox] += d[ox];
        for (int i = 0; i < g->kh; i++) {
            const float *restrict pr = r0 + (size_t)i * g->wp;
            for (int j = 0; j < g->kw; j++) {
                float *restrict t = taps + (size_t)(i * g->kw + j) * ow;
                for (int ox = 0; ox < ow; ox++)
                    t[ox] += d[ox] * pr[ox * g->sw + j];
            }
        }
    }
}

/* dk[t] += sum of taps[t][.], *db += sum of taps[kk][.] (db may be NULL); taps zeroed again. */
static void sum_taps(float *restrict dk, float *db, float *restrict taps, const struct plane *g)
{
    int ow = g->ow, kk = g->kh * g->kw;
    for (int t = 0; t <= kk; t++) {
        float *row = taps + (size_t)t * ow, sum = 0;
        for (int ox = 0; ox < ow; ox++)
            sum += row[ox];
        memset(row, 0, (size_t)ow * sizeof *row);
        if (t < kk)
            dk[t] += sum;
        else if (db)
            *db += sum;
    }
}

/* Stride 1: dx: [h][w] = the correlation of dy (copied into the zero-bordered d: [hd][wd] at
 * row kh-1, column kw-1) with the flipped kernel; every cell of dx is written. */
static void input_grad_s1(float *restrict dx, float *restrict d, const float *restrict dy, const float *restrict k,
                          const struct plane *g)
{
    float flip[64];
    int kk = g->kh * g->kw;
    for (int t = 0; t < kk; t++)
        flip[t] = k[kk - 1 - t];
    for (int oy = 0; oy < g->oh; oy++) {
        float *restrict dr = d + (size_t)(oy + g->kh - 1) * g->wd + g->kw - 1;
        const float *restrict src = dy + (size_t)oy * g->ow;
        for (int ox = 0; ox < g->ow; ox++)
            dr[ox] = src[ox];
    }
    correlate(dx, g->h, g->w, d + (size_t)g->pt * g->wd + g->pl, g->wd, flip, g->kh, g->kw, 1, 1, 0.0f);
}

/* 3x3, stride 2: dx: [h][w] from dy: [oh][ow], gathered. dy is copied into d (zero-bordered,
 * (oh+2) x (ow+2), at row 1, column 1); padded-plane row r = 2t (t <= oh) takes kernel rows 0 and
 * 2 from dy rows t and t-1, row 2t+1 kernel row 1 from dy row t; column 2u likewise kernel
 * columns 0 and 2 from dy columns u and u-1, column 2u+1 kernel column 1 from column u. Each row
 * is built in row (wp floats) and its input cells copied to dx. */
static void input_grad_3x3_s2(float *restrict dx, float *restrict d, const float *restrict dy,
                              const float *restrict k, const struct plane *g)
{
    int wd = g->ow + 2, ow = g->ow;
    float *restrict row = d + (size_t)(g->oh + 2) * wd;
    for (int oy = 0; oy < g->oh; oy++) {
        float *restrict dr = d + (size_t)(oy + 1) * wd + 1;
        const float *restrict src = dy + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++)
            dr[ox] = src[ox];
    }
    int n = g->w < g->wp - g->pl ? g->w : g->wp - g->pl;
    for (int iy = 0; iy < g->h; iy++) {
        float *restrict dxr = dx + (size_t)iy * g->w;
        int r = iy + g->pt, t = r / 2;
        if (r >= g->hp) {
            memset(dxr, 0, (size_t)g->w * sizeof *dxr);
            continue;
        }
        const float *a = d + (size_t)(t + 1) * wd + 1, *b = a - wd; /* dy rows t and t-1 */
        if (r % 2 == 0) {
            for (int u = 0; u < ow; u++) {
                row[2 * u] = k[0] * a[u] + k[2] * a[u - 1] + k[6] * b[u] + k[8] * b[u - 1];
                row[2 * u + 1] = k[1] * a[u] + k[7] * b[u];
            }
            row[2 * ow] = k[2] * a[ow - 1] + k[8] * b[ow - 1];
        } else {
            for (int u = 0; u < ow; u++) {
                row[2 * u] = k[3] * a[u] + k[5] * a[u - 1];
                row[2 * u + 1] = k[4] * a[u];
            }
            row[2 * ow] = k[5] * a[ow - 1];
        }
        for (int c = 0; c < n; c++)
            dxr[c] = row[g->pl + c];
        for (int c = n; c < g->w; c++)
            dxr[c] = 0;
    }
}

/* Strides over 1: dp: [hp][wp] = sum over taps of k[i][j] dy scattered back, then dx: [h][w] =
 * its input cells (zero for input cells no window reaches). */
static void input_grad_strided(float *restrict dx, float *restrict dp, const float *restrict dy,
                               const float *restrict k, const struct plane *g)
{
    memset(dp, 0, (size_t)g->hp * g->wp * sizeof *dp);
    for (int oy = 0; oy < g->oh; oy++) {
        const float *restrict d = dy + (size_t)oy * g->ow;
        for (int i = 0; i < g->kh; i++) {
            float *restrict pr = dp + (size_t)(oy * g->sh + i) * g->wp;
            for (int j = 0; j < g->kw; j++) {
                float kv = k[i * g->kw + j];
                for (int ox = 0; ox < g->ow; ox++)
                    pr[ox * g->sw + j] += kv * d[ox];
            }
        }
    }
    int n = g->w < g->wp - g->pl ? g->w : g->wp - g->pl;
    for (int iy = 0; iy < g->h; iy++) {
        float *dxr = dx + (size_t)iy * g->w;
        int r = iy + g->pt, m = r < g->hp ? n : 0;
        for (int c = 0; c < m; c++)
            dxr[c] = dp[(size_t)r * g->wp + g->pl + c];
        for (int c = m; c < g->w; c++)
            dxr[c] = 0;
    }
}

static void forward_part(void *arg, int part, int member)
{
    const struct hk_layer_call *c = arg;
    struct hk_layer *l = c->l;
    struct plane g = plane_of(l);
    int ch = l->in.c, kk = g.kh * g.kw;
    size_t in_plane = (size_t)g.h * g.w, out_plane = (size_t)g.oh * g.ow;
    struct bufs b = bufs_of(c->p->scratch[member], &g);
    memset(b.pad, 0, (size_t)g.hp * g.wp * sizeof *b.pad);
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++)
        for (int q = 0; q < ch; q++) {
            size_t k = (size_t)s * ch + q;
            pad_plane(b.pad, c->x + k * in_plane, &g);
            correlate(l->y + k * out_plane, g.oh, g.ow, b.pad, g.wp, l->w + (size_t)q * kk, g.kh, g.kw, g.sh, g.sw,
                      l->bcount ? l->b[q] : 0.0f);
        }
}

/* x: [n][c][h][w] -> y: [n][c][oh][ow] */
static void dw_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    struct hk_layer_call c = {l, p, x, NULL, NULL, n};
    hk_team_run(forward_part, &c, HK_TEAM_PARTS);
}

/* Part 0 accumulates into l->dw and l->db, part k > 0 into its own zeroed buffers behind the
 * member buffers of scratch k. */
static void backward_part(void *arg, int part, int member)
{
    const struct hk_layer_call *c = arg;
    struct hk_layer *l = c->l;
    struct plane g = plane_of(l);
    int ch = l->in.c, kk = g.kh * g.kw, s1 = g.sh == 1 && g.sw == 1;
    size_t in_plane = (size_t)g.h * g.w, out_plane = (size_t)g.oh * g.ow;
    struct bufs b = bufs_of(c->p->scratch[member], &g);
    float *dw = l->dw, *db = l->db;
    if (part) {
        dw = c->p->scratch[part] + bufs_floats(l);
        db = dw + l->wcount;
        memset(dw, 0, (l->wcount + l->bcount) * sizeof *dw);
    }
    memset(b.pad, 0, (pad_floats(&g) + grad_floats(&g) + taps_floats(&g)) * sizeof *b.pad);
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++)
        for (int q = 0; q < ch; q++) {
            size_t k = (size_t)s * ch + q;
            const float *kq = l->w + (size_t)q * kk, *d = c->dy + k * out_plane;
            pad_plane(b.pad, c->x + k * in_plane, &g);
            if (g.kh == 3 && g.kw == 3) {
                taps_3x3(dw + (size_t)q * kk, l->bcount ? db + q : NULL, d, b.pad, &g);
            } else {
                tap_products(b.taps, d, b.pad, &g);
                sum_taps(dw + (size_t)q * kk, l->bcount ? db + q : NULL, b.taps, &g);
            }
            if (c->dx && s1)
                input_grad_s1(c->dx + k * in_plane, b.grad, d, kq, &g);
            else if (c->dx && is_3x3_s2(&g))
                input_grad_3x3_s2(c->dx + k * in_plane, b.grad, d, kq, &g);
            else if (c->dx)
                input_grad_strided(c->dx + k * in_plane, b.grad, d, kq, &g);
        }
}

/* dy: [n][c][oh][ow] -> dw, db accumulated, dx: [n][c][h][w] */
static void dw_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                        const struct hk_pass *p)
{
    struct hk_layer_call c = {l, p, x, dy, dx, n};
    hk_team_run(backward_part, &c, HK_TEAM_PARTS);
    for (int part = 1; part < HK_TEAM_PARTS; part++) {
        const float *dw = p->scratch[part] + bufs_floats(l), *db = dw + l->wcount;
        for (size_t i = 0; i < l->wcount; i++)
            l->dw[i] += dw[i];
        for (size_t i = 0; i < l->bcount; i++)
            l->db[i] += db[i];
    }
}

static const char *const dw_opts[] = {"strides", "padding", "bias", "activation", "l2", NULL};

/* channels, multiplier 1, kernel rows, columns */
static int dw_kernel_dims(const struct hk_layer *l, uint64_t dims[4])
{
    dims[0] = (uint64_t)l->in.c, dims[1] = 1;
    dims[2] = (uint64_t)l->spec.kh, dims[3] = (uint64_t)l->spec.kw;
    return 4;
}

const struct hk_layer_ops hk_depthwise_ops = {
    .word = "depthwise",
    .keras_name = "depthwise_conv2d",
    .keras_class = "DepthwiseConv2D",
    .usage = "depthwise KxK [strides=SxS] [padding=valid|same] [bias=yes|no] [activation=NAME] [l2=X]",
    .help = "Depthwise convolution (Keras DepthwiseConv2D, depth multiplier 1): each channel is convolved with its own "
            "KxK kernel. Padding as conv2d.",
    .options = dw_opts,
    .positional = 1,
    .required = 1,
    .kernel_tensor = "depthwise_kernel",
    .kernel_dims = dw_kernel_dims,
    .infer = dw_infer,
    .scratch_floats = dw_scratch,
    .init = dw_init,
    .forward = dw_forward,
    .backward = dw_backward,
};
