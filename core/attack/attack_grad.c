/* attack_grad.c: FGSM and PGD under an L-infinity budget (Goodfellow et al. 2015, Madry et al.
 * 2018) and the worker plumbing of the attack lab. Both follow the sign of the input gradient of
 * the logit margin (hk_loss_margin), not of cross-entropy: on a confident model cross-entropy's
 * gradient rounds to zero in float32 and the attack would not move at all. */
#include "attack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

enum hk_status hk_attack_grad_check(const struct hk_attack_grad *a, int classes, struct hk_error *err)
{
    if (!(a->eps >= 0 && a->eps <= 1))
        return hk_fail(err, HK_EINVAL, "eps must be from 0 to 1 (a share of the 0..255 pixel range, e.g. 8/255), "
                       "got %g", a->eps);
    if (a->target >= classes || a->target < -1)
        return hk_fail(err, HK_EINVAL, "no class %d; the classes are 0 to %d", a->target, classes - 1);
    if (a->method == HK_ATTACK_PGD) {
        if (!(a->step > 0 && a->step <= 1))
            return hk_fail(err, HK_EINVAL, "step must be above 0 and at most 1, got %g", a->step);
        if (a->steps < 1 || a->steps > 100000)
            return hk_fail(err, HK_EINVAL, "steps must be from 1 to 100000, got %d", a->steps);
        if (a->restarts < 0 || a->restarts > 1000)
            return hk_fail(err, HK_EINVAL, "restarts must be from 0 to 1000, got %d", a->restarts);
    }
    return HK_OK;
}

double hk_attack_prob(const float *row, int k, int c)
{
    if (k == 1)
        return c == 1 ? (double)row[0] : 1.0 - (double)row[0];
    return row[c];
}

int hk_attack_predicted(const float *row, int k)
{
    if (k == 1)
        return row[0] >= 0.5f;
    int best = 0;
    for (int j = 1; j < k; j++)
        best = row[j] > row[best] ? j : best;
    return best;
}

/* How good adversarial output row is: higher is better for the attacker. */
static double goodness(const float *row, int k, int target, int label)
{
    return target >= 0 ? hk_attack_prob(row, k, target) : -hk_attack_prob(row, k, label);
}

static void clip_box(float *v, const float *x, size_t n, float eps, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float lo_i = x[i] - eps > 0 ? x[i] - eps : 0, hi_i = x[i] + eps < hi ? x[i] + eps : hi;
        v[i] = v[i] < lo_i ? lo_i : v[i] > hi_i ? hi_i : v[i];
    }
}

/* One signed-gradient step of size `step` on cur (towards the target, or up the label's loss). */
static void sign_step(float *cur, const float *g, size_t n, float step)
{
    for (size_t i = 0; i < n; i++)
        cur[i] += g[i] > 0 ? step : g[i] < 0 ? -step : 0;
}

enum hk_status hk_attack_grad_here(struct hk_model *m, const struct hk_attack_grad *a, float rescale, const float *x,
                                   const int *labels, int n, uint64_t index0, float *adv, float *probs,
                                   struct hk_error *err)
{
    size_t in = hk_shape_size(hk_model_input(m)), total = (size_t)n * in;
    int k = (int)hk_shape_size(hk_model_output(m)), classes = k == 1 ? 2 : k;
    enum hk_status st = hk_attack_grad_check(a, classes, err);
    if (st != HK_OK)
        return st;
    float hi = 255.0f * rescale, eps = (float)a->eps * hi, step = (float)a->step * hi;
    /* targeted: descend the target's loss, i.e. ascend with the sign flipped */
    float dir = a->target >= 0 ? -1.0f : 1.0f;
    float *cur = malloc(total * sizeof *cur), *g = malloc(total * sizeof *g);
    float *out = malloc((size_t)n * k * sizeof *out);
    double *best = malloc((size_t)n * sizeof *best);
    int *lab = malloc((size_t)n * sizeof *lab);
    if (!cur || !g || !out || !best || !lab) {
        st = hk_fail(err, HK_ENOMEM, "out of memory for an attack on %d pictures", n);
        goto out;
    }
    for (int i = 0; i < n; i++)
        lab[i] = a->target >= 0 ? a->target : labels[i];
    int starts = a->method == HK_ATTACK_PGD && a->restarts > 0 ? a->restarts : 1;
    for (int r = 0; r < starts && st == HK_OK; r++) {
        memcpy(cur, x, total * sizeof *cur);
        if (a->method == HK_ATTACK_PGD && a->restarts > 0)
            for (int i = 0; i < n; i++) {
                struct hk_rng rng;
                hk_rng_derive(&rng, a->seed, 0x706764 /* "pgd" */, (uint64_t)r, index0 + (uint64_t)i);
                for (size_t j = 0; j < in; j++)
                    cur[(size_t)i * in + j] += hk_rng_uniform(&rng, -eps, eps);
            }
        clip_box(cur, x, total, eps, hi);
        int steps = a->method == HK_ATTACK_PGD ? a->steps : 1;
        for (int s = 0; s < steps && st == HK_OK; s++) {
            st = hk_model_input_gradient(m, cur, lab, n, 1, g, NULL, NULL, err);
            if (st != HK_OK)
                break;
            sign_step(cur, g, total, dir * (a->method == HK_ATTACK_PGD ? step : eps));
            clip_box(cur, x, total, eps, hi);
        }
        if (st == HK_OK)
            st = hk_model_predict(m, cur, n, n, out, err);
        for (int i = 0; i < n && st == HK_OK; i++) {
            double v = goodness(out + (size_t)i * k, k, a->target, lab[i]);
            if (r > 0 && !(v > best[i]))
                continue;
            best[i] = v;
            memcpy(adv + (size_t)i * in, cur + (size_t)i * in, in * sizeof *adv);
            if (probs)
                memcpy(probs + (size_t)i * k, out + (size_t)i * k, (size_t)k * sizeof *probs);
        }
    }
out:
    free(cur);
    free(g);
    free(out);
    free(best);
    free(lab);
    return st;
}

/* One chunk of a gradient attack, run on the worker. */
struct grad_call {
    struct hk_model *m;
    const struct hk_attack_grad *a;
    float rescale;
    const float *x;
    const int *labels;
    int n;
    uint64_t index0;
    float *adv, *probs;
    enum hk_status st;
    struct hk_error err;
};

static void grad_on_worker(void *arg)
{
    struct grad_call *c = arg;
    c->st = hk_attack_grad_here(c->m, c->a, c->rescale, c->x, c->labels, c->n, c->index0, c->adv, c->probs, &c->err);
}

enum hk_status hk_attack_grad_run(struct hk_worker *wk, struct hk_model *m, const struct hk_attack_grad *a,
                                  float rescale, const float *x, const int *labels, int n, uint64_t index0,
                                  float *adv, float *probs, struct hk_error *err)
{
    size_t in = hk_shape_size(hk_model_input(m)), k = hk_shape_size(hk_model_output(m));
    for (int s = 0; s < n; s += HK_ATTACK_CHUNK) {
        int b = n - s < HK_ATTACK_CHUNK ? n - s : HK_ATTACK_CHUNK;
        struct grad_call c = {m, a, rescale, x + (size_t)s * in, labels ? labels + s : NULL, b, index0 + (uint64_t)s,
                              adv + (size_t)s * in, probs ? probs + (size_t)s * k : NULL, HK_OK, {0}};
        hk_worker_call(wk, grad_on_worker, &c);
        if (c.st != HK_OK) {
            if (err)
                *err = c.err;
            return c.st;
        }
    }
    return HK_OK;
}

struct predict_call {
    struct hk_model *m;
    const float *x;
    int n;
    float *probs;
    enum hk_status st;
    struct hk_error err;
};

static void predict_on_worker(void *arg)
{
    struct predict_call *c = arg;
    c->st = hk_model_predict(c->m, c->x, c->n, HK_ATTACK_CHUNK, c->probs, &c->err);
}

enum hk_status hk_attack_predict(struct hk_worker *wk, struct hk_model *m, const float *x, int n, float *probs,
                                 struct hk_error *err)
{
    size_t in = hk_shape_size(hk_model_input(m)), k = hk_shape_size(hk_model_output(m));
    for (int s = 0; s < n; s += HK_ATTACK_CHUNK) {
        int b = n - s < HK_ATTACK_CHUNK ? n - s : HK_ATTACK_CHUNK;
        struct predict_call c = {m, x + (size_t)s * in, b, probs + (size_t)s * k, HK_OK, {0}};
        hk_worker_call(wk, predict_on_worker, &c);
        if (c.st != HK_OK) {
            if (err)
                *err = c.err;
            return c.st;
        }
    }
    return HK_OK;
}
