/* layer_conv2d.c: 2-D convolution as im2col + one sgemm per image and direction, the batch cut
 * into HK_TEAM_PARTS parts that the compute team runs side by side, each with its own scratch.
 * A 1x1 convolution with stride 1 needs no im2col: in NCHW the picture is already its column
 * matrix (c x h*w), so it is one sgemm per picture straight on x.
 * Kernel layout: [filters][in_channels][kh][kw]; bias [filters] or none (bias=no). Padding valid
 * or same (TF rule: the smaller half of the padding goes on top/left, the extra row and column of
 * an odd total on the bottom/right). */
#include <cblas.h>
#include <string.h>

#include "layer.h"
#include "team.h"

struct conv_geom {
    int c, h, w;       /* input */
    int f, oh, ow;     /* output */
    int kh, kw, sh, sw;
    int pt, pl;        /* padding top, left */
};

static struct conv_geom geom(const struct hk_layer *l)
{
    struct conv_geom g = {l->in.c, l->in.h, l->in.w, l->out.c, l->out.h, l->out.w,
                          l->spec.kh, l->spec.kw, l->spec.sh, l->spec.sw, 0, 0};
    if (l->spec.same) {
        g.pt = hk_pad_before(g.h, g.oh, g.kh, g.sh);
        g.pl = hk_pad_before(g.w, g.ow, g.kw, g.sw);
    }
    return g;
}

/* 1 when the picture is its own column matrix: 1x1 kernel, stride 1 (no padding then). */
static int is_pointwise(const struct hk_layer *l)
{
    const struct hk_layer_spec *s = &l->spec;
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1;
}

static enum hk_status conv_infer(struct hk_layer *l, struct hk_error *err)
{
    struct hk_layer_spec *s = &l->spec;
    if (s->units < 1 || s->kh < 1 || s->kw < 1 || s->kh > 1024 || s->kw > 1024)
        return hk_fail(err, HK_EINVAL, "%s: needs at least 1 filter and a kernel from 1x1 to 1024x1024", l->name);
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
            return hk_fail(err, HK_ESHAPE, "%s: kernel %dx%d does not fit input (%d,%d,%d)", l->name, s->kh,
                           s->kw, l->in.h, l->in.w, l->in.c);
        oh = (l->in.h - s->kh) / s->sh + 1;
        ow = (l->in.w - s->kw) / s->sw + 1;
    }
    l->out = (struct hk_shape){s->units, oh, ow};
    l->wcount = (size_t)s->units * l->in.c * s->kh * s->kw;
    l->bcount = s->nobias ? 0 : (size_t)s->units;
    return HK_OK;
}

/* Floats of one column matrix: (c*kh*kw) x (oh*ow); none for a pointwise convolution. */
static size_t col_floats(const struct hk_layer *l)
{
    if (is_pointwise(l))
        return 0;
    return (size_t)l->in.c * l->spec.kh * l->spec.kw * l->out.h * l->out.w;
}

/* Per part: one column matrix, then the part's kernel and bias gradient (parts 1 and up). */
static size_t conv_scratch(const struct hk_layer *l)
{
    return col_floats(l) + l->wcount + l->bcount;
}

static void conv_init(struct hk_layer *l, struct hk_rng *rng)
{
    int rf = l->spec.kh * l->spec.kw;
    hk_glorot_uniform(l->w, l->wcount, l->in.c * rf, l->out.c * rf, rng);
    if (l->bcount)
        memset(l->b, 0, l->bcount * sizeof *l->b);
}

/* col[(c*kh+i)*kw+j][oy*ow+ox] = x[c][oy*sh+i-pt][ox*sw+j-pl], zero outside.
 * x: [c][h][w]  col: [c*kh*kw][oh*ow] */
static void im2col(float *col, const float *x, const struct conv_geom *g)
{
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * g->oh * g->ow;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->sh + i - g->pt;
                    float *dst = row + (size_t)oy * g->ow;
                    if (iy < 0 || iy >= g->h) {
                        memset(dst, 0, (size_t)g->ow * sizeof *dst);
                        continue;
                    }
                    const float *src = x + ((size_t)c * g->h + iy) * g->w;
                    if (g->sw == 1 && g->pl == 0 && j + g->ow <= g->w) {
                        memcpy(dst, src + j, (size_t)g->ow * sizeof *dst);
                        continue;
                    }
                    for (int ox = 0; ox < g->ow; ox++) {
                        int ix = ox * g->sw + j - g->pl;
                        dst[ox] = ix >= 0 && ix < g->w ? src[ix] : 0.0f;
                    }
                }
            }
}

/* dst[i] += src[i]; the two never overlap (dx and the column scratch, or two parts' gradients). */
static void add_row(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

/* dx[c][iy][ix] += dcol[(c*kh+i)*kw+j][oy*ow+ox]; the adjoint of im2col. dx is zeroed first. */
static void col2im(float *dx, const float *col, const struct conv_geom *g)
{
    memset(dx, 0, (size_t)g->c * g->h * g->w * sizeof *dx);
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const float *row = col + ((size_t)(c * g->kh + i) * g->kw + j) * g->oh * g->ow;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->sh + i - g->pt;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    const float *src = row + (size_t)oy * g->ow;
                    float *dst = dx + ((size_t)c * g->h + iy) * g->w;
                    if (g->sw == 1 && g->pl == 0 && j + g->ow <= g->w) {
                        add_row(dst + j, src, g->ow);
                        continue;
                    }
                    for (int ox = 0; ox < g->ow; ox++) {
                        int ix = ox * g->sw + j - g->pl;
                        if (ix >= 0 && ix < g->w)
                            dst[ix] += src[ox];
                    }
                }
            }
}

/* Part `part` of the forward pass: y_s = W (f x ckk) * col_s (ckk x ohw) + b for its samples,
 * col_s in the scratch of the member running it. */
static void forward_part(void *arg, int part, int member)
{
    const struct hk_layer_call *c = arg;
    struct hk_layer *l = c->l;
    struct conv_geom g = geom(l);
    int ckk = g.c * g.kh * g.kw, ohw = g.oh * g.ow;
    size_t in_size = hk_shape_size(l->in), out_size = hk_shape_size(l->out);
    float *col = c->p->scratch[member];
    int pointwise = is_pointwise(l);
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++) {
        float *y = l->y + s * out_size;
        if (l->bcount)
            for (int f = 0; f < g.f; f++)
                for (int k = 0; k < ohw; k++)
                    y[(size_t)f * ohw + k] = l->b[f];
        const float *cols = c->x + s * in_size;
        if (!pointwise) {
            im2col(col, cols, &g);
            cols = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.f, ohw, ckk, 1.0f, l->w, ckk, cols, ohw,
                    l->bcount ? 1.0f : 0.0f, y, ohw);
    }
}

/* x: [n][c][h][w] -> y: [n][f][oh][ow] */
static void conv_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    struct hk_layer_call c = {l, p, x, NULL, NULL, n};
    hk_team_run(forward_part, &c, HK_TEAM_PARTS);
}

/* db[f] += sum over k of d[f][k], each sum in order of k as a single loop would add it, but
 * BIAS_LANES filters at a time so that the additions of different filters overlap. */
#define BIAS_LANES 8
static void add_plane_sums(float *db, const float *d, int f, int ohw)
{
    int f0 = 0;
    for (; f0 + BIAS_LANES <= f; f0 += BIAS_LANES) {
        float sum[BIAS_LANES] = {0};
        for (int k = 0; k < ohw; k++)
            for (int j = 0; j < BIAS_LANES; j++)
                sum[j] += d[(size_t)(f0 + j) * ohw + k];
        for (int j = 0; j < BIAS_LANES; j++)
            db[f0 + j] += sum[j];
    }
    for (; f0 < f; f0++) {
        float sum = 0;
        for (int k = 0; k < ohw; k++)
            sum += d[(size_t)f0 * ohw + k];
        db[f0] += sum;
    }
}

/* Part `part` of the backward pass over its samples s: dw += dy_s * col_s^T, db += sum dy_s
 * (part 0 into l->dw and l->db, part k > 0 into its own zeroed buffers behind the column matrix
 * of scratch k), dcol = W^T dy_s, dx_s = col2im(dcol); col in the scratch of the member.
 * Pointwise: col_s is x_s and dx_s = W^T dy_s directly. */
static void backward_part(void *arg, int part, int member)
{
    const struct hk_layer_call *c = arg;
    struct hk_layer *l = c->l;
    struct conv_geom g = geom(l);
    int ckk = g.c * g.kh * g.kw, ohw = g.oh * g.ow;
    size_t in_size = hk_shape_size(l->in), out_size = hk_shape_size(l->out);
    float *col = c->p->scratch[member], *dw = l->dw, *db = l->db;
    if (part) {
        dw = c->p->scratch[part] + col_floats(l);
        db = dw + l->wcount;
        memset(dw, 0, (l->wcount + l->bcount) * sizeof *dw);
    }
    int pointwise = is_pointwise(l);
    int end = hk_team_part_start(c->n, HK_TEAM_PARTS, part + 1);
    for (int s = hk_team_part_start(c->n, HK_TEAM_PARTS, part); s < end; s++) {
        const float *d = c->dy + s * out_size;
        if (!l->frozen) { /* a frozen layer needs only dx */
            if (l->bcount)
                add_plane_sums(db, d, g.f, ohw);
            const float *cols = c->x + s * in_size;
            if (!pointwise) {
                im2col(col, cols, &g);
                cols = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.f, ckk, ohw, 1.0f, d, ohw, cols, ohw, 1.0f, dw,
                        ckk);
        }
        if (c->dx && pointwise) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, ohw, g.f, 1.0f, l->w, ckk, d, ohw, 0.0f,
                        c->dx + s * in_size, ohw);
        } else if (c->dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, ohw, g.f, 1.0f, l->w, ckk, d, ohw, 0.0f, col,
                        ohw);
            col2im(c->dx + s * in_size, col, &g);
        }
    }
}

/* dy: [n][f][oh][ow]. The parts' kernel and bias gradients are added to part 0's in the order of
 * the parts, so the sums do not depend on how many threads ran them. */
static void conv_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                          const struct hk_pass *p)
{
    struct hk_layer_call c = {l, p, x, dy, dx, n};
    hk_team_run(backward_part, &c, HK_TEAM_PARTS);
    for (int part = 1; part < HK_TEAM_PARTS; part++) {
        const float *dw = p->scratch[part] + col_floats(l), *db = dw + l->wcount;
        add_row(l->dw, dw, l->wcount);
        add_row(l->db, db, l->bcount);
    }
}

static const char *const conv_opts[] = {"strides", "padding", "bias", "activation", "l2", NULL};

/* Keras/PyTorch order as the model file stores it: filters, input channels, kernel rows, columns. */
static int conv_kernel_dims(const struct hk_layer *l, uint64_t dims[4])
{
    dims[0] = (uint64_t)l->spec.units, dims[1] = (uint64_t)l->in.c;
    dims[2] = (uint64_t)l->spec.kh, dims[3] = (uint64_t)l->spec.kw;
    return 4;
}

const struct hk_layer_ops hk_conv2d_ops = {
    .word = "conv2d",
    .keras_name = "conv2d",
    .keras_class = "Conv2D",
    .usage = "conv2d FILTERS KxK [strides=SxS] [padding=valid|same] [bias=yes|no] [activation=NAME] [l2=X]",
    .help = "2-D convolution (Keras Conv2D). padding=same pads as TensorFlow: an odd total's extra row and column go "
            "at the bottom and right. bias=no leaves the bias out.",
    .options = conv_opts,
    .positional = 2,
    .required = 2,
    .kernel_dims = conv_kernel_dims,
    .infer = conv_infer,
    .scratch_floats = conv_scratch,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
};
