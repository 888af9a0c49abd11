/* test_train_guard.c: the training guards. A non-finite loss or gradient stops the run at the
 * batch where it appears, with a message naming the epoch and batch, and the weights stay
 * bit for bit what they were before that batch; an exploding loss is reported once and the run
 * goes on. The non-finite values are provoked by hand-set weights: all kernel weights 3e38 make
 * the logits overflow to inf (loss inf or nan); one weight 2 with l2=1e38 makes its L2 gradient
 * 2 * 1e38 * 2 = 4e38 overflow float while the loss (summed in double) stays finite.
 * usage: test_train_guard STRIPES_TRAIN_FOLDER */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "train.h"

static char warnings[4][512];
static int nwarnings;

static void on_event(void *user, const struct hk_train_event *ev)
{
    (void)user;
    if (ev->kind == HK_TRAIN_WARNING && nwarnings < 4)
        snprintf(warnings[nwarnings++], sizeof warnings[0], "%s", ev->message);
}

/* A 4x4x3 -> flatten -> dense 1 sigmoid model compiled with sgd at lr. */
static struct hk_model *small_model(float l2, float lr)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 4, 4}, 5, &err);
    struct hk_layer_spec flat = {.kind = HK_LAYER_FLATTEN};
    struct hk_layer_spec dense = {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID, .l2 = l2};
    struct hk_optim opt = hk_optim_default(HK_OPTIM_SGD);
    opt.lr = lr;
    if (!m || hk_model_insert(m, 0, &flat, NULL, &err) || hk_model_insert(m, 1, &dense, NULL, &err) ||
        hk_model_compile(m, &opt, HK_LOSS_BCE, &err)) {
        fprintf(stderr, "cannot build the model: %s\n", err.msg);
        exit(2);
    }
    return m;
}

/* Train m for `epochs` at batch 8 on ds; returns the run's status, its message in msg. */
static enum hk_status train(struct hk_model *m, const struct hk_dataset *ds, int epochs, char *msg, size_t cap)
{
    struct hk_error err;
    struct hk_worker *w = hk_worker_new(&err);
    struct hk_history *h = hk_history_new();
    struct hk_train_run *run = calloc(1, sizeof *run);
    run->model = m;
    run->train = ds;
    run->config = (struct hk_train_config){.epochs = epochs, .batch = 8, .seed = 1, .rescale = 1.0f / 255.0f,
                                           .augment = hk_augment_default(), .until = HK_METRIC_COUNT};
    for (int k = 0; k < HK_TRAIN_MAX_CLASSES; k++)
        run->config.class_weight[k] = 1.0f;
    run->history = h;
    run->worker = w;
    run->progress = on_event;
    nwarnings = 0;
    hk_worker_start(w, hk_train_job, run, &err);
    hk_worker_wait(w);
    enum hk_status st = run->status;
    snprintf(msg, cap, "%s", run->err.msg);
    free(run);
    hk_history_free(h);
    hk_worker_free(w);
    return st;
}

static void test_guard(const struct hk_dataset *ds, int which)
{
    struct hk_model *m = small_model(which ? 1e38f : 0.0f, 0.1f);
    size_t n = hk_model_param_count(m);
    float *p = hk_model_params(m);
    if (which == 0)
        for (size_t i = 0; i + 1 < n; i++)
            p[i] = 3e38f;
    else
        p[0] = 2.0f;
    float *before = malloc(n * sizeof *before);
    memcpy(before, p, n * sizeof *before);
    char msg[512];
    enum hk_status st = train(m, ds, 3, msg, sizeof msg);
    const char *want = which ? "a gradient became nan or inf at epoch 1, batch 1 of 6 (loss "
                             : "at epoch 1, batch 1 of 6; training stopped and the weights from before that batch "
                               "are kept (try a lower lr)";
    CHECK(st == HK_EINVAL && strstr(msg, want), "%s guard: status %d, message '%s'", which ? "gradient" : "loss",
          (int)st, msg);
    CHECK(which || strstr(msg, "the loss became inf") || strstr(msg, "the loss became nan"), "loss guard says: %s",
          msg);
    CHECK(memcmp(before, hk_model_params(m), n * sizeof *before) == 0, "%s guard: the weights changed",
          which ? "gradient" : "loss");
    CHECK(hk_model_optim_step(m) == 0, "no optimizer step was taken (step %llu)",
          (unsigned long long)hk_model_optim_step(m));
    free(before);
    hk_model_free(m);
}

static void test_exploding(const struct hk_dataset *ds)
{
    /* lr 9e5 turns weights of about 0.1 into about 1e5 after one step: the loss jumps from about
     * 0.69 to far over 100 times that */
    struct hk_model *m = small_model(0.0f, 9e5f);
    char msg[512];
    train(m, ds, 2, msg, sizeof msg);
    CHECK(nwarnings == 1 && strncmp(warnings[0], "the loss is exploding: ", 23) == 0 &&
              strstr(warnings[0], "at epoch 1, batch 2, over 100 times the first batch's "),
          "exploding loss: %d warnings, first '%s'", nwarnings, nwarnings ? warnings[0] : "");
    hk_model_free(m);

    struct hk_model *calm = small_model(0.0f, 0.01f);
    train(calm, ds, 2, msg, sizeof msg);
    CHECK(nwarnings == 0, "a calm run gave %d warnings: '%s'", nwarnings, nwarnings ? warnings[0] : "");
    hk_model_free(calm);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_train_guard STRIPES_TRAIN_FOLDER\n");
        return 2;
    }
    struct hk_error err;
    struct hk_dataset *ds = NULL;
    if (hk_dataset_load(argv[1], (struct hk_size){.h = 4, .w = 4}, NULL, 1, &ds, &err) != HK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], err.msg);
        return 2;
    }
    test_guard(ds, 0);
    test_guard(ds, 1);
    test_exploding(ds);
    hk_dataset_free(ds);
    return check_summary();
}
