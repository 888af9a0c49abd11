/* bench_layers.c: depthwise 3x3 and batchnorm (training mode) forward and backward at
 * MobileNetV2-like shapes (128x128 input, batch 32), through the layers' own ops.
 *
 *   bench_layers [threads=N] [steps=N] [clock=cpu]    (defaults 1 and 20)
 *
 * clock=cpu times with the process's CPU time (for threads=1 on a machine shared with other jobs;
 * with threads=2 it adds both threads' time, so the figures are not speeds then).
 * Per shape and direction: median ms of `steps` calls and GB/s of the tensors the pass must touch
 * at least once (forward: read x, write y; backward: read x and dy, write dx; 4 bytes a value).
 * The last lines, "key value" pairs, are what tests/bench/compare_layers.sh compares with
 * tests/bench/torch_layers.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "model.h"
#include "team.h"

#define BATCH 32

/* depthwise input C x H x W with stride S; the batchnorm runs on the depthwise output */
static const struct {
    int c, h, w, s;
} shapes[] = {{32, 64, 64, 1}, {96, 64, 64, 2}, {144, 32, 32, 1}, {384, 8, 8, 1}, {960, 4, 4, 1}};


static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench_layers: out of memory\n");
        exit(1);
    }
    return p;
}

static int arg(int argc, char **argv, const char *key, int def)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=') {
            int v = atoi(argv[i] + k + 1);
            if (v < 1) {
                fprintf(stderr, "bench_layers: %s must be at least 1\n", key);
                exit(2);
            }
            return v;
        }
    return def;
}

/* Median seconds of `steps` forward (dy NULL) or backward calls of layer l on input x. */
static double time_layer(struct hk_layer *l, const float *x, const float *dy, float *dx, const struct hk_pass *p,
                         int steps)
{
    double *t = xcalloc((size_t)steps, sizeof *t);
    for (int s = 0; s < steps; s++) {
        double t0 = bench_now();
        if (dy)
            l->ops->backward(l, x, dy, dx, BATCH, p);
        else
            l->ops->forward(l, x, BATCH, p);
        t[s] = bench_now() - t0;
    }
    double m = bench_median(t, steps);
    free(t);
    return m;
}

int main(int argc, char **argv)
{
    int threads = arg(argc, argv, "threads", 1), steps = arg(argc, argv, "steps", 20);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "clock=cpu"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    struct hk_error err;
    if (hk_team_resize(threads, &err) != HK_OK) {
        fprintf(stderr, "bench_layers: %s\n", err.msg);
        return 1;
    }
    printf("depthwise 3x3 (padding same, bias) and batchnorm (training), batch %d, %d compute thread%s, "
           "median of %d\n",
           BATCH, threads, threads > 1 ? "s" : "", steps);
    printf("%-10s %-22s %9s %8s %9s %8s\n", "layer", "input -> output", "fwd ms", "fwd GB/s", "bwd ms", "bwd GB/s");
    char keys[64][48];
    double vals[64];
    int nk = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        struct hk_shape in = {shapes[i].c, shapes[i].h, shapes[i].w};
        struct hk_model *m = hk_model_new(in, 1, &err);
        struct hk_layer_spec dw = {.kind = HK_LAYER_DEPTHWISE, .kh = 3, .kw = 3, .sh = shapes[i].s,
                                   .sw = shapes[i].s, .same = 1};
        struct hk_layer_spec bn = {.kind = HK_LAYER_BATCHNORM, .momentum = 0.99f};
        if (!m || hk_model_insert(m, 0, &dw, NULL, &err) != HK_OK || hk_model_insert(m, 1, &bn, NULL, &err) != HK_OK) {
            fprintf(stderr, "bench_layers: %s\n", err.msg);
            return 1;
        }
        size_t nin = (size_t)BATCH * hk_shape_size(in);
        float *x = xcalloc(nin, sizeof *x);
        struct hk_rng r;
        hk_rng_seed(&r, 3);
        for (size_t k = 0; k < nin; k++)
            x[k] = hk_rng_uniform(&r, -1, 1);
        const float *out;
        if (hk_model_forward(m, x, BATCH, 1, 0, &out, &err) != HK_OK) { /* workspace and aux */
            fprintf(stderr, "bench_layers: %s\n", err.msg);
            return 1;
        }
        struct hk_layer *ld = (struct hk_layer *)hk_model_layer(m, 0), *lb = (struct hk_layer *)hk_model_layer(m, 1);
        size_t nout = (size_t)BATCH * hk_shape_size(ld->out), scratch = ld->ops->scratch_floats(ld);
        struct hk_pass pass = {.training = 1, .seed = 1, .step = 1};
        for (int k = 0; k < HK_TEAM_PARTS; k++)
            pass.scratch[k] = xcalloc(scratch, sizeof(float));
        float *dy = xcalloc(nout, sizeof *dy), *dx = xcalloc(nin > nout ? nin : nout, sizeof *dx);
        for (size_t k = 0; k < nout; k++)
            dy[k] = hk_rng_uniform(&r, -0.01f, 0.01f);

        struct {
            const char *name;
            struct hk_layer *l;
            const float *x;
            size_t in, out;
        } runs[2] = {{"depthwise", ld, x, nin, nout}, {"batchnorm", lb, ld->y, nout, nout}};
        for (int k = 0; k < 2; k++) {
            double tf = time_layer(runs[k].l, runs[k].x, NULL, NULL, &pass, steps);
            double tb = time_layer(runs[k].l, runs[k].x, dy, dx, &pass, steps);
            double bf = 4.0 * (double)(runs[k].in + runs[k].out), bb = 4.0 * (double)(2 * runs[k].in + runs[k].out);
            char shape[48];
            struct hk_shape a = runs[k].l->in, b = runs[k].l->out;
            snprintf(shape, sizeof shape, "%dx%dx%d -> %dx%d", a.c, a.h, a.w, b.h, b.w);
            printf("%-10s %-22s %9.3f %8.1f %9.3f %8.1f\n", runs[k].name, shape, tf * 1e3, bf / tf / 1e9, tb * 1e3,
                   bb / tb / 1e9);
            snprintf(keys[nk], sizeof keys[nk], "%s_%dx%dx%d_s%d_fwd_ms", runs[k].name, a.c, a.h, a.w,
                     k ? 1 : shapes[i].s);
            vals[nk++] = tf * 1e3;
            snprintf(keys[nk], sizeof keys[nk], "%s_%dx%dx%d_s%d_bwd_ms", runs[k].name, a.c, a.h, a.w,
                     k ? 1 : shapes[i].s);
            vals[nk++] = tb * 1e3;
        }
        for (int k = 0; k < HK_TEAM_PARTS; k++)
            free(pass.scratch[k]);
        free(dy);
        free(dx);
        free(x);
        hk_model_free(m);
    }
    for (int k = 0; k < nk; k++)
        printf("%s %.4f\n", keys[k], vals[k]);
    return 0;
}
