/* layer_batchnorm.c: batch normalisation over channels (Keras BatchNormalization on NHWC, i.e. per
 * channel plane of NCHW). Parameters: gamma (l->w) and beta (l->b), trainable; state: moving mean
 * and moving variance (l->state[0..c) and [c..2c)), non-trainable, initialised to 0 and 1.
 *
 * Training (and not frozen): normalise with the batch mean and the biased batch variance, and
 * update moving = moving * momentum + batch * (1 - momentum) with that same biased variance, as
 * Keras does (its fused path removes the Bessel correction that TensorFlow's kernel applies;
 * PyTorch instead feeds the unbiased variance into running_var, and its momentum is 1 - Keras's).
 * Inference, or a frozen layer: normalise with the moving statistics.
 *
 * Data-parallel: the statistics are those of the global batch. The forward pass all-reduces the
 * per-channel sum and sum of squares (and the count), the backward pass the per-channel sums of
 * dy and dy * xhat that the input gradient needs, through p->sync; without it (one process)
 * nothing changes. The work is cut by channels for the compute team: every channel's sums are
 * made by one member in one order, so any thread count gives the same bits. */
#include <math.h>
#include <string.h>

#include "layer.h"
#include "team.h"

/* Per-batch state in l->aux: sums[2c] (the all-reduced pairs), count (values per channel in the
 * global batch), mean[c], invstd[c] (what the forward pass normalised with), batch (1 when
 * those were batch statistics). */
struct bn_aux {
    double *sums, *count;
    float *mean, *invstd;
    int *batch;
};

static struct bn_aux aux_of(const struct hk_layer *l)
{
    int c = l->in.c;
    struct bn_aux a;
    a.sums = l->aux;
    a.count = a.sums + 2 * (size_t)c;
    a.mean = (float *)(a.count + 1);
    a.invstd = a.mean + c;
    a.batch = (int *)(a.invstd + c);
    return a;
}

static size_t bn_aux_bytes(const struct hk_layer *l, int n)
{
    (void)n;
    return (2 * (size_t)l->in.c + 1) * sizeof(double) + 2 * (size_t)l->in.c * sizeof(float) + sizeof(int);
}

static enum hk_status bn_infer(struct hk_layer *l, struct hk_error *err)
{
    struct hk_layer_spec *s = &l->spec;
    if (s->epsilon <= 0)
        s->epsilon = HK_BATCHNORM_EPSILON;
    if (!(s->momentum >= 0 && s->momentum <= 1))
        return hk_fail(err, HK_EINVAL, "%s: momentum must be in [0, 1]", l->name);
    l->out = l->in;
    l->wcount = l->bcount = (size_t)l->in.c;
    l->scount = 2 * (size_t)l->in.c;
    return HK_OK;
}

/* gamma 1, beta 0, moving mean 0, moving variance 1 (Keras's initialisers). */
static void bn_init(struct hk_layer *l, struct hk_rng *rng)
{
    (void)rng;
    size_t c = (size_t)l->in.c;
    for (size_t q = 0; q < c; q++) {
        l->w[q] = 1.0f;
        l->b[q] = 0.0f;
        l->state[q] = 0.0f;
        l->state[c + q] = 1.0f;
    }
}

/* One team call of a batchnorm layer: which phase, and the tensors. */
enum bn_phase { BN_STATS, BN_NORMALISE, BN_GRAD_SUMS, BN_GRAD_INPUT };

struct bn_call {
    struct hk_layer *l;
    enum bn_phase phase;
    const float *x, *dy;
    float *dx;
    int n;
    double share; /* backward: this process's part of the global batch (1 alone) */
};

#define LANES 8

/* sums of (x - shift) and (x - shift)^2 over a plane of m values, in double, LANES at a time */
static void plane_stats(const float *restrict x, size_t m, float shift, double *s1, double *s2)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double v = (double)(x[i + k] - shift);
            a[k] += v;
            b[k] += v * v;
        }
    for (; i < m; i++) {
        double v = (double)(x[i] - shift);
        a[0] += v;
        b[0] += v * v;
    }
    for (int k = 0; k < LANES; k++) {
        *s1 += a[k];
        *s2 += b[k];
    }
}

/* sums of dy and dy * (x - mean) over a plane of m values */
static void plane_grad_sums(const float *restrict dy, const float *restrict x, size_t m, float mean, double *s1,
                            double *s2)
{
    float a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= m; i += LANES)
        for (int k = 0; k < LANES; k++) {
            a[k] += dy[i + k];
            b[k] += dy[i + k] * (x[i + k] - mean);
        }
    for (; i < m; i++) {
        a[0] += dy[i];
        b[0] += dy[i] * (x[i] - mean);
    }
    for (int k = 0; k < LANES; k++) {
        *s1 += a[k];
        *s2 += b[k];
    }
}

/* Channels [q0, q1) of the call's phase. */
static void bn_part(void *arg, int part, int member)
{
    (void)member;
    const struct bn_call *c = arg;
    struct hk_layer *l = c->l;
    struct bn_aux a = aux_of(l);
    int ch = l->in.c;
    size_t m = (size_t)l->in.h * l->in.w;
    int q0 = hk_team_part_start(ch, HK_TEAM_PARTS, part), q1 = hk_team_part_start(ch, HK_TEAM_PARTS, part + 1);
    for (int q = q0; q < q1; q++) {
        switch (c->phase) {
        case BN_STATS: {
            /* shifted by the moving mean (the same on every process) against cancellation */
            double s1 = 0, s2 = 0;
            for (int s = 0; s < c->n; s++)
                plane_stats(c->x + ((size_t)s * ch + q) * m, m, l->state[q], &s1, &s2);
            a.sums[2 * q] = s1;
            a.sums[2 * q + 1] = s2;
            break;
        }
        case BN_NORMALISE: {
            float scale = l->w[q] * a.invstd[q], shift = l->b[q] - a.mean[q] * scale;
            for (int s = 0; s < c->n; s++) {
                size_t off = ((size_t)s * ch + q) * m;
                const float *restrict x = c->x + off;
                float *restrict y = l->y + off;
                for (size_t i = 0; i < m; i++)
                    y[i] = x[i] * scale + shift;
            }
            break;
        }
        case BN_GRAD_SUMS: {
            double s1 = 0, s2 = 0;
            for (int s = 0; s < c->n; s++) {
                size_t off = ((size_t)s * ch + q) * m;
                plane_grad_sums(c->dy + off, c->x + off, m, a.mean[q], &s1, &s2);
            }
            s2 *= a.invstd[q]; /* sum of dy * xhat */
            l->db[q] += (float)s1;
            l->dw[q] += (float)s2;
            a.sums[2 * q] = s1 * c->share;
            a.sums[2 * q + 1] = s2 * c->share;
            break;
        }
        case BN_GRAD_INPUT: {
            float g = l->w[q] * a.invstd[q], mean = a.mean[q], inv = a.invstd[q];
            float mdy = 0, mdyx = 0;
            if (*a.batch) {
                double per = 1.0 / (c->share * *a.count);
                mdy = (float)(a.sums[2 * q] * per);
                mdyx = (float)(a.sums[2 * q + 1] * per);
            }
            for (int s = 0; s < c->n; s++) {
                size_t off = ((size_t)s * ch + q) * m;
                const float *restrict x = c->x + off, *restrict dy = c->dy + off;
                float *restrict dx = c->dx + off;
                for (size_t i = 0; i < m; i++)
                    dx[i] = g * (dy[i] - mdy - (x[i] - mean) * inv * mdyx);
            }
            break;
        }
        }
    }
}

/* From the sums (shifted by the moving mean) and the count, all-reduced when data-parallel: the
 * batch mean and 1/sqrt(biased variance + epsilon) to normalise with, and the moving statistics'
 * update with that mean and biased variance (Keras's rule). */
static void take_batch_stats(struct hk_layer *l, const struct bn_aux *a)
{
    int ch = l->in.c;
    float mom = l->spec.momentum;
    double count = *a->count > 0 ? *a->count : 1;
    for (int q = 0; q < ch; q++) {
        double shifted = a->sums[2 * q] / count;
        double var = a->sums[2 * q + 1] / count - shifted * shifted;
        var = var > 0 ? var : 0;
        float mean = (float)(shifted + l->state[q]);
        a->mean[q] = mean;
        a->invstd[q] = (float)(1.0 / sqrt(var + l->spec.epsilon));
        l->state[q] = l->state[q] * mom + mean * (1 - mom);
        l->state[ch + q] = l->state[ch + q] * mom + (float)var * (1 - mom);
    }
}

/* x, y: [n][c][h][w] */
static void bn_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    struct bn_aux a = aux_of(l);
    int ch = l->in.c;
    float eps = l->spec.epsilon;
    struct bn_call c = {l, BN_STATS, x, NULL, NULL, n, 1.0};
    *a.batch = p->training && !l->frozen;
    if (*a.batch) {
        hk_team_run(bn_part, &c, HK_TEAM_PARTS);
        *a.count = (double)n * l->in.h * l->in.w;
        if (p->sync)
            p->sync(p->sync_user, a.sums, 2 * (size_t)ch + 1);
        take_batch_stats(l, &a);
    } else {
        for (int q = 0; q < ch; q++) {
            a.mean[q] = l->state[q];
            a.invstd[q] = (float)(1.0 / sqrt((double)l->state[ch + q] + eps));
        }
    }
    c.phase = BN_NORMALISE;
    hk_team_run(bn_part, &c, HK_TEAM_PARTS);
}

/* dgamma += sum dy * xhat, dbeta += sum dy; dx = gamma * invstd * (dy - mean(dy) - xhat *
 * mean(dy * xhat)) with batch statistics (means over the global batch), dx = gamma * invstd * dy
 * with moving ones. */
static void bn_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                        const struct hk_pass *p)
{
    struct bn_aux a = aux_of(l);
    struct bn_call c = {l, BN_GRAD_SUMS, x, dy, dx, n, p->sync ? p->share : 1.0};
    if (*a.batch || !l->frozen) /* the sums feed dgamma, dbeta and (batch mode) dx */
        hk_team_run(bn_part, &c, HK_TEAM_PARTS);
    if (*a.batch && p->sync) /* also without dx: every process makes the same calls */
        p->sync(p->sync_user, a.sums, 2 * (size_t)l->in.c);
    if (!dx)
        return;
    c.phase = BN_GRAD_INPUT;
    hk_team_run(bn_part, &c, HK_TEAM_PARTS);
}

/* A process without samples in a step adds zeros to the sums (and 0 to the count) of both passes;
 * its moving statistics follow the global batch's as everyone else's. */
static void bn_sync_idle(struct hk_layer *l, const struct hk_pass *p, int backward)
{
    struct bn_aux a = aux_of(l);
    size_t c = (size_t)l->in.c;
    if (!p->sync || l->frozen)
        return;
    memset(a.sums, 0, (2 * c + 1) * sizeof *a.sums); /* the count too */
    p->sync(p->sync_user, a.sums, backward ? 2 * c : 2 * c + 1);
    if (!backward)
        take_batch_stats(l, &a);
}

const struct hk_layer_ops hk_batchnorm_ops = {
    .word = "batchnorm",
    .keras_name = "batch_normalization",
    .keras_class = "BatchNormalization",
    .infer = bn_infer,
    .aux_bytes = bn_aux_bytes,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .sync_idle = bn_sync_idle,
};
