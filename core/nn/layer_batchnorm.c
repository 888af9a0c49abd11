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
 * those were batch statistics); for small planes, acc[2][c][h*w]: the sums of each position over
 * the samples, reduced per channel at the end. */
struct bn_aux {
    double *sums, *count;
    float *mean, *invstd;
    int *batch;
    double *acc;
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
    a.acc = a.count + 1 + (size_t)c + 1; /* after mean and invstd (2c floats) and batch */
    return a;
}

/* Planes of at most this many values are walked sample by sample (memory order; channel by
 * channel, each would be a cache line far from the last), their sums made per position over the
 * samples first. */
#define BN_SMALL_PLANE 256

static size_t bn_aux_bytes(const struct hk_layer *l, int n)
{
    (void)n;
    size_t c = (size_t)l->in.c, m = (size_t)l->in.h * l->in.w;
    return (2 * c + 1 + c + 1 + (m <= BN_SMALL_PLANE ? 2 * c * m : 0)) * sizeof(double);
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

/* One team call of a batchnorm layer: the steps it takes for each of its channels, in this
 * order, and the tensors. Without a sync hook a pass is one call, each channel's steps running
 * while its values are still in cache; with one, the steps before and after the all-reduce are
 * two calls. */
enum {
    BN_STATS = 1,     /* sums of x - moving mean and its square */
    BN_TAKE = 2,      /* mean, invstd and the moving statistics from the sums */
    BN_NORMALISE = 4, /* y = gamma * (x - mean) * invstd + beta */
    BN_GRAD_SUMS = 8, /* sums of dy and dy * xhat; dgamma, dbeta */
    BN_GRAD_INPUT = 16 /* dx */
};

struct bn_call {
    struct hk_layer *l;
    int steps;
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

/* From the sums of channel q (shifted by the moving mean) and the count, all-reduced when
 * data-parallel: the batch mean and 1/sqrt(biased variance + epsilon) to normalise with, and the
 * moving statistics' update with that mean and biased variance (Keras's rule). */
static void take_stats(struct hk_layer *l, const struct bn_aux *a, int q)
{
    int ch = l->in.c;
    float mom = l->spec.momentum;
    double count = *a->count > 0 ? *a->count : 1;
    double shifted = a->sums[2 * q] / count;
    double var = a->sums[2 * q + 1] / count - shifted * shifted;
    var = var > 0 ? var : 0;
    float mean = (float)(shifted + l->state[q]);
    a->mean[q] = mean;
    a->invstd[q] = (float)(1.0 / sqrt(var + l->spec.epsilon));
    l->state[q] = l->state[q] * mom + mean * (1 - mom);
    l->state[ch + q] = l->state[ch + q] * mom + (float)var * (1 - mom);
}

/* Plane (s, q) of a [n][c][m] tensor. */
#define PLANE(t, s, q) ((t) + ((size_t)(s) * ch + (size_t)(q)) * m)

/* y = x * scale + shift over m values */
static void plane_affine(float *restrict y, const float *restrict x, size_t m, float scale, float shift)
{
    for (size_t i = 0; i < m; i++)
        y[i] = x[i] * scale + shift;
}

/* dx = g * (dy - mdy - (x - mean) * inv * mdyx) over m values */
static void plane_grad_input(float *restrict dx, const float *restrict dy, const float *restrict x, size_t m,
                             float g, float mdy, float mean, float inv, float mdyx)
{
    for (size_t i = 0; i < m; i++)
        dx[i] = g * (dy[i] - mdy - (x[i] - mean) * inv * mdyx);
}

/* Channel q after its gradient sums: dgamma, dbeta, and the sums as the all-reduce takes them. */
static void finish_grad_sums(struct hk_layer *l, const struct bn_aux *a, int q, double share)
{
    a->sums[2 * q + 1] *= a->invstd[q]; /* sum of dy * xhat */
    l->db[q] += (float)a->sums[2 * q];
    l->dw[q] += (float)a->sums[2 * q + 1];
    a->sums[2 * q] *= share;
    a->sums[2 * q + 1] *= share;
}

/* mean(dy) and mean(dy * xhat) of channel q from the (all-reduced) sums; 0 on moving statistics */
static void grad_means(const struct bn_aux *a, int q, double share, float *mdy, float *mdyx)
{
    *mdy = *mdyx = 0;
    if (*a->batch) {
        double per = 1.0 / (share * *a->count);
        *mdy = (float)(a->sums[2 * q] * per);
        *mdyx = (float)(a->sums[2 * q + 1] * per);
    }
}

/* sums[2q], sums[2q+1] = the sums of acc[0][q][.] and acc[1][q][.], for q in [q0, q1) */
static void reduce_positions(const struct bn_aux *a, int q0, int q1, int ch, size_t m)
{
    for (int q = q0; q < q1; q++) {
        const double *a1 = a->acc + (size_t)q * m, *a2 = a->acc + ((size_t)ch + q) * m;
        double s1 = 0, s2 = 0;
        for (size_t i = 0; i < m; i++) {
            s1 += a1[i];
            s2 += a2[i];
        }
        a->sums[2 * q] = s1;
        a->sums[2 * q + 1] = s2;
    }
}

/* The call's steps for channels [q0, q1) of part `part`: channel by channel (each channel's steps
 * back to back while its values are in cache), or step by step over the samples for small
 * planes. The moving mean shifts the statistics' sums (the same on every process) against
 * cancellation. */
static void bn_part(void *arg, int part, int member)
{
    (void)member;
    const struct bn_call *c = arg;
    struct hk_layer *l = c->l;
    struct bn_aux a = aux_of(l);
    int ch = l->in.c, n = c->n;
    size_t m = (size_t)l->in.h * l->in.w;
    int q0 = hk_team_part_start(ch, HK_TEAM_PARTS, part), q1 = hk_team_part_start(ch, HK_TEAM_PARTS, part + 1);
    float mdy, mdyx;
    if (m > BN_SMALL_PLANE) {
        for (int q = q0; q < q1; q++) {
            double *s1 = &a.sums[2 * q], *s2 = s1 + 1;
            if (c->steps & BN_STATS) {
                *s1 = *s2 = 0;
                for (int s = 0; s < n; s++)
                    plane_stats(PLANE(c->x, s, q), m, l->state[q], s1, s2);
            }
            if (c->steps & BN_TAKE)
                take_stats(l, &a, q);
            float scale = l->w[q] * a.invstd[q];
            if (c->steps & BN_NORMALISE)
                for (int s = 0; s < n; s++)
                    plane_affine(PLANE(l->y, s, q), PLANE(c->x, s, q), m, scale, l->b[q] - a.mean[q] * scale);
            if (c->steps & BN_GRAD_SUMS) {
                *s1 = *s2 = 0;
                for (int s = 0; s < n; s++)
                    plane_grad_sums(PLANE(c->dy, s, q), PLANE(c->x, s, q), m, a.mean[q], s1, s2);
                finish_grad_sums(l, &a, q, c->share);
            }
            if (c->steps & BN_GRAD_INPUT) {
                grad_means(&a, q, c->share, &mdy, &mdyx);
                for (int s = 0; s < n; s++)
                    plane_grad_input(PLANE(c->dx, s, q), PLANE(c->dy, s, q), PLANE(c->x, s, q), m, scale, mdy,
                                     a.mean[q], a.invstd[q], mdyx);
            }
        }
        return;
    }
    /* acc[0][q][i], acc[1][q][i]: sums over the samples of position i of channel q */
    double *acc1 = a.acc + (size_t)q0 * m, *acc2 = a.acc + ((size_t)ch + q0) * m;
    size_t span = (size_t)(q1 - q0) * m;
    if (c->steps & (BN_STATS | BN_GRAD_SUMS)) {
        memset(acc1, 0, span * sizeof *acc1);
        memset(acc2, 0, span * sizeof *acc2);
    }
    if (c->steps & BN_STATS) {
        for (int s = 0; s < n; s++)
            for (int q = q0; q < q1; q++) {
                const float *restrict x = PLANE(c->x, s, q);
                double *restrict a1 = a.acc + (size_t)q * m, *restrict a2 = a.acc + ((size_t)ch + q) * m;
                float shift = l->state[q];
                for (size_t i = 0; i < m; i++) {
                    double v = (double)(x[i] - shift);
                    a1[i] += v;
                    a2[i] += v * v;
                }
            }
        reduce_positions(&a, q0, q1, ch, m);
    }
    for (int q = q0; q < q1 && (c->steps & BN_TAKE); q++)
        take_stats(l, &a, q);
    if (c->steps & BN_NORMALISE)
        for (int s = 0; s < n; s++)
            for (int q = q0; q < q1; q++) {
                float scale = l->w[q] * a.invstd[q];
                plane_affine(PLANE(l->y, s, q), PLANE(c->x, s, q), m, scale, l->b[q] - a.mean[q] * scale);
            }
    if (c->steps & BN_GRAD_SUMS) {
        for (int s = 0; s < n; s++)
            for (int q = q0; q < q1; q++) {
                const float *restrict x = PLANE(c->x, s, q), *restrict dy = PLANE(c->dy, s, q);
                double *restrict a1 = a.acc + (size_t)q * m, *restrict a2 = a.acc + ((size_t)ch + q) * m;
                float mean = a.mean[q];
                for (size_t i = 0; i < m; i++) {
                    a1[i] += dy[i];
                    a2[i] += (double)(dy[i] * (x[i] - mean));
                }
            }
        reduce_positions(&a, q0, q1, ch, m);
        for (int q = q0; q < q1; q++)
            finish_grad_sums(l, &a, q, c->share);
    }
    if (c->steps & BN_GRAD_INPUT)
        for (int s = 0; s < n; s++)
            for (int q = q0; q < q1; q++) {
                grad_means(&a, q, c->share, &mdy, &mdyx);
                plane_grad_input(PLANE(c->dx, s, q), PLANE(c->dy, s, q), PLANE(c->x, s, q), m,
                                 l->w[q] * a.invstd[q], mdy, a.mean[q], a.invstd[q], mdyx);
            }
}

/* x, y: [n][c][h][w] */
static void bn_forward(struct hk_layer *l, const float *x, int n, const struct hk_pass *p)
{
    struct bn_aux a = aux_of(l);
    int ch = l->in.c;
    struct bn_call c = {l, BN_STATS | BN_TAKE | BN_NORMALISE, x, NULL, NULL, n, 1.0};
    *a.batch = p->training && !l->frozen;
    *a.count = (double)n * l->in.h * l->in.w;
    if (!*a.batch) {
        for (int q = 0; q < ch; q++) {
            a.mean[q] = l->state[q];
            a.invstd[q] = (float)(1.0 / sqrt((double)l->state[ch + q] + l->spec.epsilon));
        }
        c.steps = BN_NORMALISE;
    } else if (p->sync) {
        c.steps = BN_STATS;
        hk_team_run(bn_part, &c, HK_TEAM_PARTS);
        p->sync(p->sync_user, a.sums, 2 * (size_t)ch + 1);
        for (int q = 0; q < ch; q++)
            take_stats(l, &a, q);
        c.steps = BN_NORMALISE;
    }
    hk_team_run(bn_part, &c, HK_TEAM_PARTS);
}

/* dgamma += sum dy * xhat, dbeta += sum dy; dx = gamma * invstd * (dy - mean(dy) - xhat *
 * mean(dy * xhat)) with batch statistics (means over the global batch), dx = gamma * invstd * dy
 * with moving ones. A frozen layer (on moving statistics) needs only dx. */
static void bn_backward(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                        const struct hk_pass *p)
{
    struct bn_aux a = aux_of(l);
    int sums = *a.batch || !l->frozen, sync = *a.batch && p->sync;
    struct bn_call c = {l, (sums ? BN_GRAD_SUMS : 0) | (dx && !sync ? BN_GRAD_INPUT : 0), x, dy, dx, n,
                        sync ? p->share : 1.0};
    if (c.steps)
        hk_team_run(bn_part, &c, HK_TEAM_PARTS);
    if (!sync)
        return;
    p->sync(p->sync_user, a.sums, 2 * (size_t)l->in.c); /* also without dx: all processes call it */
    c.steps = BN_GRAD_INPUT;
    if (dx)
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
    for (size_t q = 0; q < c && !backward; q++)
        take_stats(l, &a, (int)q);
}

static const char *const bn_opts[] = {"momentum", "epsilon", NULL};

static const char *const bn_state_tensors[] = {"moving_mean", "moving_variance", NULL};

const struct hk_layer_ops hk_batchnorm_ops = {
    .word = "batchnorm",
    .keras_name = "batch_normalization",
    .keras_class = "BatchNormalization",
    .usage = "batchnorm [momentum=0.99] [epsilon=0.001]",
    .help = "Batch normalisation per channel (Keras BatchNormalization): gamma and beta are trained, the moving mean "
            "and variance are non-trainable state. Training normalises with the batch's mean and (biased) "
            "variance, over the global batch under MPI, and updates moving = moving*momentum + batch*(1-momentum); "
            "inference and frozen layers use the moving statistics.",
    .options = bn_opts,
    .positional = 0,
    .required = 0,
    .kernel_tensor = "gamma",
    .bias_tensor = "beta",
    .state_tensors = bn_state_tensors,
    .infer = bn_infer,
    .aux_bytes = bn_aux_bytes,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .sync_idle = bn_sync_idle,
};
