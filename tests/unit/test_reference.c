/* test_reference.c: forward outputs, loss and gradients of a small conv net with fixed weights,
 * compared with reference values computed once by an independent numpy (float64) implementation
 * (tests/fixtures/make_reference.py, which documents the network, the weights and the format);
 * then one SGD step and two Adam steps checked against the Keras update rules written out here.
 * Usage: test_reference FIXTURE (tests/fixtures/reference_convnet.txt). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "model.h"

#define BATCH 4

/* ---- the network ---- */

static struct hk_model *build(struct hk_error *err)
{
    struct hk_model *m = hk_model_new((struct hk_shape){.c = 3, .h = 10, .w = 9}, 1, err);
    if (!m)
        return NULL;
    const struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .same = 0, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2},
        {.kind = HK_LAYER_CONV2D, .units = 5, .kh = 2, .kw = 2, .same = 1, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 6, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
        if (hk_model_insert(m, hk_model_count(m), &specs[i], NULL, err) != HK_OK) {
            hk_model_free(m);
            return NULL;
        }
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    if (hk_model_compile(m, &o, HK_LOSS_BCE, err) != HK_OK) {
        hk_model_free(m);
        return NULL;
    }
    return m;
}

static void set_params(struct hk_model *m, const struct fixture_section *p)
{
    float *w = hk_model_params(m);
    for (size_t i = 0; i < p->count; i++)
        w[i] = (float)p->v[i];
}

/* |got - want| within rounding of a float result of about want's size (plus a hair for tiny values). */
static int float_exact(float got, double want)
{
    return fabs(got - want) <= 2.0 * FLT_EPSILON * fabs(want) + 1e-12;
}

/* ---- the checks ---- */

static void check_forward_and_gradients(struct hk_model *m, const float *x, const int *labels)
{
    struct hk_error err;
    const struct fixture_section *out = fixture_section("output", BATCH), *loss = fixture_section("loss", 1);
    const struct fixture_section *grad = fixture_section("grad", hk_model_param_count(m));
    const float *probs = NULL;
    CHECK(hk_model_forward(m, x, BATCH, 0, 0, &probs, &err) == HK_OK, "forward: %s", err.msg);
    if (out && probs)
        fixture_compare("output (sigmoid probabilities)", probs, out->v, BATCH);
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        char name[32], what[80];
        snprintf(name, sizeof name, "layer %d", i);
        const struct fixture_section *ref = fixture_section(name, (size_t)BATCH * hk_shape_size(l->out));
        snprintf(what, sizeof what, "layer %d (%s) output after %s", i, l->name, hk_act_name(l->spec.act));
        if (ref)
            fixture_compare(what, l->y, ref->v, ref->count);
    }

    struct hk_step_result res = {0};
    CHECK(hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK, "gradients: %s", err.msg);
    if (loss)
        CHECK(fixture_close(res.loss, loss->v[0]), "loss: husky %.9g, reference %.9g", res.loss, loss->v[0]);
    if (out) {
        int correct = 0;
        for (int i = 0; i < BATCH; i++)
            correct += (out->v[i] >= 0.5) == (labels[i] == 1);
        CHECK(res.correct == correct, "correct: husky %d, reference %d", res.correct, correct);
    }
    if (grad) {
        fixture_compare("gradient d loss / d params", hk_model_grads(m), grad->v, grad->count);
        fixture_compare_scaled(m, hk_model_grads(m), grad->v);
    }
    /* the same pass again gives the same gradients, bit for bit */
    size_t n = hk_model_param_count(m);
    float *g1 = malloc(n * sizeof *g1);
    memcpy(g1, hk_model_grads(m), n * sizeof *g1);
    hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err);
    CHECK(memcmp(g1, hk_model_grads(m), n * sizeof *g1) == 0, "gradients differ between two identical passes");
    free(g1);
}

/* One plain SGD step (Keras: p -= lr * g, lr 0.01). */
static void check_sgd(struct hk_model *m, const struct fixture_section *params, const float *x, const int *labels)
{
    struct hk_error err;
    struct hk_step_result res;
    size_t n = hk_model_param_count(m);
    set_params(m, params);
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    CHECK(o.lr == 0.01f && o.momentum == 0.0f, "sgd defaults: lr %g momentum %g, expected 0.01 and 0", (double)o.lr,
          (double)o.momentum);
    CHECK(hk_model_compile(m, &o, HK_LOSS_BCE, &err) == HK_OK, "compile sgd: %s", err.msg);
    CHECK(hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK, "gradients: %s", err.msg);
    float *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g);
    memcpy(p0, hk_model_params(m), n * sizeof *p0);
    memcpy(g, hk_model_grads(m), n * sizeof *g);
    hk_model_update(m);
    CHECK(hk_model_optim_step(m) == 1, "sgd: step count %llu after one update", (unsigned long long)hk_model_optim_step(m));
    const float *p1 = hk_model_params(m);
    size_t bad = 0, first = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (double)p0[i] - 0.01 * (double)g[i];
        moved += p1[i] != p0[i];
        if (!float_exact(p1[i], want) && bad++ == 0)
            first = i;
    }
    CHECK(bad == 0, "sgd step: %zu of %zu params not at p - 0.01*g; first [%zu]: %.9g, expected %.9g", bad, n, first,
          (double)p1[first], (double)p0[first] - 0.01 * (double)g[first]);
    CHECK(moved > 0, "sgd step moved no parameter");
    free(p0);
    free(g);
}

/* Two Adam steps with Keras' defaults and rule:
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps). */
static void check_adam(struct hk_model *m, const struct fixture_section *params, const float *x, const int *labels)
{
    const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    struct hk_error err;
    struct hk_step_result res;
    size_t n = hk_model_param_count(m);
    set_params(m, params);
    struct hk_optim o = hk_optim_default(HK_OPTIM_ADAM);
    CHECK(o.lr == (float)lr && o.beta1 == (float)b1 && o.beta2 == (float)b2 && o.epsilon == (float)eps,
          "adam defaults: lr %g beta1 %g beta2 %g epsilon %g, expected Keras' 0.001 0.9 0.999 1e-7", (double)o.lr,
          (double)o.beta1, (double)o.beta2, (double)o.epsilon);
    CHECK(hk_model_compile(m, &o, HK_LOSS_BCE, &err) == HK_OK, "compile adam: %s", err.msg);
    double *mm = calloc(n, sizeof *mm), *vv = calloc(n, sizeof *vv);
    float *p0 = malloc(n * sizeof *p0);
    for (int t = 1; t <= 2; t++) {
        CHECK(hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK, "gradients: %s", err.msg);
        const float *g = hk_model_grads(m);
        memcpy(p0, hk_model_params(m), n * sizeof *p0);
        hk_model_update(m);
        const float *p1 = hk_model_params(m);
        double alpha = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
        size_t bad = 0, first = 0;
        double firstwant = 0;
        for (size_t i = 0; i < n; i++) {
            mm[i] = b1 * mm[i] + (1 - b1) * g[i];
            vv[i] = b2 * vv[i] + (1 - b2) * (double)g[i] * g[i];
            double want = p0[i] - alpha * mm[i] / (sqrt(vv[i]) + eps);
            /* float moments and float constants (1-0.9f differs from 0.1 by 2e-7 relative) */
            if (!(fabs(p1[i] - want) <= 2.0 * FLT_EPSILON * fabs(want) + 1e-9) && bad++ == 0) {
                first = i;
                firstwant = want;
            }
        }
        CHECK(bad == 0, "adam step %d: %zu of %zu params off the Keras rule; first [%zu]: %.9g, expected %.9g", t,
              bad, n, first, (double)p1[first], firstwant);
        CHECK(hk_model_optim_step(m) == (uint64_t)t, "adam: step count %llu, expected %d",
              (unsigned long long)hk_model_optim_step(m), t);
    }
    free(mm);
    free(vv);
    free(p0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fixtures/reference_convnet.txt\n", argv[0]);
        return 2;
    }
    if (!fixture_load(argv[1])) {
        CHECK(0, "cannot load the fixture %s", argv[1]);
        return check_summary();
    }
    struct hk_error err = {0};
    struct hk_model *m = build(&err);
    CHECK(m != NULL, "building the network: %s", err.msg);
    if (!m)
        return check_summary();
    size_t in_size = hk_shape_size(hk_model_input(m));
    const struct fixture_section *params = fixture_section("params", 0);
    const struct fixture_section *input = fixture_section("input", BATCH * in_size);
    const struct fixture_section *lab = fixture_section("labels", BATCH);
    if (params)
        CHECK(params->count == hk_model_param_count(m), "param count: husky %zu, fixture %zu",
              hk_model_param_count(m), params->count);
    if (!params || params->count != hk_model_param_count(m) || !input || !lab) {
        hk_model_free(m);
        return check_summary();
    }
    set_params(m, params);
    float *x = malloc(input->count * sizeof *x);
    for (size_t i = 0; i < input->count; i++)
        x[i] = (float)input->v[i];
    int labels[BATCH];
    for (int i = 0; i < BATCH; i++)
        labels[i] = lab->v[i] != 0;

    check_forward_and_gradients(m, x, labels);
    check_sgd(m, params, x, labels);
    check_adam(m, params, x, labels);

    free(x);
    hk_model_free(m);
    fixture_free();
    return check_summary();
}
