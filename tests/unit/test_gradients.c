/* test_gradients.c: numerical gradient checks (central differences) for every layer kind,
 * activation and loss, through whole small models so that input gradients are checked too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"

#define BATCH 3

struct net {
    struct hk_model *m;
    float *x;
    int labels[BATCH];
};

static struct hk_layer_spec conv(int f, int k, int stride, int same, enum hk_act act)
{
    return (struct hk_layer_spec){.kind = HK_LAYER_CONV2D, .units = f, .kh = k, .kw = k, .sh = stride,
                                  .sw = stride, .same = same, .act = act};
}

static struct hk_layer_spec simple(enum hk_layer_kind kind)
{
    return (struct hk_layer_spec){.kind = kind};
}

static struct hk_layer_spec named(struct hk_layer_spec s, const char *name, const char *input, const char *from0,
                                  const char *from1)
{
    snprintf(s.name, sizeof s.name, "%s", name ? name : "");
    snprintf(s.input, sizeof s.input, "%s", input ? input : "");
    snprintf(s.from[0], sizeof s.from[0], "%s", from0 ? from0 : "");
    snprintf(s.from[1], sizeof s.from[1], "%s", from1 ? from1 : "");
    return s;
}

/* The graph of the frozen tests and the residual check: a feeds b, the first add and c; the
 * second add reads c and the first add. */
static int graph_specs(struct hk_layer_spec *g)
{
    g[0] = named(conv(3, 3, 1, 1, HK_ACT_TANH), "a", NULL, NULL, NULL);
    g[1] = named(conv(3, 3, 1, 1, HK_ACT_RELU), "b", NULL, NULL, NULL);
    g[2] = named(simple(HK_LAYER_ADD), "sum1", NULL, "a", NULL);
    g[3] = named(conv(3, 1, 1, 0, HK_ACT_SIGMOID), "c", "a", NULL, NULL);
    g[4] = named(simple(HK_LAYER_ADD), "sum2", NULL, "c", "sum1");
    return 5;
}

static struct hk_layer_spec dense(int units, enum hk_act act)
{
    return (struct hk_layer_spec){.kind = HK_LAYER_DENSE, .units = units, .act = act};
}

/* Build input -> conv 1x1 (so the tested layer's input gradient matters) -> specs -> head. */
static int build(struct net *n, struct hk_shape in, const struct hk_layer_spec *specs, int count, int classes)
{
    struct hk_error err;
    n->m = hk_model_new(in, 7, &err);
    if (!n->m)
        return 0;
    struct hk_layer_spec first = conv(in.c, 1, 1, 0, HK_ACT_TANH);
    if (hk_model_insert(n->m, 0, &first, NULL, &err) != HK_OK)
        return 0;
    for (int i = 0; i < count; i++)
        if (hk_model_insert(n->m, hk_model_count(n->m), &specs[i], NULL, &err) != HK_OK) {
            fprintf(stderr, "insert: %s\n", err.msg);
            return 0;
        }
    if (hk_model_output(n->m).h != 1 || hk_model_output(n->m).w != 1) {
        struct hk_layer_spec f = simple(HK_LAYER_FLATTEN);
        hk_model_insert(n->m, hk_model_count(n->m), &f, NULL, &err);
    }
    struct hk_layer_spec head = dense(classes == 2 ? 1 : classes, classes == 2 ? HK_ACT_SIGMOID : HK_ACT_SOFTMAX);
    if (hk_model_insert(n->m, hk_model_count(n->m), &head, NULL, &err) != HK_OK)
        return 0;
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    if (hk_model_compile(n->m, &o, classes == 2 ? HK_LOSS_BCE : HK_LOSS_CCE, &err) != HK_OK)
        return 0;
    size_t size = hk_shape_size(in) * BATCH;
    n->x = malloc(size * sizeof *n->x);
    struct hk_rng rng;
    hk_rng_seed(&rng, 99);
    for (size_t i = 0; i < size; i++)
        n->x[i] = hk_rng_uniform(&rng, -1, 1);
    for (int i = 0; i < BATCH; i++)
        n->labels[i] = i % classes;
    return 1;
}

static double loss_at(struct net *n)
{
    struct hk_step_result r;
    struct hk_error err;
    hk_model_gradients(n->m, n->x, n->labels, NULL, BATCH, 0, &r, &err);
    return r.loss;
}

/* 1 when parameter i belongs to a frozen layer. */
static int frozen_param(struct hk_model *m, size_t i)
{
    const float *params = hk_model_params(m);
    for (int k = 0; k < hk_model_count(m); k++) {
        const struct hk_layer *l = hk_model_layer(m, k);
        size_t off = (size_t)(l->w - params);
        if (i >= off && i < off + l->wcount + l->bcount)
            return l->frozen;
    }
    return 0;
}

/* Compare the analytic gradient with central differences on every parameter (or a stride of
 * them for large layers). */
static void check_net(const char *what, struct net *n)
{
    size_t np = hk_model_param_count(n->m);
    float *params = hk_model_params(n->m);
    float *analytic = malloc(np * sizeof *analytic);
    loss_at(n);
    memcpy(analytic, hk_model_grads(n->m), np * sizeof *analytic);
    double num2 = 0, diff2 = 0, ana2 = 0, worst = 0;
    size_t stride = np > 400 ? np / 400 : 1, worst_at = 0;
    for (size_t i = 0; i < np; i += stride) {
        if (frozen_param(n->m, i)) /* no gradient by design; the layers below it check its dx */
            continue;
        float keep = params[i];
        double h = 1e-3;
        params[i] = keep + (float)h;
        double up = loss_at(n);
        params[i] = keep - (float)h;
        double down = loss_at(n);
        params[i] = keep;
        double num = (up - down) / (2 * h);
        double d = fabs(num - analytic[i]);
        num2 += num * num;
        ana2 += (double)analytic[i] * analytic[i];
        diff2 += d * d;
        if (d > worst) {
            worst = d;
            worst_at = i;
        }
    }
    double rel = sqrt(diff2) / (sqrt(num2) + sqrt(ana2) + 1e-12);
    CHECK(rel < 2e-3 && ana2 > 0, "%s: relative gradient error %.2e (worst %.2e at param %zu)", what, rel, worst,
          worst_at);
    free(analytic);
    free(n->x);
    hk_model_free(n->m);
}

static void check_specs(const char *what, struct hk_shape in, const struct hk_layer_spec *specs, int count,
                        int classes)
{
    struct net n = {0};
    if (!build(&n, in, specs, count, classes)) {
        CHECK(0, "%s: could not build the model", what);
        return;
    }
    check_net(what, &n);
}

/* Frozen layers: their gradient is zero, everyone else's is bit for bit the one of the unfrozen
 * model, and an update leaves their weights unchanged. frozen_from..frozen_to are model indices. */
static void check_frozen(const char *what, int frozen_from, int frozen_to)
{
    struct hk_shape img = {2, 6, 5};
    struct hk_layer_spec g[8];
    int count = graph_specs(g);
    struct net a = {0}, b = {0};
    if (!build(&a, img, g, count, 2) || !build(&b, img, g, count, 2)) {
        CHECK(0, "%s: could not build the models", what);
        return;
    }
    hk_model_set_frozen(b.m, frozen_from, frozen_to, 1);
    loss_at(&a);
    loss_at(&b);
    const float *ga = hk_model_grads(a.m), *gb = hk_model_grads(b.m);
    const float *params = hk_model_params(b.m);
    int same = 1, zero = 1;
    for (int i = 0; i < hk_model_count(b.m); i++) {
        const struct hk_layer *l = hk_model_layer(b.m, i);
        size_t off = (size_t)(l->w - params), cnt = l->wcount + l->bcount;
        for (size_t j = off; j < off + cnt; j++) {
            if (l->frozen)
                zero &= gb[j] == 0.0f;
            else
                same &= memcmp(&ga[j], &gb[j], sizeof *ga) == 0;
        }
    }
    CHECK(zero, "%s: frozen layers have zero gradients", what);
    CHECK(same, "%s: the other layers' gradients are those of the unfrozen model, bit for bit", what);
    size_t np = hk_model_param_count(b.m);
    float *before = malloc(np * sizeof *before);
    memcpy(before, params, np * sizeof *before);
    struct hk_optim adam = hk_optim_default(HK_OPTIM_ADAM);
    struct hk_error err;
    hk_model_compile(b.m, &adam, HK_LOSS_BCE, &err);
    struct hk_step_result r;
    for (int step = 0; step < 3; step++)
        hk_model_train_step(b.m, b.x, b.labels, NULL, BATCH, &r, &err);
    int kept = 1, moved = 0;
    for (int i = 0; i < hk_model_count(b.m); i++) {
        const struct hk_layer *l = hk_model_layer(b.m, i);
        size_t off = (size_t)(l->w - params), cnt = l->wcount + l->bcount;
        for (size_t j = off; j < off + cnt; j++) {
            if (l->frozen)
                kept &= memcmp(&before[j], &params[j], sizeof *params) == 0;
            else
                moved |= before[j] != params[j];
        }
    }
    CHECK(kept && moved, "%s: adam keeps frozen weights bit for bit and moves the others", what);
    size_t t, nt;
    hk_model_param_split(b.m, &t, &nt);
    CHECK(t + nt == np && nt > 0, "%s: %zu trainable + %zu non-trainable = %zu", what, t, nt, np);
    free(before);
    free(a.x);
    free(b.x);
    hk_model_free(a.m);
    hk_model_free(b.m);
}

static struct hk_layer_spec depthwise(int k, int stride, int same, int nobias)
{
    return (struct hk_layer_spec){.kind = HK_LAYER_DEPTHWISE, .kh = k, .kw = k, .sh = stride, .sw = stride,
                                  .same = same, .nobias = nobias};
}

static struct hk_layer_spec batchnorm(void)
{
    return (struct hk_layer_spec){.kind = HK_LAYER_BATCHNORM, .momentum = 0.9f, .epsilon = 0.001f};
}

/* Batchnorm right after the first (1x1) layer, frozen: it normalises with moving statistics
 * (set to something other than 0 and 1 first). */
static void check_frozen_batchnorm(struct hk_shape img)
{
    struct hk_layer_spec s[] = {batchnorm(), conv(2, 3, 1, 0, HK_ACT_TANH)};
    struct net n = {0};
    if (!build(&n, img, s, 2, 2)) {
        CHECK(0, "frozen batchnorm: could not build the model");
        return;
    }
    struct hk_layer *bn = (struct hk_layer *)hk_model_layer(n.m, 1);
    bn->frozen = 1;
    for (int q = 0; q < img.c; q++) {
        bn->state[q] = 0.1f * (float)(q + 1);
        bn->state[img.c + q] = 0.5f + 0.25f * (float)q;
        bn->w[q] = 1.5f - 0.5f * (float)q;
        bn->b[q] = 0.2f;
    }
    check_net("batchnorm frozen (moving statistics)", &n);
}

/* depthwise, batchnorm, zeropad, avgpool, global_avgpool, relu6, conv2d bias=no and 1x1. */
static void check_modern_layers(struct hk_shape img)
{
    struct hk_layer_spec dw1[] = {depthwise(3, 1, 1, 0)};
    check_specs("depthwise 3x3 same", img, dw1, 1, 2);
    struct hk_layer_spec dw2[] = {depthwise(3, 2, 1, 0)};
    check_specs("depthwise 3x3 stride 2 same", img, dw2, 1, 2);
    struct hk_layer_spec dw3[] = {depthwise(3, 2, 0, 1)};
    check_specs("depthwise 3x3 stride 2 valid bias=no", (struct hk_shape){3, 8, 7}, dw3, 1, 2);
    check_specs("depthwise 3x3 stride 2 same, 7 output columns", (struct hk_shape){2, 6, 13}, dw2, 1, 2);
    struct hk_layer_spec dw5[] = {depthwise(5, 1, 1, 0)};
    check_specs("depthwise 5x5 same", img, dw5, 1, 2);
    struct hk_layer_spec dw4[] = {{.kind = HK_LAYER_DEPTHWISE, .kh = 2, .kw = 3, .sh = 1, .sw = 2, .same = 1}};
    check_specs("depthwise 2x3 strides 1x2 same", img, dw4, 1, 2);
    struct hk_layer_spec bn1[] = {batchnorm()};
    check_specs("batchnorm (batch statistics)", img, bn1, 1, 2);
    check_specs("batchnorm on planes over 256 values (channel by channel)", (struct hk_shape){2, 17, 16}, bn1, 1, 2);
    struct hk_layer_spec bn2[] = {conv(3, 3, 1, 1, HK_ACT_LINEAR), batchnorm(), simple(HK_LAYER_FLATTEN),
                                  dense(3, HK_ACT_RELU6)};
    check_specs("conv2d + batchnorm + dense relu6, 3 classes", img, bn2, 4, 3);
    check_frozen_batchnorm(img);
    struct hk_layer_spec z1[] = {{.kind = HK_LAYER_ZEROPAD, .pad = {1, 0, 2, 1}}, depthwise(3, 2, 0, 0)};
    check_specs("zeropad 1,0,2,1 + depthwise stride 2 valid", img, z1, 2, 2);
    struct hk_layer_spec s1[] = {{.kind = HK_LAYER_RESCALING, .scale = -1.5f, .offset = 0.25f},
                                 conv(3, 3, 1, 0, HK_ACT_TANH)};
    check_specs("rescaling -1.5 offset 0.25 + conv2d tanh", img, s1, 2, 2);
    struct hk_layer_spec a1[] = {{.kind = HK_LAYER_AVGPOOL2D, .kh = 2, .kw = 2}};
    check_specs("avgpool 2x2", img, a1, 1, 2);
    struct hk_layer_spec a2[] = {{.kind = HK_LAYER_AVGPOOL2D, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1}};
    check_specs("avgpool 3x3 stride 2 same", img, a2, 1, 2);
    struct hk_layer_spec g1[] = {conv(4, 3, 1, 1, HK_ACT_TANH), simple(HK_LAYER_GLOBAL_AVGPOOL)};
    check_specs("conv2d tanh + global_avgpool", img, g1, 2, 2);
    struct hk_layer_spec r1[] = {conv(3, 3, 1, 0, HK_ACT_LINEAR), {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_RELU6}};
    check_specs("activation layer relu6", img, r1, 2, 2);
    struct hk_layer_spec nb[] = {{.kind = HK_LAYER_CONV2D, .units = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1,
                                  .nobias = 1}};
    check_specs("conv2d 3x3 stride 2 same bias=no", (struct hk_shape){2, 8, 6}, nb, 1, 2);
    struct hk_layer_spec pw[] = {{.kind = HK_LAYER_CONV2D, .units = 5, .kh = 1, .kw = 1, .nobias = 1},
                                 {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 1, .kw = 1, .sh = 2, .sw = 2}};
    check_specs("conv2d 1x1 bias=no (one sgemm) and 1x1 stride 2", img, pw, 2, 2);

    /* relu6 caps at 6 and passes the gradient only inside (0, 6) */
    float v[4] = {-1.0f, 3.0f, 6.5f, 6.0f}, d[4] = {1, 1, 1, 1};
    hk_act_forward(HK_ACT_RELU6, v, 1, 4);
    hk_act_backward(HK_ACT_RELU6, v, d, 1, 4);
    CHECK(v[0] == 0 && v[1] == 3 && v[2] == 6 && v[3] == 6, "relu6 forward %g %g %g %g", v[0], v[1], v[2], v[3]);
    CHECK(d[0] == 0 && d[1] == 1 && d[2] == 0 && d[3] == 0, "relu6 backward %g %g %g %g", d[0], d[1], d[2], d[3]);
}

int main(void)
{
    struct hk_shape img = {2, 7, 6};
    struct hk_layer_spec c1[] = {conv(3, 3, 1, 0, HK_ACT_LINEAR)};
    check_specs("conv2d valid", img, c1, 1, 2);
    struct hk_layer_spec c2[] = {conv(3, 3, 2, 1, HK_ACT_LINEAR)};
    check_specs("conv2d same stride 2", img, c2, 1, 2);
    struct hk_layer_spec c3[] = {{.kind = HK_LAYER_CONV2D, .units = 2, .kh = 2, .kw = 3, .sh = 1, .sw = 2, .same = 1}};
    check_specs("conv2d 2x3 same, strides 1x2", img, c3, 1, 2);
    struct hk_layer_spec p1[] = {conv(3, 3, 1, 1, HK_ACT_LINEAR),
                                 {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2}};
    check_specs("maxpool 2x2", img, p1, 2, 2);
    struct hk_layer_spec p3[] = {{.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2}};
    check_specs("maxpool 2x2 on odd sides", (struct hk_shape){2, 5, 7}, p3, 1, 2);
    struct hk_layer_spec p2[] = {{.kind = HK_LAYER_MAXPOOL2D, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = 1}};
    check_specs("maxpool 3x3 stride 2 same", img, p2, 1, 2);
    struct hk_layer_spec d1[] = {{.kind = HK_LAYER_DROPOUT, .rate = 0.4f}};
    check_specs("dropout 0.4 (training mask)", img, d1, 1, 2);
    struct hk_layer_spec f1[] = {simple(HK_LAYER_FLATTEN), dense(5, HK_ACT_LINEAR)};
    check_specs("flatten + dense", img, f1, 2, 2);
    const enum hk_act acts[] = {HK_ACT_RELU, HK_ACT_SIGMOID, HK_ACT_TANH, HK_ACT_SOFTMAX, HK_ACT_LINEAR};
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        char what[64];
        struct hk_layer_spec s[] = {simple(HK_LAYER_FLATTEN), dense(4, acts[a])};
        snprintf(what, sizeof what, "dense activation=%s", hk_act_name(acts[a]));
        check_specs(what, img, s, 2, 2);
        struct hk_layer_spec t[] = {conv(2, 3, 1, 0, HK_ACT_LINEAR),
                                    {.kind = HK_LAYER_ACTIVATION, .act = acts[a] == HK_ACT_SOFTMAX ? HK_ACT_TANH
                                                                                                  : acts[a]}};
        snprintf(what, sizeof what, "activation layer %s", hk_act_name(t[1].act));
        check_specs(what, img, t, 2, 2);
    }
    struct hk_layer_spec cc[] = {simple(HK_LAYER_FLATTEN), dense(6, HK_ACT_RELU)};
    check_specs("categorical cross-entropy, 3 classes", img, cc, 2, 3);
    struct hk_layer_spec l2[] = {{.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 3, .l2 = 0.01f}};
    check_specs("conv2d with l2=0.01", img, l2, 1, 2);
    check_modern_layers(img);

    /* a graph: a tensor feeding three consumers (two convs and an add) sums their gradients */
    struct hk_layer_spec g[8];
    int gn = graph_specs(g);
    check_specs("graph: residual adds, a tensor with three consumers", img, g, gn, 2);
    struct hk_layer_spec twice[] = {named(conv(2, 3, 1, 1, HK_ACT_TANH), "t", NULL, NULL, NULL),
                                    named(simple(HK_LAYER_ADD), NULL, NULL, "t", "t")};
    check_specs("graph: add from=t,t", img, twice, 2, 2);
    /* model indices: 0 the 1x1 stem of build(), 1 a, 2 b, 3 sum1, 4 c, 5 sum2, 6 flatten, 7 dense */
    check_frozen("frozen base (stem..a)", 0, 1);
    check_frozen("frozen middle (b)", 2, 2);
    check_frozen("frozen c and the head", 4, 7);

    /* binary cross-entropy stays finite and exact for large logits */
    float z[4] = {100.0f, -100.0f, 30.0f, 0.0f}, dz[4];
    int y[4] = {0, 1, 1, 1};
    double l = hk_loss_eval(HK_LOSS_BCE, z, y, NULL, 4, 1, dz);
    double want = (100.0 + 100.0 + log1p(exp(-30.0)) + log(2.0)) / 4;
    CHECK(fabs(l - want) < 1e-9, "bce of large logits: %.10f, want %.10f", l, want);
    CHECK(fabs(dz[0] - 0.25f) < 1e-6 && fabs(dz[1] + 0.25f) < 1e-6, "bce gradient saturates to +-1/n");
    return check_summary();
}
