/* train.c: the training loop run on the compute worker. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum hk_status hk_train_check(const struct hk_model *m, const struct hk_dataset *train,
                              const struct hk_dataset *val, const struct hk_train_config *c,
                              struct hk_error *err)
{
    if (!hk_model_compiled(m, NULL, NULL))
        return hk_fail(err, HK_EINVAL, "the model is not compiled; run compile first");
    if (!train || !train->count)
        return hk_fail(err, HK_EINVAL, "no training pictures; load them with: data train FOLDER");
    struct hk_shape in = hk_model_input(m);
    const struct hk_dataset *sets[2] = {train, val};
    for (int i = 0; i < 2; i++) {
        const struct hk_dataset *ds = sets[i];
        if (!ds)
            continue;
        if (ds->height != in.h || ds->width != in.w || in.c != 3)
            return hk_fail(err, HK_ESHAPE, "%s pictures are %dx%dx3 but the model takes %dx%dx%d; reload with "
                           "size=%dx%d", i ? "validation" : "training", ds->height, ds->width, in.h, in.w, in.c,
                           in.h, in.w);
    }
    enum hk_loss loss;
    hk_model_compiled(m, NULL, &loss);
    size_t k = hk_shape_size(hk_model_output(m));
    int classes = train->class_count;
    if (classes > 64)
        return hk_fail(err, HK_EINVAL, "%d classes; husky supports at most 64", classes);
    if (loss == HK_LOSS_BCE && classes != 2)
        return hk_fail(err, HK_ESHAPE, "binary_crossentropy needs 2 classes but the training set has %d", classes);
    if (loss == HK_LOSS_CCE && (size_t)classes != k)
        return hk_fail(err, HK_ESHAPE, "the model has %zu outputs but the training set has %d classes", k, classes);
    if (val && val->class_count != classes)
        return hk_fail(err, HK_ESHAPE, "the validation set has %d classes but the training set has %d",
                       val->class_count, classes);
    for (int i = 0; val && i < classes; i++)
        if (strcmp(val->class_names[i], train->class_names[i]) != 0)
            return hk_fail(err, HK_EINVAL, "class %d is '%s' in training but '%s' in validation", i,
                           train->class_names[i], val->class_names[i]);
    if (c->epochs < 1 || c->batch < 1)
        return hk_fail(err, HK_EINVAL, "epochs and batch must be at least 1");
    if (c->until != HK_METRIC_COUNT && !val &&
        (c->until == HK_METRIC_VAL_LOSS || c->until == HK_METRIC_VAL_ACCURACY))
        return hk_fail(err, HK_EINVAL, "until=%s needs a validation set; load one with: data val FOLDER",
                       hk_metric_name(c->until));
    return HK_OK;
}

void hk_train_balanced_weights(const struct hk_dataset *ds, float *weights)
{
    for (int c = 0; c < ds->class_count; c++)
        weights[c] = ds->class_counts[c] ? (float)((double)ds->count / ((double)ds->class_count *
                                                                        (double)ds->class_counts[c]))
                                         : 1.0f;
}

enum hk_status hk_train_evaluate(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                 double *loss, double *accuracy, struct hk_error *err)
{
    size_t size = (size_t)ds->height * ds->width * 3;
    batch = batch > 0 ? batch : 32;
    float *x = malloc((size_t)batch * size * sizeof *x);
    uint32_t *idx = malloc((size_t)batch * sizeof *idx);
    if (!x || !idx) {
        free(x);
        free(idx);
        return hk_fail(err, HK_ENOMEM, "out of memory for an evaluation batch");
    }
    double total = 0;
    long correct = 0;
    enum hk_status st = HK_OK;
    for (size_t s = 0; s < ds->count && st == HK_OK; s += (size_t)batch) {
        int b = ds->count - s < (size_t)batch ? (int)(ds->count - s) : batch;
        for (int i = 0; i < b; i++)
            idx[i] = (uint32_t)(s + i);
        hk_batch_fill(x, ds, idx, b, rescale, NULL, 0, 0, NULL);
        struct hk_step_result r;
        st = hk_model_evaluate(m, x, ds->labels + s, b, b, &r, err);
        total += r.loss * b;
        correct += r.correct;
    }
    free(x);
    free(idx);
    *loss = ds->count ? total / (double)ds->count : NAN;
    *accuracy = ds->count ? (double)correct / (double)ds->count : NAN;
    return st;
}

static int target_met(const struct hk_train_config *c, const struct hk_epoch_record *r)
{
    if (c->until == HK_METRIC_COUNT)
        return 0;
    double v = r->v[c->until];
    switch (c->until_cmp) {
    case HK_CMP_GE: return v >= c->until_value;
    case HK_CMP_GT: return v > c->until_value;
    case HK_CMP_LE: return v <= c->until_value;
    case HK_CMP_LT: return v < c->until_value;
    }
    return 0;
}

static int all_finite(const float *v, size_t n)
{
    float sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i] * 0.0f;
    return sum == 0.0f;
}

/* First sample of share `part` of a global batch of n split into `parts` near-equal pieces. */
static int share_begin(int n, int part, int parts)
{
    return (int)((long long)n * part / parts);
}

/* Data-parallel step: weight this process's gradient by its share (local of n samples), combine
 * it with the other processes' through the reduce hook, and leave the global batch's gradient in
 * the arena and its mean loss and correct count in r. *stop becomes 1 when any process asked to
 * stop; a failure on any process fails the step on all of them. */
static enum hk_status reduce_shares(struct hk_train_run *run, int n, int local, enum hk_status local_st, int *stop,
                                    struct hk_step_result *r)
{
    float *g = hk_model_grads(run->model);
    size_t count = hk_model_param_count(run->model);
    float scale = (float)local / (float)n;
    if (local_st != HK_OK || !local)
        memset(g, 0, count * sizeof *g);
    else
        for (size_t i = 0; i < count; i++)
            g[i] *= scale;
    double sums[HK_SUM_COUNT] = {[HK_SUM_LOSS] = r->loss * local, [HK_SUM_CORRECT] = r->correct,
                                 [HK_SUM_SAMPLES] = local, [HK_SUM_STOP] = *stop,
                                 [HK_SUM_FAILED] = local_st != HK_OK};
    struct hk_error err;
    enum hk_status st = run->share.reduce(run->share.user, g, count, sums, &err);
    if (st != HK_OK)
        return hk_fail(&run->err, st, "%s", err.msg);
    if (local_st != HK_OK)
        return local_st;
    if (sums[HK_SUM_FAILED] > 0)
        return hk_fail(&run->err, HK_EIO, "another process failed this step (its message is in its own output)");
    *stop = sums[HK_SUM_STOP] > 0;
    r->loss = sums[HK_SUM_LOSS] / n;
    r->correct = (int)sums[HK_SUM_CORRECT];
    return HK_OK;
}

static void finish(struct hk_train_run *run, int epoch, enum hk_status st, const char *message)
{
    struct hk_train_event ev = {.kind = HK_TRAIN_FINISHED, .epoch = epoch, .epochs = run->config.epochs,
                                .status = st};
    snprintf(ev.message, sizeof ev.message, "%s", message);
    run->status = st;
    if (st != HK_OK && st != HK_ECANCELLED)
        hk_fail(&run->err, st, "%s", ev.message);
    struct hk_progress p = hk_history_progress(run->history);
    p.running = 0;
    hk_history_set_progress(run->history, &p);
    if (run->progress)
        run->progress(run->progress_user, &ev);
}

void hk_train_job(void *arg)
{
    struct hk_train_run *run = arg;
    const struct hk_train_config *c = &run->config;
    const struct hk_dataset *ds = run->train;
    size_t size = (size_t)ds->height * ds->width * 3;
    int batch = c->batch < (int)ds->count ? c->batch : (int)ds->count;
    int ranks = run->share.ranks > 1 ? run->share.ranks : 1, shared = ranks > 1 && run->share.reduce;
    int batches = (int)((ds->count + (size_t)batch - 1) / (size_t)batch);
    float *x = malloc((size_t)batch * size * sizeof *x), *weights = malloc((size_t)batch * sizeof *weights);
    uint32_t *order = malloc(ds->count * sizeof *order);
    int *labels = malloc((size_t)batch * sizeof *labels);
    unsigned char *tmp = malloc(size);
    hk_error_clear(&run->err);
    if (!x || !weights || !order || !labels || !tmp) {
        free(x), free(weights), free(order), free(labels), free(tmp);
        finish(run, 0, HK_ENOMEM, "out of memory for a training batch");
        return;
    }
    int first_epoch = (int)hk_history_epoch_count(run->history);
    struct hk_progress prog = {1, 1, c->epochs, 0, batches, 0, 0};
    hk_history_set_progress(run->history, &prog);
    enum hk_status st = HK_OK;
    char why[512] = "";
    int epoch;
    for (epoch = 1; epoch <= c->epochs && st == HK_OK; epoch++) {
        uint64_t global_epoch = (uint64_t)(first_epoch + epoch - 1);
        struct hk_rng rng;
        hk_rng_derive(&rng, c->seed, global_epoch, 0x73687566 /* "shuf" */, 0);
        for (size_t i = 0; i < ds->count; i++)
            order[i] = (uint32_t)i;
        for (size_t i = ds->count; i > 1; i--) {
            uint32_t j = hk_rng_below(&rng, (uint32_t)i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double t0 = now_seconds(), loss_sum = 0;
        long correct = 0, seen = 0;
        for (int b = 0; b < batches; b++) {
            int stop = atomic_load(&run->stop) || hk_worker_stopping(run->worker);
            const uint32_t *idx = order + (size_t)b * batch;
            int n = b == batches - 1 ? (int)(ds->count - (size_t)b * batch) : batch;
            struct hk_step_result r = {0, 0};
            if (!stop || shared) {
                int lo = share_begin(n, run->share.rank, ranks);
                int local = share_begin(n, run->share.rank + 1, ranks) - lo;
                for (int i = 0; i < local; i++) {
                    labels[i] = ds->labels[idx[lo + i]];
                    weights[i] = c->class_weight[labels[i]];
                }
                hk_batch_fill(x, ds, idx + lo, local, c->rescale, &c->augment, c->seed, global_epoch, tmp);
                if (local)
                    st = hk_model_gradients(run->model, x, labels, weights, local, (uint64_t)lo, &r, &run->err);
                if (shared)
                    st = reduce_shares(run, n, local, st, &stop, &r);
            }
            if (st == HK_OK && stop) {
                st = HK_ECANCELLED;
                snprintf(why, sizeof why, "stopped at epoch %d, batch %d of %d; the weights are kept", epoch, b,
                         batches);
                break;
            }
            if (st != HK_OK) {
                snprintf(why, sizeof why, "%s", run->err.msg);
                break;
            }
            if (!isfinite(r.loss) || !all_finite(hk_model_grads(run->model), hk_model_param_count(run->model))) {
                st = HK_EINVAL;
                snprintf(why, sizeof why, "the loss became %s at epoch %d, batch %d; training stopped and the last "
                         "good weights are kept (try a lower lr)", isfinite(r.loss) ? "finite but a gradient "
                         "is not" : "not a number", epoch, b + 1);
                break;
            }
            hk_model_update(run->model);
            loss_sum += r.loss * n;
            correct += r.correct;
            seen += n;
            hk_history_add_batch(run->history, (float)r.loss);
            prog = (struct hk_progress){1, epoch, c->epochs, b + 1, batches, loss_sum / seen, (double)correct / seen};
            hk_history_set_progress(run->history, &prog);
            hk_worker_service(run->worker);
        }
        if (st != HK_OK || !seen)
            break;
        double seconds = now_seconds() - t0;
        struct hk_epoch_record rec = {.epoch = first_epoch + epoch};
        rec.v[HK_METRIC_LOSS] = loss_sum / seen;
        rec.v[HK_METRIC_ACCURACY] = (double)correct / seen;
        rec.v[HK_METRIC_VAL_LOSS] = rec.v[HK_METRIC_VAL_ACCURACY] = NAN;
        if (run->val && run->val->count) {
            st = hk_train_evaluate(run->model, run->val, c->rescale, batch, &rec.v[HK_METRIC_VAL_LOSS],
                                   &rec.v[HK_METRIC_VAL_ACCURACY], &run->err);
            if (st != HK_OK) {
                snprintf(why, sizeof why, "%s", run->err.msg);
                break;
            }
        }
        rec.v[HK_METRIC_SECONDS] = now_seconds() - t0;
        rec.v[HK_METRIC_IMAGES_PER_S] = seen / seconds;
        hk_history_add_epoch(run->history, &rec);
        if (run->progress) {
            struct hk_train_event ev = {.kind = HK_TRAIN_EPOCH_END, .epoch = epoch, .epochs = c->epochs, .rec = rec};
            run->progress(run->progress_user, &ev);
        }
        if (target_met(c, &rec)) {
            snprintf(why, sizeof why, "%s %.4f reached the target after epoch %d", hk_metric_name(c->until),
                     rec.v[c->until], epoch);
            epoch++;
            break;
        }
    }
    epoch--;
    if (st == HK_OK && !why[0])
        snprintf(why, sizeof why, "finished after %d epoch%s", epoch, epoch == 1 ? "" : "s");
    finish(run, epoch, st, why);
    free(x), free(weights), free(order), free(labels), free(tmp);
}
