/* test_train_share.c: data-parallel training in the core without MPI. R threads play R ranks: each
 * trains its own copy of the model on its share of every global batch, and a reduce hook that
 * sums through shared memory (in rank order) stands in for MPI_Allreduce. The per-epoch losses,
 * the batch losses and the final weights must equal those of one process up to summation order,
 * a stop requested by one rank must stop every rank at the same batch, and a step that fails on
 * one rank must fail on all. With batchnorm, a sync hook sums the batch statistics the same way
 * (synchronised batch norm over the global batch), also for a rank without samples in a step. Usage: test_train_share STRIPES_TRAIN_FOLDER */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train.h"

#define MAX_RANKS 4

/* The shared memory behind the stand-in all-reduce. */
struct fake_world {
    int ranks;
    pthread_barrier_t barrier;
    const float *grads[MAX_RANKS];
    const double *sums[MAX_RANKS];
    const double *stats[MAX_RANKS];
    int steps;
    int stop_at_step, stop_rank;  /* this rank asks to stop at this step (-1: never) */
    int fail_at_step, fail_rank;  /* this rank reports a failed step at this step (-1: never) */
};

struct fake_rank {
    struct fake_world *world;
    int rank;
    float *sum;   /* this rank's result buffer */
    int step;
    double stats[4096]; /* the sync hook's result buffer */
};

/* The stand-in for the batch-statistics all-reduce: sums in rank order. */
static void fake_sync(void *user, double *sums, size_t count)
{
    struct fake_rank *me = user;
    struct fake_world *w = me->world;
    w->stats[me->rank] = sums;
    pthread_barrier_wait(&w->barrier);
    for (size_t i = 0; i < count && i < 4096; i++) {
        double s = 0;
        for (int r = 0; r < w->ranks; r++)
            s += w->stats[r][i];
        me->stats[i] = s;
    }
    pthread_barrier_wait(&w->barrier);
    memcpy(sums, me->stats, (count < 4096 ? count : 4096) * sizeof *sums);
}

static enum hk_status fake_reduce(void *user, float *grads, size_t count, double *sums, struct hk_error *err)
{
    (void)err;
    struct fake_rank *me = user;
    struct fake_world *w = me->world;
    if (me->rank == w->stop_rank && me->step == w->stop_at_step)
        sums[HK_SUM_STOP] = 1;
    if (me->rank == w->fail_rank && me->step == w->fail_at_step)
        sums[HK_SUM_FAILED] = 1;
    double local[HK_SUM_COUNT];
    memcpy(local, sums, sizeof local);
    w->grads[me->rank] = grads;
    w->sums[me->rank] = local;
    pthread_barrier_wait(&w->barrier);
    for (size_t i = 0; i < count; i++) {
        float s = 0;
        for (int r = 0; r < w->ranks; r++)
            s += w->grads[r][i];
        me->sum[i] = s;
    }
    double total[HK_SUM_COUNT] = {0};
    for (int r = 0; r < w->ranks; r++)
        for (int k = 0; k < HK_SUM_COUNT; k++)
            total[k] += w->sums[r][k];
    pthread_barrier_wait(&w->barrier); /* everyone has read everyone's share */
    memcpy(grads, me->sum, count * sizeof *grads);
    memcpy(sums, total, sizeof total);
    me->step++;
    return HK_OK;
}

static struct hk_model *small_net(int bn)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 16, 16}, 42, &err);
    struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2, .sh = 2, .sw = 2},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.3f},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 16, .act = HK_ACT_RELU},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.2f},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (size_t i = 0; m && i < sizeof specs / sizeof *specs; i++)
        if (hk_model_insert(m, hk_model_count(m), &specs[i], NULL, &err) != HK_OK)
            fprintf(stderr, "layer %zu: %s\n", i, err.msg);
    if (bn) { /* batchnorm and a depthwise layer after conv2d, batchnorm before the last dense */
        struct hk_layer_spec norm = {.kind = HK_LAYER_BATCHNORM, .momentum = 0.9f};
        struct hk_layer_spec dw = {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .same = 1, .act = HK_ACT_RELU6};
        if (hk_model_insert(m, 1, &norm, NULL, &err) != HK_OK || hk_model_insert(m, 2, &dw, NULL, &err) != HK_OK ||
            hk_model_insert(m, 3, &norm, NULL, &err) != HK_OK || hk_model_insert(m, 8, &norm, NULL, &err) != HK_OK)
            fprintf(stderr, "batchnorm: %s\n", err.msg);
    }
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    opt.lr = 0.002f;
    if (hk_model_compile(m, &opt, HK_LOSS_BCE, &err) != HK_OK)
        fprintf(stderr, "compile: %s\n", err.msg);
    return m;
}

struct one_run {
    struct hk_train_run run;
    struct fake_rank me;
};

static void setup_run(struct one_run *o, const struct hk_dataset *ds, int epochs, int batch, int bn)
{
    memset(o, 0, sizeof *o);
    struct hk_error err;
    o->run.model = small_net(bn);
    o->run.train = ds;
    o->run.history = hk_history_new();
    o->run.worker = hk_worker_new(&err);
    struct hk_train_config *c = &o->run.config;
    c->epochs = epochs;
    c->batch = batch;
    c->seed = 42;
    c->rescale = 1.0f / 255.0f;
    c->augment = hk_augment_default();
    c->augment.horizontal_flip = 1;
    c->augment.rotation_range = 10;
    c->until = HK_METRIC_COUNT;
    c->class_weight[0] = 1.0f;
    c->class_weight[1] = 2.0f;
}

static void free_run(struct one_run *o)
{
    hk_model_free(o->run.model);
    hk_history_free(o->run.history);
    hk_worker_free(o->run.worker);
    free(o->me.sum);
}

static void *rank_thread(void *arg)
{
    hk_train_job(&((struct one_run *)arg)->run);
    return NULL;
}

/* Train `ranks` fake ranks at once (their runs already set up). */
static void train_ranks(struct one_run *runs, struct fake_world *w)
{
    pthread_t t[MAX_RANKS];
    pthread_barrier_init(&w->barrier, NULL, (unsigned)w->ranks);
    for (int r = 0; r < w->ranks; r++) {
        runs[r].me = (struct fake_rank){.world = w, .rank = r,
                                        .sum = malloc(hk_model_param_count(runs[r].run.model) * sizeof(float))};
        runs[r].run.share = (struct hk_train_share){r, w->ranks, fake_reduce, &runs[r].me, fake_sync};
        pthread_create(&t[r], NULL, rank_thread, &runs[r]);
    }
    for (int r = 0; r < w->ranks; r++)
        pthread_join(t[r], NULL);
    pthread_barrier_destroy(&w->barrier);
}

static double rel_diff(double a, double b)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return m > 0 ? fabs(a - b) / m : 0;
}

static void test_equivalence(const struct hk_dataset *ds, int ranks, int batch, int bn)
{
    struct one_run single, runs[MAX_RANKS];
    setup_run(&single, ds, 3, batch, bn);
    hk_train_job(&single.run);
    CHECK(single.run.status == HK_OK, "single process: %s", single.run.err.msg);
    struct fake_world w = {.ranks = ranks, .stop_at_step = -1, .fail_at_step = -1};
    for (int r = 0; r < ranks; r++)
        setup_run(&runs[r], ds, 3, batch, bn);
    train_ranks(runs, &w);
    size_t n1, nr, b1, br;
    struct hk_epoch_record *e1 = hk_history_epochs(single.run.history, &n1);
    float *l1 = hk_history_batches(single.run.history, &b1);
    for (int r = 0; r < ranks; r++) {
        CHECK(runs[r].run.status == HK_OK, "%d ranks, rank %d: %s", ranks, r, runs[r].run.err.msg);
        struct hk_epoch_record *er = hk_history_epochs(runs[r].run.history, &nr);
        float *lr = hk_history_batches(runs[r].run.history, &br);
        CHECK(n1 == 3 && nr == 3 && b1 == br, "%d ranks: %zu and %zu epochs, %zu and %zu batches", ranks, n1, nr,
              b1, br);
        double worst = 0;
        for (size_t e = 0; e < n1 && e < nr; e++)
            for (int m = HK_METRIC_LOSS; m <= HK_METRIC_ACCURACY; m++)
                worst = fmax(worst, rel_diff(e1[e].v[m], er[e].v[m]));
        for (size_t b = 0; b < b1 && b < br; b++)
            worst = fmax(worst, rel_diff(l1[b], lr[b]));
        CHECK(worst <= 1e-5, "%d ranks, batch %d%s, rank %d: losses differ by %.3g relative", ranks, batch,
              bn ? " (batchnorm)" : "", r, worst);
        const float *p1 = hk_model_params(single.run.model), *pr = hk_model_params(runs[r].run.model);
        double wmax = 0;
        for (size_t i = 0; i < hk_model_param_count(single.run.model); i++)
            wmax = fmax(wmax, fabs((double)p1[i] - pr[i]));
        CHECK(wmax <= 1e-4, "%d ranks%s, rank %d: weights differ by up to %.3g", ranks, bn ? " (batchnorm)" : "", r,
              wmax);
        const float *s1 = hk_model_state(single.run.model), *sr = hk_model_state(runs[r].run.model);
        double smax = 0;
        for (size_t i = 0; i < hk_model_state_count(single.run.model); i++)
            smax = fmax(smax, rel_diff(s1[i], sr[i]));
        CHECK(smax <= 1e-4, "%d ranks%s, rank %d: moving statistics differ by up to %.3g relative", ranks,
              bn ? " (batchnorm)" : "", r, smax);
        free(er);
        free(lr);
    }
    /* the ranks agree with each other exactly: they applied the same summed gradient */
    for (int r = 1; r < ranks; r++)
        CHECK(memcmp(hk_model_params(runs[0].run.model), hk_model_params(runs[r].run.model),
                     hk_model_param_count(runs[0].run.model) * sizeof(float)) == 0,
              "%d ranks: rank %d's weights differ from rank 0's", ranks, r);
    free(e1);
    free(l1);
    free_run(&single);
    for (int r = 0; r < ranks; r++)
        free_run(&runs[r]);
}

/* A stop asked for by one rank, or a step failing on one rank, ends the run on every rank at
 * the same batch, with that batch not applied. */
static void test_stop_and_failure(const struct hk_dataset *ds)
{
    for (int kind = 0; kind < 2; kind++) {
        struct one_run runs[2];
        struct fake_world w = {.ranks = 2, .stop_at_step = -1, .fail_at_step = -1, .stop_rank = -1, .fail_rank = -1};
        if (kind == 0)
            w.stop_rank = 1, w.stop_at_step = 8;
        else
            w.fail_rank = 0, w.fail_at_step = 8;
        for (int r = 0; r < 2; r++)
            setup_run(&runs[r], ds, 3, 9, 0);
        train_ranks(runs, &w);
        for (int r = 0; r < 2; r++) {
            size_t nb;
            free(hk_history_batches(runs[r].run.history, &nb));
            CHECK(runs[r].run.status == (kind == 0 ? HK_ECANCELLED : HK_EIO), "%s, rank %d: status %d (%s)",
                  kind ? "failure" : "stop", r, runs[r].run.status, runs[r].run.err.msg);
            CHECK(nb == 8, "%s, rank %d: %zu batches applied, expected 8", kind ? "failure" : "stop", r, nb);
            CHECK(hk_model_optim_step(runs[r].run.model) == 8, "rank %d: optimizer step %llu", r,
                  (unsigned long long)hk_model_optim_step(runs[r].run.model));
        }
        for (int r = 0; r < 2; r++)
            free_run(&runs[r]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_train_share STRIPES_TRAIN_FOLDER\n");
        return 2;
    }
    openblas_set_num_threads(1);
    struct hk_dataset *ds = NULL;
    struct hk_error err;
    CHECK(hk_dataset_load(argv[1], (struct hk_size){.h = 16, .w = 16}, NULL, 1, &ds, &err) == HK_OK, "load %s: %s", argv[1], err.msg);
    if (ds) {
        test_equivalence(ds, 2, 8, 0);  /* 48 pictures: 6 equal batches, 4 per rank */
        test_equivalence(ds, 2, 9, 0);  /* a last batch of 3: shares of 1 and 2 */
        test_equivalence(ds, 3, 10, 0); /* a last batch of 8: shares of 2, 3 and 3 */
        test_equivalence(ds, 4, 15, 0); /* a last batch of 3: one rank has no sample */
        test_equivalence(ds, 2, 9, 1);  /* batchnorm statistics over the global batch */
        test_equivalence(ds, 4, 15, 1); /* ... with a rank that only takes part in the sums */
        test_stop_and_failure(ds);
    }
    hk_dataset_free(ds);
    return check_summary();
}
