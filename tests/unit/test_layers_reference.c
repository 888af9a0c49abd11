/* test_layers_reference.c: a small MobileNet-style network (strided conv2d bias=no, batchnorm,
 * relu6, zeropad, depthwise with strides 2 and 1, 1x1 conv2d, a residual add, avgpool,
 * global_avgpool) with fixed weights, compared with PyTorch float64 reference values
 * (tests/fixtures/make_layers_reference.py documents the network, the weights, the Keras batchnorm
 * semantics and the format): layer outputs, loss and gradients in training mode; parameters and
 * moving statistics after 3 SGD and 3 Adam steps; inference-mode outputs and loss; gradients with
 * every batchnorm frozen.
 * Usage: test_layers_reference FIXTURE (tests/fixtures/reference_layers.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "model.h"

#define BATCH 4

static struct hk_model *build(const struct hk_optim *opt)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){.c = 3, .h = 16, .w = 16}, 1, &err);
    if (!m)
        return NULL;
    const struct hk_layer_spec bn = {.kind = HK_LAYER_BATCHNORM, .momentum = 0.9f, .epsilon = 0.001f};
    const struct hk_layer_spec relu6 = {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_RELU6};
    const struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1, .nobias = 1},
        bn,
        relu6,
        {.kind = HK_LAYER_ZEROPAD, .pad = {0, 1, 0, 1}},
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .nobias = 1},
        bn,
        relu6,
        {.kind = HK_LAYER_CONV2D, .units = 5, .kh = 1, .kw = 1, .nobias = 1},
        bn,
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1, .act = HK_ACT_RELU6},
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .same = 1, .nobias = 1},
        {.kind = HK_LAYER_ADD, .from = {"depthwise_conv2d_1"}},
        {.kind = HK_LAYER_AVGPOOL2D, .kh = 2, .kw = 2, .sh = 1, .sw = 1, .same = 1},
        {.kind = HK_LAYER_GLOBAL_AVGPOOL},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
        if (hk_model_insert(m, hk_model_count(m), &specs[i], NULL, &err) != HK_OK) {
            CHECK(0, "insert layer %zu: %s", i, err.msg);
            hk_model_free(m);
            return NULL;
        }
    if (hk_model_compile(m, opt, HK_LOSS_BCE, &err) != HK_OK) {
        CHECK(0, "compile: %s", err.msg);
        hk_model_free(m);
        return NULL;
    }
    return m;
}

static void set_values(float *dst, const struct fixture_section *src)
{
    for (size_t i = 0; i < src->count; i++)
        dst[i] = (float)src->v[i];
}

static struct hk_model *build_at(const struct hk_optim *opt, const char *params)
{
    struct hk_model *m = build(opt);
    const struct fixture_section *p = m ? fixture_section(params, hk_model_param_count(m)) : NULL;
    if (!p) {
        hk_model_free(m);
        return NULL;
    }
    set_values(hk_model_params(m), p);
    return m;
}

static void check_training_pass(const float *x, const int *labels)
{
    struct hk_optim sgd = hk_optim_default(HK_OPTIM_SGD);
    struct hk_model *m = build_at(&sgd, "params");
    if (!m)
        return;
    CHECK(hk_model_param_count(m) == 381 && hk_model_state_count(m) == 34, "381 parameters, 34 of state: %zu, %zu",
          hk_model_param_count(m), hk_model_state_count(m));
    struct hk_error err;
    struct hk_step_result res;
    CHECK(hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK, "gradients: %s", err.msg);
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        char name[32], what[96];
        snprintf(name, sizeof name, "layer %d", i);
        const struct fixture_section *ref = fixture_section(name, (size_t)BATCH * hk_shape_size(l->out));
        snprintf(what, sizeof what, "training: layer %d (%s) output after %s", i, l->name, hk_act_name(l->spec.act));
        if (ref)
            fixture_compare(what, l->y, ref->v, ref->count);
    }
    const struct fixture_section *loss = fixture_section("loss", 1);
    const struct fixture_section *grad = fixture_section("grad", hk_model_param_count(m));
    if (loss)
        CHECK(fixture_close(res.loss, loss->v[0]), "training loss: husky %.9g, reference %.9g", res.loss, loss->v[0]);
    if (grad) {
        fixture_compare("training: gradient d loss / d params", hk_model_grads(m), grad->v, grad->count);
        fixture_compare_scaled(m, hk_model_grads(m), grad->v);
    }
    hk_model_free(m);
}

/* Three steps of rule from params: parameters and moving statistics as the reference's. */
static struct hk_model *check_steps(const struct hk_optim *opt, const char *prefix, const float *x,
                                    const int *labels)
{
    struct hk_model *m = build_at(opt, "params");
    if (!m)
        return NULL;
    struct hk_error err;
    struct hk_step_result res;
    for (int s = 0; s < 3; s++)
        CHECK(hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) == HK_OK, "%s step: %s", prefix, err.msg);
    char name[32], what[64];
    snprintf(name, sizeof name, "%s_params", prefix);
    const struct fixture_section *p = fixture_section(name, hk_model_param_count(m));
    snprintf(what, sizeof what, "%s: parameters after 3 steps", prefix);
    if (p)
        fixture_compare(what, hk_model_params(m), p->v, p->count);
    snprintf(name, sizeof name, "%s_state", prefix);
    const struct fixture_section *st = fixture_section(name, hk_model_state_count(m));
    snprintf(what, sizeof what, "%s: moving means and variances after 3 steps", prefix);
    if (st)
        fixture_compare(what, hk_model_state(m), st->v, st->count);
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/fixtures/reference_layers.txt\n", argv[0]);
        return 2;
    }
    if (!fixture_load(argv[1])) {
        CHECK(0, "cannot load the fixture %s", argv[1]);
        return check_summary();
    }
    const struct fixture_section *input = fixture_section("input", BATCH * 3 * 16 * 16);
    const struct fixture_section *lab = fixture_section("labels", BATCH);
    if (!input || !lab)
        return check_summary();
    static float x[BATCH * 3 * 16 * 16];
    int labels[BATCH];
    set_values(x, input);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)lab->v[i];

    check_training_pass(x, labels);

    struct hk_optim sgd = hk_optim_default(HK_OPTIM_SGD), adam = hk_optim_default(HK_OPTIM_ADAM);
    sgd.lr = 0.1f;
    adam.lr = 0.01f;
    struct hk_model *m = check_steps(&sgd, "sgd", x, labels);
    if (m) {
        /* inference mode: the moving statistics */
        struct hk_error err;
        float probs[BATCH];
        struct hk_step_result res;
        const struct fixture_section *out = fixture_section("sgd_eval_output", BATCH);
        const struct fixture_section *loss = fixture_section("sgd_eval_loss", 1);
        CHECK(hk_model_predict(m, x, BATCH, BATCH, probs, &err) == HK_OK, "predict: %s", err.msg);
        if (out)
            fixture_compare("inference output after 3 SGD steps", probs, out->v, BATCH);
        CHECK(hk_model_evaluate(m, x, labels, BATCH, BATCH, &res, NULL, &err) == HK_OK, "evaluate: %s", err.msg);
        if (loss)
            CHECK(fixture_close(res.loss, loss->v[0]), "inference loss: husky %.9g, reference %.9g", res.loss,
                  loss->v[0]);
        /* frozen batchnorm layers normalise with the moving statistics in a training pass too */
        const struct fixture_section *st = fixture_section("sgd_state", hk_model_state_count(m));
        const struct fixture_section *p = fixture_section("sgd_params", hk_model_param_count(m));
        const struct fixture_section *fg = fixture_section("frozen_grad", hk_model_param_count(m));
        if (st && p && fg) {
            set_values(hk_model_params(m), p);
            set_values(hk_model_state(m), st);
            /* frozen layers get no gradient: the reference's gamma and beta gradients become 0 */
            double *want = malloc(fg->count * sizeof *want);
            memcpy(want, fg->v, fg->count * sizeof *want);
            for (int i = 0; i < hk_model_count(m); i++)
                if (hk_model_layer(m, i)->spec.kind == HK_LAYER_BATCHNORM) {
                    hk_model_set_frozen(m, i, i, 1);
                    const struct hk_layer *l = hk_model_layer(m, i);
                    size_t off = (size_t)(l->w - hk_model_params(m));
                    memset(want + off, 0, (l->wcount + l->bcount) * sizeof *want);
                }
            CHECK(hk_model_gradients(m, x, labels, NULL, BATCH, 0, &res, &err) == HK_OK, "gradients: %s", err.msg);
            fixture_compare("gradient with frozen batchnorm layers", hk_model_grads(m), want, fg->count);
            fixture_compare_scaled(m, hk_model_grads(m), want);
            free(want);
            size_t bad = 0;
            for (size_t i = 0; i < st->count; i++)
                bad += hk_model_state(m)[i] != (float)st->v[i];
            CHECK(bad == 0, "frozen batchnorm layers keep their moving statistics in a training pass (%zu moved)",
                  bad);
        }
        hk_model_free(m);
    }
    hk_model_free(check_steps(&adam, "adam", x, labels));
    fixture_free();
    return check_summary();
}
