/* test_transfer.c: the transfer-learning workflow in the core. model cut keeps the kept layers'
 * weights, state and freezing bit for bit (and compile after a new head keeps them too); a new
 * input size keeps every convolution's weights; the cache point of a frozen base is where the
 * issue says; a pass started after it from cached features gives exactly the gradients of the
 * whole model; and a training run with the feature cache equals the same run without it (same
 * seed) up to float rounding, for the weights and every epoch's figures.
 * usage: test_transfer STRIPES_TRAIN_FOLDER */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feature_cache.h"
#include "infer.h"
#include "metrics.h"
#include "model.h"
#include "train.h"

static struct hk_layer_spec spec(enum hk_layer_kind kind, int units, int k, enum hk_act act, const char *name)
{
    struct hk_layer_spec s = {.kind = kind, .units = units, .kh = k, .kw = k, .same = 1, .act = act};
    if (kind == HK_LAYER_DROPOUT)
        s.rate = 0.3f;
    if (kind == HK_LAYER_BATCHNORM)
        s.momentum = HK_BATCHNORM_MOMENTUM;
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

/* stem conv, bn, branch conv, add(stem) = the base (layers 0..3); head conv, global average,
 * dropout, dense sigmoid. */
static struct hk_model *base_model(int side)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, side, side}, 11, &err);
    struct hk_layer_spec s[8] = {
        spec(HK_LAYER_CONV2D, 6, 3, HK_ACT_RELU, "stem"),
        spec(HK_LAYER_BATCHNORM, 0, 0, HK_ACT_LINEAR, "bn"),
        spec(HK_LAYER_CONV2D, 6, 3, HK_ACT_RELU, "branch"),
        spec(HK_LAYER_ADD, 0, 0, HK_ACT_LINEAR, "res"),
        spec(HK_LAYER_CONV2D, 4, 1, HK_ACT_RELU, "head"),
        spec(HK_LAYER_GLOBAL_AVGPOOL, 0, 0, HK_ACT_LINEAR, "gap"),
        spec(HK_LAYER_DROPOUT, 0, 0, HK_ACT_LINEAR, "drop"),
        spec(HK_LAYER_DENSE, 1, 0, HK_ACT_SIGMOID, "out"),
    };
    snprintf(s[3].from[0], sizeof s[3].from[0], "bn");
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    opt.lr = 0.01f;
    for (int i = 0; m && i < 8; i++)
        if (hk_model_insert(m, i, &s[i], NULL, &err) != HK_OK) {
            fprintf(stderr, "cannot build the model: %s\n", err.msg);
            exit(2);
        }
    if (!m || hk_model_compile(m, &opt, HK_LOSS_BCE, &err) != HK_OK) {
        fprintf(stderr, "cannot compile: %s\n", err.msg);
        exit(2);
    }
    /* moving statistics that are not the identity, so that a frozen bn does something */
    float *st = hk_model_state(m);
    for (size_t i = 0; i < hk_model_state_count(m); i++)
        st[i] = 0.1f + 0.05f * (float)(i % 7);
    return m;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void test_cut(void)
{
    struct hk_error err;
    struct hk_model *m = base_model(8);
    hk_model_set_frozen(m, 0, 1, 1);
    size_t keep = 0, keep_state = hk_model_state_count(m);
    for (int i = 0; i <= 3; i++)
        keep += hk_model_layer(m, i)->wcount + hk_model_layer(m, i)->bcount;
    float *before = malloc(keep * sizeof *before), *state = malloc(keep_state * sizeof *state);
    memcpy(before, hk_model_params(m), keep * sizeof *before);
    memcpy(state, hk_model_state(m), keep_state * sizeof *state);
    CHECK(hk_model_cut(m, 8, NULL, &err) == HK_EINVAL && strstr(err.msg, "no layer at position 8"), "%s", err.msg);
    CHECK(hk_model_cut(m, -1, NULL, &err) == HK_EINVAL, "cut before the first layer refused");
    struct hk_model_change chg;
    CHECK(hk_model_cut(m, hk_model_find(m, "res"), &chg, &err) == HK_OK, "%s", err.msg);
    CHECK(hk_model_count(m) == 4 && !chg.reinitialised[0], "4 layers kept, none re-initialised");
    CHECK(hk_model_layer(m, 0)->frozen && hk_model_layer(m, 1)->frozen && !hk_model_layer(m, 2)->frozen,
          "freezing kept");
    CHECK(hk_model_check_compiled(m, &err) != HK_OK && strstr(err.msg, "compile again"), "%s", err.msg);
    CHECK(same_floats(hk_model_params(m), before, keep), "kept weights bit for bit after the cut");
    CHECK(same_floats(hk_model_state(m), state, keep_state), "kept moving statistics bit for bit");
    struct hk_layer_spec gap = spec(HK_LAYER_GLOBAL_AVGPOOL, 0, 0, HK_ACT_LINEAR, "");
    struct hk_layer_spec out = spec(HK_LAYER_DENSE, 1, 0, HK_ACT_SIGMOID, "");
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    CHECK(hk_model_insert(m, 4, &gap, NULL, &err) == HK_OK && hk_model_insert(m, 5, &out, NULL, &err) == HK_OK &&
              hk_model_compile(m, &opt, HK_LOSS_BCE, &err) == HK_OK,
          "%s", err.msg);
    CHECK(strcmp(hk_model_layer(m, 5)->name, "dense") == 0, "new head named %s", hk_model_layer(m, 5)->name);
    CHECK(same_floats(hk_model_params(m), before, keep), "a new head and compile keep the weights bit for bit");
    CHECK(same_floats(hk_model_state(m), state, keep_state), "and the moving statistics");

    /* a new input size: every convolution keeps its weights; a dense after a flatten cannot */
    CHECK(hk_model_set_input(m, (struct hk_shape){3, 12, 12}, &chg, &err) == HK_OK && !chg.reinitialised[0], "%s",
          err.msg);
    CHECK(hk_model_input(m).h == 12 && hk_model_layer(m, 3)->out.h == 12, "shapes inferred again");
    CHECK(same_floats(hk_model_params(m), before, keep), "a new input size keeps the weights");
    CHECK(hk_model_set_input(m, (struct hk_shape){3, 0, 12}, &chg, &err) == HK_EINVAL, "a zero side refused");
    struct hk_layer_spec flat = spec(HK_LAYER_FLATTEN, 0, 0, HK_ACT_LINEAR, "");
    struct hk_layer_spec d2 = spec(HK_LAYER_DENSE, 1, 0, HK_ACT_SIGMOID, "d2");
    CHECK(hk_model_remove(m, 5, NULL, &err) == HK_OK && hk_model_remove(m, 4, NULL, &err) == HK_OK &&
              hk_model_insert(m, 4, &flat, NULL, &err) == HK_OK && hk_model_insert(m, 5, &d2, NULL, &err) == HK_OK,
          "%s", err.msg);
    CHECK(hk_model_set_input(m, (struct hk_shape){3, 8, 8}, &chg, &err) == HK_OK &&
              strcmp(chg.reinitialised, "d2") == 0,
          "the dense after a flatten is re-initialised: '%s'", chg.reinitialised);
    free(before);
    free(state);
    hk_model_free(m);
}

static void test_cache_point(void)
{
    struct hk_model *m = base_model(8);
    CHECK(hk_model_cache_point(m) == -1, "nothing frozen: no cache point");
    hk_model_set_frozen(m, 0, 1, 1);
    CHECK(hk_model_cache_point(m) == 1, "stem..bn frozen: after bn (%d)", hk_model_cache_point(m));
    hk_model_set_frozen(m, 0, 2, 1);
    /* res reads bn, so the point cannot be branch; res itself has no weights: it is the point */
    CHECK(hk_model_cache_point(m) == 3, "stem..branch frozen: res (%d)", hk_model_cache_point(m));
    hk_model_set_frozen(m, 4, 4, 1);
    CHECK(hk_model_cache_point(m) == 5, "head frozen too: up to the global average, not the dropout (%d)",
          hk_model_cache_point(m));
    hk_model_set_frozen(m, 0, 0, 0);
    CHECK(hk_model_cache_point(m) == -1, "stem trainable: none (%d)", hk_model_cache_point(m));
    hk_model_free(m);
}

/* A batch from cached features gives the whole model's loss and gradients exactly. */
static void test_gradients_from(const struct hk_dataset *ds)
{
    struct hk_error err;
    struct hk_model *m = base_model(8);
    hk_model_set_frozen(m, 0, 2, 1);
    int point = hk_model_cache_point(m), n = 6, labels[6];
    size_t in = hk_shape_size(hk_model_input(m)), np = hk_model_param_count(m);
    float *x = malloc((size_t)n * in * sizeof *x), *g = malloc(np * sizeof *g);
    for (int i = 0; i < n; i++) {
        labels[i] = ds->labels[i * 7];
        for (size_t j = 0; j < in; j++)
            x[(size_t)i * in + j] = (float)((i * 31 + (int)j * 7) % 17) / 17.0f;
    }
    struct hk_feature_cache *fc;
    size_t need;
    uint32_t idx[6] = {5, 0, 3, 1, 4, 2};
    CHECK(hk_fcache_new(m, 6, n, 1u << 20, &fc, &need, &err) == HK_OK && fc && hk_fcache_point(fc) == point,
          "cache made");
    CHECK(hk_fcache_get(fc, idx, n) == NULL, "nothing cached yet");
    struct hk_step_result r1, r2;
    CHECK(hk_model_gradients(m, x, labels, NULL, n, 0, &r1, &err) == HK_OK, "%s", err.msg);
    hk_fcache_put(fc, m, idx, n);
    memcpy(g, hk_model_grads(m), np * sizeof *g);
    const float *feat = hk_fcache_get(fc, idx, n);
    CHECK(feat != NULL, "all cached");
    CHECK(hk_model_gradients_from(m, point + 1, feat, labels, NULL, n, 0, &r2, &err) == HK_OK, "%s", err.msg);
    CHECK(r1.loss == r2.loss && r1.correct == r2.correct, "same loss %.9g %.9g", r1.loss, r2.loss);
    CHECK(same_floats(g, hk_model_grads(m), np), "same gradients bit for bit");
    CHECK(hk_model_gradients_from(m, point, feat, labels, NULL, n, 0, &r2, &err) == HK_EINVAL,
          "a start before the point's reader refused: %s", err.msg);
    hk_fcache_free(fc);
    CHECK(hk_fcache_new(m, 6, n, 100, &fc, &need, &err) == HK_OK && !fc && need > 100,
          "over budget: no cache, the need said (%zu)", need);
    free(x);
    free(g);
    hk_model_free(m);
}

struct run_result {
    float *params;
    double figures[8][4];
};

/* Train the frozen-base model on ds (also its validation set) in runs of epochs[0], epochs[1], ...
 * (0-terminated) through one run struct and one history, as the shell does; *reused receives 1
 * when every later run found the training features of the one before it still in the run. */
static void train(const struct hk_dataset *ds, int no_cache, const int *epochs, struct run_result *res, int *reused)
{
    struct hk_error err;
    struct hk_model *m = base_model(8);
    hk_model_set_frozen(m, 0, 2, 1);
    struct hk_worker *w = hk_worker_new(&err);
    struct hk_history *h = hk_history_new();
    struct hk_train_run *run = calloc(1, sizeof *run);
    *reused = 1;
    for (int k = 0; epochs[k]; k++) {
        struct hk_feature_cache *before = run->cache[0];
        struct hk_train_setup s = {.model = m, .train = ds, .val = ds, .history = h, .worker = w};
        s.config = (struct hk_train_config){.epochs = epochs[k], .batch = 8, .seed = 4, .rescale = 1.0f / 255.0f,
                                            .augment = hk_augment_default(), .until = HK_METRIC_COUNT,
                                            .no_cache = no_cache};
        for (int c = 0; c < HK_TRAIN_MAX_CLASSES; c++)
            s.config.class_weight[c] = 1.0f + c;
        CHECK(hk_train_start(run, &s, &err) == HK_OK, "%s", err.msg);
        hk_worker_wait(w);
        CHECK(run->status == HK_OK, "run %s", run->err.msg);
        if (k > 0 && (!before || run->cache[0] != before))
            *reused = 0;
    }
    size_t n;
    struct hk_epoch_record *r = hk_history_epochs(h, &n);
    for (size_t e = 0; e < n && e < 8; e++) {
        res->figures[e][0] = r[e].v[HK_METRIC_LOSS];
        res->figures[e][1] = r[e].v[HK_METRIC_ACCURACY];
        res->figures[e][2] = r[e].v[HK_METRIC_VAL_LOSS];
        res->figures[e][3] = r[e].v[HK_METRIC_VAL_ACCURACY];
    }
    free(r);
    res->params = malloc(hk_model_param_count(m) * sizeof *res->params);
    memcpy(res->params, hk_model_params(m), hk_model_param_count(m) * sizeof *res->params);
    if (!no_cache) { /* evaluate from the run's validation features, and without them */
        double with, without;
        float *pa = malloc(ds->count * sizeof *pa), *pb = malloc(ds->count * sizeof *pb);
        CHECK(run->cache[1] && hk_fcache_get_key(run->cache[1]) == hk_fcache_key(m, ds, 1.0f / 255.0f),
              "the run keeps its validation features under the current key");
        CHECK(hk_infer_evaluate_with(w, m, ds, 1.0f / 255.0f, 8, run->cache[1], &with, NULL, pa, &err) == HK_OK &&
                  hk_infer_evaluate(w, m, ds, 1.0f / 255.0f, 8, &without, NULL, pb, &err) == HK_OK,
              "%s", err.msg);
        double worst = 0;
        for (size_t i = 0; i < ds->count; i++)
            worst = fmax(worst, fabs((double)pa[i] - pb[i]));
        CHECK(fabs(with - without) < 1e-6 && worst < 1e-6, "evaluate from the cache: loss %.9g and %.9g, outputs "
              "within %.3g", with, without, worst);
        free(pa);
        free(pb);
    }
    hk_train_run_release(run);
    free(run);
    hk_history_free(h);
    hk_worker_free(w);
    hk_model_free(m);
}

static void compare(const struct run_result *a, const struct run_result *b, int epochs, const char *what)
{
    struct hk_model *m = base_model(8);
    size_t np = hk_model_param_count(m);
    hk_model_free(m);
    double worst = 0;
    for (size_t i = 0; i < np; i++)
        worst = fmax(worst, fabs((double)a->params[i] - b->params[i]));
    CHECK(worst <= 1e-5, "%s: the same weights at the end (largest difference %.3g)", what, worst);
    worst = 0;
    for (int e = 0; e < epochs; e++)
        for (int k = 0; k < 4; k++)
            worst = fmax(worst, fabs(a->figures[e][k] - b->figures[e][k]));
    CHECK(worst <= 1e-5, "%s: the same loss, accuracy, val_loss and val_accuracy each epoch (%.3g)", what, worst);
}

static void test_cached_run(const struct hk_dataset *ds)
{
    struct run_result a, b, c;
    int four[] = {4, 0}, phases[] = {2, 1, 1, 0}, reused;
    train(ds, 0, four, &a, &reused);
    train(ds, 1, four, &b, &reused);
    compare(&a, &b, 4, "cached and uncached runs");
    train(ds, 0, phases, &c, &reused);
    CHECK(reused, "later runs reuse the cache of the first");
    compare(&c, &b, 4, "runs of 2, 1 and 1 epochs with a kept cache, and one uncached run of 4");
    free(a.params);
    free(b.params);
    free(c.params);
}

/* The key changes with the base's weights, state, configuration and the pictures; not with the head. */
static void test_key(const struct hk_dataset *ds, const struct hk_dataset *other)
{
    struct hk_model *m = base_model(8);
    hk_model_set_frozen(m, 0, 2, 1);
    uint64_t k0 = hk_fcache_key(m, ds, 1.0f / 255);
    const struct hk_layer *head = hk_model_layer(m, 4), *branch = hk_model_layer(m, 2);
    head->w[0] += 1.0f;
    CHECK(hk_fcache_key(m, ds, 1.0f / 255) == k0, "a head weight leaves the key");
    branch->w[3] += 1e-7f;
    CHECK(hk_fcache_key(m, ds, 1.0f / 255) != k0, "a base weight changes it");
    branch->w[3] -= 1e-7f;
    CHECK(hk_fcache_key(m, ds, 1.0f / 255) == k0, "and back");
    hk_model_state(m)[1] += 0.5f;
    CHECK(hk_fcache_key(m, ds, 1.0f / 255) != k0, "a moving statistic changes it");
    hk_model_state(m)[1] -= 0.5f;
    CHECK(hk_fcache_key(m, ds, 1.0f / 254) != k0, "the rescale changes it");
    CHECK(hk_fcache_key(m, other, 1.0f / 255) != k0, "other pictures change it");
    hk_model_set_frozen(m, 4, 4, 1);
    CHECK(hk_fcache_key(m, ds, 1.0f / 255) != k0, "another cache point changes it");
    hk_model_free(m);
}

/* The threshold with the best balanced accuracy, by hand: outputs of class 0 at 0.1 0.2 0.3 0.6,
 * class 1 at 0.4 0.7 0.8. Between 0.3 and 0.4 every class-1 output is above and 3 of 4 class-0
 * ones below: BA (1 + 0.75) / 2 = 0.875, better than any other cut; threshold 0.35. */
static void test_threshold(void)
{
    const float out[] = {0.1f, 0.7f, 0.2f, 0.4f, 0.3f, 0.8f, 0.6f};
    const int label[] = {0, 1, 0, 1, 0, 1, 0};
    double t, ba;
    struct hk_error err;
    CHECK(hk_metrics_best_threshold(out, label, 7, &t, &ba, &err) == HK_OK, "%s", err.msg);
    CHECK(fabs(t - 0.35) < 1e-6 && fabs(ba - 0.875) < 1e-12, "threshold %.9g, balanced accuracy %.9g", t, ba);
    const float tie[] = {0.2f, 0.8f};
    const int tl[] = {0, 1};
    CHECK(hk_metrics_best_threshold(tie, tl, 2, &t, &ba, &err) == HK_OK && fabs(t - 0.5) < 1e-6 && ba == 1.0,
          "separable: the midpoint 0.5 (%.9g)", t);
    const int one[] = {1, 1};
    CHECK(hk_metrics_best_threshold(tie, one, 2, &t, &ba, &err) == HK_EINVAL && strstr(err.msg, "both classes"),
          "one class refused: %s", err.msg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_transfer STRIPES_TRAIN_FOLDER\n");
        return 2;
    }
    struct hk_error err;
    struct hk_dataset *ds = NULL;
    if (hk_dataset_load(argv[1], (struct hk_size){.h = 8, .w = 8}, NULL, 1, &ds, &err) != HK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], err.msg);
        return 2;
    }
    test_threshold();
    test_cut();
    test_cache_point();
    test_gradients_from(ds);
    test_cached_run(ds);
    struct hk_dataset *val = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/../val", argv[1]);
    if (hk_dataset_load(path, (struct hk_size){.h = 8, .w = 8}, NULL, 1, &val, &err) != HK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err.msg);
        return 2;
    }
    test_key(ds, val);
    hk_dataset_free(val);
    hk_dataset_free(ds);
    return check_summary();
}
