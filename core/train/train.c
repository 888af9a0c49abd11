/* train.c: the training loop run on the compute worker. */
#include "train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feature_cache.h"
#include "infer.h"
#include "lexer.h"
#include "prefetch.h"
#include "attack.h"

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
    enum hk_status compiled = hk_model_check_compiled(m, err);
    if (compiled != HK_OK)
        return compiled;
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
    if (classes > HK_TRAIN_MAX_CLASSES)
        return hk_fail(err, HK_EINVAL, "%d classes; husky supports at most %d", classes, HK_TRAIN_MAX_CLASSES);
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

struct hk_train_config hk_train_config_default(void)
{
    struct hk_train_config c = {.epochs = 10, .batch = 32, .rescale = 1.0f / 255.0f,
                                .augment = hk_augment_default(), .until = HK_METRIC_COUNT};
    for (int k = 0; k < HK_TRAIN_MAX_CLASSES; k++)
        c.class_weight[k] = 1.0f;
    return c;
}

int hk_train_batch(const struct hk_train_config *c, size_t count)
{
    return (size_t)c->batch < count ? c->batch : (int)count;
}

enum hk_status hk_train_start(struct hk_train_run *run, const struct hk_train_setup *s, struct hk_error *err)
{
    enum hk_status st = hk_model_check_batch(s->model, hk_train_batch(&s->config, s->train->count), err);
    if (st != HK_OK)
        return st;
    run->model = s->model;
    run->train = s->train;
    run->val = s->val;
    run->config = s->config;
    run->history = s->history;
    run->worker = s->worker;
    run->progress = s->progress;
    run->progress_user = s->progress_user;
    run->epoch_end = s->epoch_end;
    run->epoch_end_user = s->epoch_end_user;
    run->share = s->share;
    run->resume = s->resume != NULL;
    /* the position a save queued before the first batch sees */
    run->pos = s->resume ? *s->resume
                         : (struct hk_train_position){.first_epoch = (int)hk_history_epoch_count(s->history)};
    atomic_store(&run->stop, 0);
    /* a run that was started reports itself as running from now on, not once the worker takes it
       (batches 0 until then: it is starting) */
    struct hk_progress before = hk_history_progress(s->history);
    struct hk_progress starting = {.running = 1, .epoch = run->pos.epoch + 1, .epochs = s->config.epochs,
                                   .batch = run->pos.batch, .first_batch = run->pos.batch};
    hk_history_set_progress(s->history, &starting);
    st = hk_worker_start(s->worker, hk_train_job, run, err);
    if (st != HK_OK)
        hk_history_set_progress(s->history, &before);
    return st;
}

void hk_train_balanced_weights(const struct hk_dataset *ds, float *weights)
{
    for (int c = 0; c < ds->class_count; c++)
        weights[c] = ds->class_counts[c] ? (float)((double)ds->count / ((double)ds->class_count *
                                                                        (double)ds->class_counts[c]))
                                         : 1.0f;
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

/* Send a warning event (the run goes on). */
static void warn(struct hk_train_run *run, int epoch, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn(struct hk_train_run *run, int epoch, const char *fmt, ...)
{
    struct hk_train_event ev = {.kind = HK_TRAIN_WARNING, .epoch = epoch, .epochs = run->config.epochs};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev.message, sizeof ev.message, fmt, ap);
    va_end(ap);
    if (run->progress)
        run->progress(run->progress_user, &ev);
}

void hk_train_run_release(struct hk_train_run *run)
{
    for (int k = 0; run && k < 2; k++) {
        hk_fcache_free(run->cache[k]);
        run->cache[k] = NULL;
    }
}

/* The feature cache of set k (0 training, 1 validation) for this run: the one the run struct
 * kept when its key still holds, else a new one when the model has a cache point and it fits in
 * *budget (which it then uses up; a warning says when the training cache does not fit). */
static struct hk_feature_cache *open_cache(struct hk_train_run *run, int k, const struct hk_dataset *ds, int batch,
                                           size_t *budget)
{
    uint64_t key = hk_fcache_key(run->model, ds, run->config.rescale);
    if (run->cache[k] && hk_fcache_get_key(run->cache[k]) == key) {
        *budget -= hk_fcache_bytes(run->cache[k]) < *budget ? hk_fcache_bytes(run->cache[k]) : *budget;
        return run->cache[k];
    }
    hk_fcache_free(run->cache[k]);
    run->cache[k] = NULL;
    size_t need = 0;
    struct hk_error e;
    if (hk_fcache_new(run->model, ds->count, batch, *budget, &run->cache[k], &need, &e) != HK_OK) {
        if (!k)
            warn(run, 0, "no feature cache: %s", e.msg);
        return NULL;
    }
    if (!run->cache[k] && need && !k) {
        char text[32];
        hk_format_bytes(text, sizeof text, need);
        warn(run, 0, "no feature cache: it would need %s past the memory limit (model limits memory=SIZE)", text);
    }
    if (run->cache[k]) {
        hk_fcache_set_key(run->cache[k], key);
        *budget -= hk_fcache_bytes(run->cache[k]) < *budget ? hk_fcache_bytes(run->cache[k]) : *budget;
    }
    return run->cache[k];
}

/* Adversarial training (Goodfellow et al. 2015, Madry et al. 2018): advx receives the batch x with
 * its first half replaced by untargeted attacks on the current weights; returns advx (x when the
 * attack failed, with *st and run->err set). */
static const float *adversarial_batch(struct hk_train_run *run, const float *x, const int *labels, int n, float *advx,
                                      enum hk_status *st)
{
    const struct hk_train_config *c = &run->config;
    size_t size = hk_shape_size(hk_model_input(run->model));
    int half = (n + 1) / 2;
    struct hk_attack_grad a = {.method = (enum hk_attack_method)(c->adversarial - 1), .eps = c->adversarial_eps,
                               .step = 2.5 * c->adversarial_eps / 10, .steps = 10, .target = -1, .seed = c->seed};
    if (a.step <= 0)
        a.step = 1.0 / 255;
    memcpy(advx, x, (size_t)n * size * sizeof *advx);
    *st = hk_attack_grad_here(run->model, &a, c->rescale, x, labels, half, 0, advx, NULL, &run->err);
    return *st == HK_OK ? advx : x;
}

void hk_train_job(void *arg)
{
    struct hk_train_run *run = arg;
    const struct hk_train_config *c = &run->config;
    const struct hk_dataset *ds = run->train;
    int batch = hk_train_batch(c, ds->count);
    int ranks = run->share.ranks > 1 ? run->share.ranks : 1, shared = ranks > 1 && run->share.reduce;
    int batches = (int)((ds->count + (size_t)batch - 1) / (size_t)batch);
    float *weights = malloc((size_t)batch * sizeof *weights);
    uint32_t *order = malloc(ds->count * sizeof *order);
    int *labels = malloc((size_t)batch * sizeof *labels);
    struct hk_prefetch *pf = NULL;
    size_t in_size = hk_shape_size(hk_model_input(run->model));
    float *advx = c->adversarial ? malloc((size_t)batch * in_size * sizeof *advx) : NULL;
    hk_error_clear(&run->err);
    run->data_wait_seconds = run->step_seconds = 0;
    if (!weights || !order || !labels || (c->adversarial && !advx) ||
        hk_prefetch_new(ds, batch, c->rescale, &c->augment, c->seed, &pf, &run->err) != HK_OK) {
        free(weights), free(order), free(labels), free(advx);
        finish(run, 0, HK_ENOMEM, "out of memory for a training batch");
        return;
    }
    hk_prefetch_set_share(pf, run->share.rank, ranks);
    struct hk_feature_cache *fc = NULL, *vfc = NULL;
    if (!shared && !c->no_cache && !c->adversarial && !hk_augment_active(&c->augment) &&
        hk_model_cache_point(run->model) >= 0) {
        size_t limit = hk_model_memory_limit(), used = hk_model_memory_bytes(run->model, batch);
        size_t budget = (limit > used ? limit - used : 0) + hk_fcache_bytes(run->cache[0]) + hk_fcache_bytes(run->cache[1]);
        fc = open_cache(run, 0, ds, batch, &budget);
        if (fc && run->val && run->val->count)
            vfc = open_cache(run, 1, run->val, batch, &budget);
    }
    if (!fc) /* what is not used now is out of date or unwanted */
        hk_train_run_release(run);
    else if (!vfc) {
        hk_fcache_free(run->cache[1]);
        run->cache[1] = NULL;
    }
    if (!run->resume)
        run->pos = (struct hk_train_position){.first_epoch = (int)hk_history_epoch_count(run->history)};
    const struct hk_train_position start = run->pos;
    int first_epoch = start.first_epoch;
    struct hk_progress prog = {1, start.epoch + 1, c->epochs, start.batch, batches, 0, 0, 0, start.batch};
    hk_history_set_progress(run->history, &prog);
    enum hk_status st = HK_OK;
    char why[512] = "";
    int epoch, exploded = 0;
    double first_loss = -1;
    for (epoch = start.epoch + 1; epoch <= c->epochs && st == HK_OK; epoch++) {
        uint64_t global_epoch = (uint64_t)(first_epoch + epoch - 1);
        struct hk_rng rng;
        hk_rng_derive(&rng, c->seed, global_epoch, 0x73687566 /* "shuf" */, 0);
        for (size_t i = 0; i < ds->count; i++)
            order[i] = (uint32_t)i;
        hk_rng_shuffle(&rng, order, ds->count);
        double t0 = now_seconds(), loss_sum = 0;
        long correct = 0, seen = 0, seen_before = 0; /* seen_before: by the run a resume continues */
        int first_batch = 0;
        if (epoch == start.epoch + 1) { /* a resumed run continues the epoch it was saved in */
            first_batch = start.batch;
            loss_sum = start.loss_sum, correct = start.correct, seen = seen_before = start.seen;
        }
        hk_prefetch_epoch(pf, order, global_epoch, first_batch);
        for (int b = first_batch; b < batches; b++) {
            int stop = atomic_load(&run->stop) || hk_worker_stopping(run->worker);
            int n = b == batches - 1 ? (int)(ds->count - (size_t)b * batch) : batch;
            struct hk_step_result r = {0, 0};
            double step0 = now_seconds();
            if (!stop || shared) { /* under MPI every rank takes part in the step that sees a stop */
                int lo, local = hk_prefetch_share(pf, b, &lo);
                const uint32_t *idx = order + (size_t)b * batch + lo;
                for (int i = 0; i < local; i++) {
                    labels[i] = ds->labels[idx[i]];
                    weights[i] = c->class_weight[labels[i]];
                }
                const float *x = hk_prefetch_get(pf, b), *feat = fc ? hk_fcache_get(fc, idx, local) : NULL;
                if (local && c->adversarial)
                    x = adversarial_batch(run, x, labels, local, advx, &st);
                if (shared && run->share.sync)
                    hk_model_set_sync(run->model, run->share.sync, run->share.user, (double)local / n);
                if (local && feat && st == HK_OK) {
                    st = hk_model_gradients_from(run->model, hk_fcache_point(fc) + 1, feat, labels, weights, local,
                                                 (uint64_t)lo, &r, &run->err);
                } else if (local && st == HK_OK) {
                    st = hk_model_gradients(run->model, x, labels, weights, local, (uint64_t)lo, &r, &run->err);
                    if (fc && st == HK_OK)
                        hk_fcache_put(fc, run->model, idx, local);
                } else if (shared && !local) {
                    st = hk_model_sync_idle(run->model, &run->err);
                }
                hk_prefetch_release(pf, b);
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
                if (isfinite(r.loss))
                    snprintf(why, sizeof why, "a gradient became nan or inf at epoch %d, batch %d of %d (loss %.4g)",
                             epoch, b + 1, batches, r.loss);
                else
                    snprintf(why, sizeof why, "the loss became %s at epoch %d, batch %d of %d",
                             isnan(r.loss) ? "nan" : "inf", epoch, b + 1, batches);
                snprintf(why + strlen(why), sizeof why - strlen(why), "; training stopped and the weights from "
                         "before that batch are kept (try a lower lr)");
                break;
            }
            if (first_loss < 0)
                first_loss = r.loss;
            else if (!exploded && r.loss > HK_TRAIN_EXPLODE_MIN && r.loss > HK_TRAIN_EXPLODE_FACTOR * first_loss) {
                exploded = 1;
                warn(run, epoch, "the loss is exploding: %.4g at epoch %d, batch %d, over %g times the first "
                     "batch's %.4g (try a lower lr)", r.loss, epoch, b + 1, HK_TRAIN_EXPLODE_FACTOR, first_loss);
            }
            hk_model_update(run->model);
            run->step_seconds += now_seconds() - step0;
            loss_sum += r.loss * n;
            correct += r.correct;
            seen += n;
            hk_history_add_batch(run->history, (float)r.loss);
            run->pos = (struct hk_train_position){epoch - 1, b + 1, first_epoch, loss_sum, correct, seen};
            prog = (struct hk_progress){1, epoch, c->epochs, b + 1, batches, loss_sum / seen, (double)correct / seen,
                                        now_seconds() - t0, first_batch};
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
            st = hk_infer_evaluate_cached(run->model, run->val, c->rescale, batch, vfc, &rec.v[HK_METRIC_VAL_LOSS],
                                          &rec.v[HK_METRIC_VAL_ACCURACY], NULL, &run->err);
            if (st != HK_OK) {
                snprintf(why, sizeof why, "%s", run->err.msg);
                break;
            }
        }
        rec.v[HK_METRIC_SECONDS] = now_seconds() - t0;
        rec.v[HK_METRIC_IMAGES_PER_S] = (double)(seen - seen_before) / seconds;
        hk_history_add_epoch(run->history, &rec);
        run->pos = (struct hk_train_position){.epoch = epoch, .first_epoch = first_epoch};
        if (run->progress) {
            struct hk_train_event ev = {.kind = HK_TRAIN_EPOCH_END, .epoch = epoch, .epochs = c->epochs, .rec = rec};
            run->progress(run->progress_user, &ev);
        }
        if (run->epoch_end && (st = run->epoch_end(run->epoch_end_user, run, &rec, &run->err)) != HK_OK) {
            snprintf(why, sizeof why, "%s", run->err.msg);
            break;
        }
        if (target_met(c, &rec)) {
            snprintf(why, sizeof why, "%s %.4f reached the target after epoch %d", hk_metric_name(c->until),
                     rec.v[c->until], epoch);
            epoch++;
            break;
        }
    }
    epoch--;
    if (st == HK_ECANCELLED && run->epoch_end && run->epoch_end(run->epoch_end_user, run, NULL, &run->err) != HK_OK) {
        st = run->err.status;
        snprintf(why, sizeof why, "%s", run->err.msg);
    }
    if (st == HK_OK && !why[0])
        snprintf(why, sizeof why, "finished after %d epoch%s", epoch, epoch == 1 ? "" : "s");
    run->data_wait_seconds = hk_prefetch_wait_seconds(pf);
    hk_prefetch_free(pf);
    hk_model_set_sync(run->model, NULL, NULL, 0);
    finish(run, epoch, st, why);
    free(weights), free(order), free(labels), free(advx);
}
