/* test_input_gradient.c: hk_model_input_gradient against central differences of the inference
 * loss with respect to every input value, through models that together hold every layer kind
 * (dropout is the identity outside training), with both losses. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"

#define BATCH 3 /* more than HK_TEAM_PARTS: the batch is split over the compute team */

static int covered[HK_LAYER_KIND_COUNT];

static double loss_of(struct hk_model *m, const float *x, const int *labels, int margin)
{
    double loss = NAN;
    struct hk_error err;
    size_t in = hk_shape_size(hk_model_input(m));
    float *dx = malloc(BATCH * in * sizeof *dx);
    hk_model_input_gradient(m, x, labels, BATCH, margin, dx, NULL, &loss, &err);
    free(dx);
    return loss;
}

/* Build a model of specs on input `in`, compile it with loss, and compare its input gradient
 * with central differences at every input value. */
static void check_model(const char *what, struct hk_shape in, const struct hk_layer_spec *specs, int count,
                        enum hk_loss loss, int margin)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new(in, 11, &err);
    for (int i = 0; m && i < count; i++) {
        if (hk_model_insert(m, i, &specs[i], NULL, &err) != HK_OK) {
            CHECK(0, "%s: insert layer %d: %s", what, i, err.msg);
            hk_model_free(m);
            return;
        }
        covered[specs[i].kind] = 1;
    }
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    if (!m || hk_model_compile(m, &o, loss, &err) != HK_OK) {
        CHECK(0, "%s: compile: %s", what, m ? err.msg : "no model");
        hk_model_free(m);
        return;
    }
    size_t size = hk_shape_size(in), n = size * BATCH;
    int k = (int)hk_shape_size(hk_model_output(m));
    float *x = malloc(n * sizeof *x), *dx = malloc(n * sizeof *dx), *out = malloc((size_t)BATCH * k * sizeof *out);
    int labels[BATCH];
    for (int i = 0; i < BATCH; i++)
        labels[i] = i % 2 ? (k == 1 ? 1 : k - 1) : 0;
    struct hk_rng rng;
    hk_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++)
        x[i] = hk_rng_uniform(&rng, 0, 1);
    double loss0 = NAN;
    enum hk_status st = hk_model_input_gradient(m, x, labels, BATCH, margin, dx, out, &loss0, &err);
    CHECK(st == HK_OK, "%s: input gradient: %s", what, st == HK_OK ? "" : err.msg);
    double num2 = 0, ana2 = 0, diff2 = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        double h = 1e-3;
        x[i] = keep + (float)h;
        double up = loss_of(m, x, labels, margin);
        x[i] = keep - (float)h;
        double down = loss_of(m, x, labels, margin);
        x[i] = keep;
        double num = (up - down) / (2 * h), d = num - dx[i];
        num2 += num * num;
        ana2 += (double)dx[i] * dx[i];
        diff2 += d * d;
    }
    double rel = sqrt(diff2) / (sqrt(num2) + sqrt(ana2) + 1e-12);
    CHECK(rel < 2e-3 && ana2 > 0, "%s: relative input gradient error %.2e", what, rel);
    if (margin) {
        double want = 0; /* the margin from the outputs' logits, recomputed independently */
        for (int i = 0; i < BATCH; i++) {
            const float *o = out + (size_t)i * k;
            if (k == 1) {
                double z = log((double)o[0] / (1 - (double)o[0]));
                want += labels[i] ? -z : z;
            } else {
                double other = -INFINITY;
                for (int j = 0; j < k; j++)
                    if (j != labels[i] && log((double)o[j]) > other)
                        other = log((double)o[j]);
                want += other - log((double)o[labels[i]]);
            }
        }
        want /= BATCH;
        CHECK(fabs(want - loss0) < 1e-3 * (1 + fabs(want)), "%s: margin %.6f, from the outputs %.6f", what, loss0, want);
    }
    /* the outputs it reports are the inference outputs */
    float *probs = malloc((size_t)BATCH * k * sizeof *probs);
    hk_model_predict(m, x, BATCH, BATCH, probs, &err);
    CHECK(memcmp(probs, out, (size_t)BATCH * k * sizeof *out) == 0, "%s: outputs equal predict's", what);
    free(probs);
    free(x);
    free(dx);
    free(out);
    hk_model_free(m);
}

int main(void)
{
    struct hk_layer_spec a[] = {
        {.kind = HK_LAYER_CONV2D, .units = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.4f},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 4, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    check_model("conv2d, maxpool 2x2, dropout, flatten, dense, sigmoid (bce)", (struct hk_shape){3, 8, 7}, a, 6,
                HK_LOSS_BCE, 0);
    check_model("the same with the logit margin", (struct hk_shape){3, 8, 7}, a, 6, HK_LOSS_BCE, 1);
    struct hk_layer_spec b[] = {
        {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .same = 1},
        {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_SIGMOID},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 3, .act = HK_ACT_SOFTMAX},
    };
    check_model("conv2d same stride 2x1, activation, maxpool 3x3 same, softmax (cce)", (struct hk_shape){2, 7, 6}, b,
                5, HK_LOSS_CCE, 0);
    check_model("the same with the logit margin", (struct hk_shape){2, 7, 6}, b, 5, HK_LOSS_CCE, 1);
    struct hk_layer_spec c[] = {
        {.kind = HK_LAYER_DENSE, .units = 5, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    check_model("dense on a flat input", (struct hk_shape){6, 1, 1}, c, 2, HK_LOSS_BCE, 0);
    struct hk_layer_spec d[] = {
        {.kind = HK_LAYER_RESCALING, .scale = 2.5f, .offset = -1},
        {.kind = HK_LAYER_ZEROPAD, .pad = {1, 0, 2, 1}},
        {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .act = HK_ACT_RELU6},
        {.kind = HK_LAYER_BATCHNORM, .momentum = 0.9f, .epsilon = 0.001f},
        {.kind = HK_LAYER_AVGPOOL2D, .kh = 2, .kw = 2},
        {.kind = HK_LAYER_CONV2D, .units = 3, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .nobias = 1, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_GLOBAL_AVGPOOL},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    check_model("rescaling, zeropad, depthwise relu6, batchnorm (moving statistics), avgpool, conv2d 1x1, "
                "global_avgpool", (struct hk_shape){2, 7, 8}, d, 8, HK_LOSS_BCE, 0);
    struct hk_layer_spec e[] = {
        {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .same = 1, .act = HK_ACT_TANH,
         .name = "a"},
        {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .same = 1, .act = HK_ACT_TANH},
        {.kind = HK_LAYER_ADD, .from = {"a"}, .name = "sum"},
        {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .input = "a", .act = HK_ACT_SIGMOID},
        {.kind = HK_LAYER_ADD, .from = {"sum"}},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    check_model("a graph: residual adds, a tensor read by three layers", (struct hk_shape){2, 5, 6}, e, 7, HK_LOSS_BCE,
                0);
    for (int kind = 0; kind < HK_LAYER_KIND_COUNT; kind++)
        CHECK(covered[kind], "layer kind %s has an input gradient check",
              hk_layer_ops_of((enum hk_layer_kind)kind)->word);
    return check_summary();
}
