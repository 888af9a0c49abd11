/* bench_husky.c: speed and memory of the blog network (128x128x3 -> 3 conv/pool/dropout blocks ->
 * dense 128 -> dense 1 sigmoid, 3,304,769 parameters) on random data, through the core API.
 *
 *   bench_husky [threads=N] [steps=N] [repeats=N] [only=train|layers] [clock=cpu]   (defaults 1, 10, 3)
 *
 * only=train runs the warm-up and the training steps and nothing else, for instruction counts:
 *   valgrind --tool=callgrind --toggle-collect=hk_model_train_step bench_husky steps=1 repeats=1 only=train
 * only=layers prints the per-layer tables and nothing else. clock=cpu times with the process's CPU
 * time instead of the wall clock: with threads=1 on a machine shared with other jobs, the time this
 * process actually ran (with threads=2 it adds both threads' time, so figures are not speeds).
 *
 * Prints training and batch-32 inference images/s (median over repeats), single-image latency,
 * peak RSS, a per-layer forward/backward table with GFLOP/s, and for each conv shape the GFLOP/s
 * of a bare cblas_sgemm of the same per-image GEMM (M=F, N=OH*OW, K=C*KH*KW, 32 times). The last
 * line is key=value for tests/bench/compare.sh. Per-layer times are of the layer's own ops only
 * (the model applies the activation afterwards, not counted). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_clock.h"
#include "blog_model.h"
#include "model.h"
#include "team.h"

#define BATCH 32


static void die(const char *what, const struct hk_error *err)
{
    fprintf(stderr, "bench_husky: %s: %s\n", what, err->msg);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench_husky: out of memory\n");
        exit(1);
    }
    return p;
}

static void fill(float *v, size_t n, struct hk_rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = hk_rng_uniform(r, lo, hi);
}

static struct hk_model *build(void)
{
    struct hk_error err;
    struct hk_model *m = blog_model_build(42, &err);
    if (!m)
        die("model", &err);
    return m;
}

/* Forward and backward FLOPs of one layer at batch n (backward = 2x forward: dW and dX). */
static double layer_flops(const struct hk_layer *l, int n)
{
    if (l->spec.kind == HK_LAYER_CONV2D)
        return 2.0 * n * l->out.c * l->out.h * l->out.w * l->in.c * l->spec.kh * l->spec.kw;
    if (l->spec.kind == HK_LAYER_DENSE)
        return 2.0 * n * hk_shape_size(l->in) * hk_shape_size(l->out);
    return 0;
}

/* Per-layer forward and backward times (median of `steps` calls) with GFLOP/s. */
static void layer_table(struct hk_model *m, const float *x, int steps, int threads)
{
    struct hk_error err;
    if (hk_model_forward(m, x, BATCH, 1, 0, NULL, &err) != HK_OK)
        die("forward", &err);
    int count = hk_model_count(m);
    size_t scratch = 0, maxval = hk_shape_size(hk_model_input(m));
    for (int i = 0; i < count; i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        size_t s = l->ops->scratch_floats ? l->ops->scratch_floats(l) : 0;
        scratch = s > scratch ? s : scratch;
        maxval = hk_shape_size(l->out) > maxval ? hk_shape_size(l->out) : maxval;
    }
    struct hk_pass pass = {.training = 1, .seed = hk_model_seed(m), .step = 1};
    for (int k = 0; k < HK_TEAM_PARTS; k++)
        pass.scratch[k] = xcalloc(scratch, sizeof *pass.scratch[k]);
    float *dy = xcalloc((size_t)BATCH * maxval, sizeof *dy);
    float *dx = xcalloc((size_t)BATCH * maxval, sizeof *dx);
    struct hk_rng r;
    hk_rng_seed(&r, 7);
    fill(dy, (size_t)BATCH * maxval, &r, -0.01f, 0.01f);
    double *t = xcalloc((size_t)steps, sizeof *t);
    double tf_sum = 0, tb_sum = 0;

    printf("\nper-layer, batch %d (median of %d calls; layer ops only, activation not included)\n", BATCH, steps);
    printf("%-16s %-14s %10s %10s %10s %10s\n", "layer", "output", "fwd ms", "fwd GF/s", "bwd ms", "bwd GF/s");
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = (struct hk_layer *)hk_model_layer(m, i);
        const float *in = i ? hk_model_layer(m, i - 1)->y : x;
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->forward(l, in, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        double tf = bench_median(t, steps);
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->backward(l, in, dy, i ? dx : NULL, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        double tb = bench_median(t, steps);
        tf_sum += tf;
        tb_sum += tb;
        double fl = layer_flops(l, BATCH);
        char shape[32], gf[16] = "-", gb[16] = "-";
        snprintf(shape, sizeof shape, "%dx%dx%d", l->out.c, l->out.h, l->out.w);
        if (fl > 0) {
            snprintf(gf, sizeof gf, "%.1f", fl / tf / 1e9);
            snprintf(gb, sizeof gb, "%.1f%s", 2 * fl / tb / 1e9, i ? "" : "*");
        }
        printf("%-16s %-14s %10.3f %10s %10.3f %10s\n", l->name, shape, tf * 1e3, gf, tb * 1e3, gb);
    }
    printf("%-16s %-14s %10.3f %10s %10.3f %10s\n", "total", "", tf_sum * 1e3, "", tb_sum * 1e3, "");
    printf("* first layer: no dX is computed, but its backward FLOPs are counted as 2x forward\n");

    printf("\nbare cblas_sgemm on the conv GEMM shapes (per image, %d times, %d BLAS threads)\n", BATCH, threads);
    printf("%-16s %6s %6s %6s %10s %10s %10s\n", "layer", "M", "N", "K", "ms", "GF/s", "conv/sgemm");
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = (struct hk_layer *)hk_model_layer(m, i);
        if (l->spec.kind != HK_LAYER_CONV2D)
            continue;
        int M = l->out.c, N = l->out.h * l->out.w, K = l->in.c * l->spec.kh * l->spec.kw;
        float *a = xcalloc((size_t)M * K, sizeof *a), *b = xcalloc((size_t)K * N, sizeof *b);
        float *c = xcalloc((size_t)M * N, sizeof *c);
        fill(a, (size_t)M * K, &r, -1, 1);
        fill(b, (size_t)K * N, &r, 0, 1);
        /* the layers run one single-threaded sgemm per image on each team member; the bare
         * sgemm gets all threads (and gives them back before the conv layer is timed again) */
        openblas_set_num_threads(threads);
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            for (int k = 0; k < BATCH; k++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
            t[s] = bench_now() - t0;
        }
        double ts = bench_median(t, steps);
        openblas_set_num_threads(1);
        /* the conv forward time of this layer, measured again for the ratio */
        const float *in = i ? hk_model_layer(m, i - 1)->y : x;
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->forward(l, in, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        double tc = bench_median(t, steps);
        double fl = 2.0 * M * N * K * BATCH;
        printf("%-16s %6d %6d %6d %10.3f %10.1f %10.2f\n", l->name, M, N, K, ts * 1e3, fl / ts / 1e9,
               (fl / tc) / (fl / ts));
        free(a);
        free(b);
        free(c);
    }
    free(t);
    for (int k = 0; k < HK_TEAM_PARTS; k++)
        free(pass.scratch[k]);
    free(dy);
    free(dx);
}

static int arg(int argc, char **argv, const char *key, int def)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=') {
            int v = atoi(argv[i] + k + 1);
            if (v < 1) {
                fprintf(stderr, "bench_husky: %s must be at least 1\n", key);
                exit(2);
            }
            return v;
        }
    return def;
}

int main(int argc, char **argv)
{
    int only_train = 0, only_layers = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "only=train"))
            only_train = 1;
        else if (!strcmp(argv[i], "only=layers"))
            only_layers = 1;
        else if (!strcmp(argv[i], "clock=cpu"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (strncmp(argv[i], "threads=", 8) && strncmp(argv[i], "steps=", 6) && strncmp(argv[i], "repeats=", 8)) {
            fprintf(stderr, "usage: bench_husky [threads=N] [steps=N] [repeats=N] [only=train|layers] [clock=cpu]\n");
            return 2;
        }
    }
    int threads = arg(argc, argv, "threads", 1), steps = arg(argc, argv, "steps", 10);
    int repeats = arg(argc, argv, "repeats", 3);
    if (hk_team_resize(threads, &(struct hk_error){0}) != HK_OK) {
        fprintf(stderr, "bench_husky: cannot start %d compute threads\n", threads);
        return 1;
    }

    struct hk_model *m = build();
    size_t in = hk_shape_size(hk_model_input(m));
    float *x = xcalloc((size_t)BATCH * in, sizeof *x), probs[BATCH];
    int labels[BATCH];
    struct hk_rng r;
    hk_rng_seed(&r, 1);
    fill(x, (size_t)BATCH * in, &r, 0, 1);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)hk_rng_below(&r, 2);
    printf("husky: blog network, %zu parameters, batch %d, threads=%d steps=%d repeats=%d\n",
           hk_model_param_count(m), BATCH, threads, steps, repeats);

    struct hk_error err;
    struct hk_step_result res;
    if (only_layers) {
        layer_table(m, x, steps, threads);
        free(x);
        hk_model_free(m);
        return 0;
    }
    double *rep = xcalloc((size_t)repeats, sizeof *rep);
    if (hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) != HK_OK) /* warm-up */
        die("train", &err);
    for (int k = 0; k < repeats; k++) {
        double t0 = bench_now();
        for (int s = 0; s < steps; s++)
            if (hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) != HK_OK)
                die("train", &err);
        rep[k] = (double)steps * BATCH / (bench_now() - t0);
    }
    double train = bench_median(rep, repeats);
    if (only_train) {
        printf("threads=%d train_img_s=%.1f\n", threads, train);
        free(rep);
        free(x);
        hk_model_free(m);
        return 0;
    }

    if (hk_model_predict(m, x, BATCH, BATCH, probs, &err) != HK_OK) /* warm-up */
        die("predict", &err);
    for (int k = 0; k < repeats; k++) {
        double t0 = bench_now();
        for (int s = 0; s < steps; s++)
            if (hk_model_predict(m, x, BATCH, BATCH, probs, &err) != HK_OK)
                die("predict", &err);
        rep[k] = (double)steps * BATCH / (bench_now() - t0);
    }
    double infer = bench_median(rep, repeats);

    int nlat = 10 * steps > 50 ? 10 * steps : 50;
    double *lat = xcalloc((size_t)nlat, sizeof *lat);
    if (hk_model_predict(m, x, 1, 1, probs, &err) != HK_OK) /* warm-up */
        die("predict", &err);
    for (int k = 0; k < nlat; k++) {
        double t0 = bench_now();
        if (hk_model_predict(m, x + (size_t)(k % BATCH) * in, 1, 1, probs, &err) != HK_OK)
            die("predict", &err);
        lat[k] = bench_now() - t0;
    }
    double latency = bench_median(lat, nlat) * 1e3;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */

    printf("training:   %8.1f images/s (batch %d, median of %d x %d steps)\n", train, BATCH, repeats, steps);
    printf("inference:  %8.1f images/s (batch %d)\n", infer, BATCH);
    printf("latency:    %8.2f ms (1 image, median of %d)\n", latency, nlat);
    printf("peak RSS:   %8.1f MB\n", rss);

    layer_table(m, x, steps, threads);

    printf("threads=%d train_img_s=%.1f infer32_img_s=%.1f latency_ms=%.3f peak_rss_mb=%.1f\n", threads, train,
           infer, latency, rss);
    free(lat);
    free(rep);
    free(x);
    hk_model_free(m);
    return 0;
}
