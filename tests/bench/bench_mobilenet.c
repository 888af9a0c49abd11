/* bench_mobilenet.c: speed of MobileNetV2 (alpha 1.0, 128x128x3, batch 32) built by replaying
 * scripts/mobilenetv2.husky through the core's language (lexer, model_spec and layer_spec parsers),
 * on random data.
 *
 *   bench_mobilenet [threads=N] [steps=N] [repeats=N] [only=layers] [clock=cpu]   (defaults 1, 5, 3)
 *
 * Run from the repository root (the script sources scripts/mobilenetv2_top_*.husky). Two models:
 * - full: the 1000-class top (global average pooling, dense 1000 softmax; categorical cross-entropy,
 *   Adam), every layer trainable: training and batch-32 inference images/s, single-image latency.
 * - finetune: README's transfer recipe, fine-tuning case: the base up to block_13_expand_relu, then
 *   global_avgpool, dropout 0.2, dense 1 sigmoid (binary cross-entropy, Adam), with every layer up
 *   to block_10_project_BN frozen (frozen batchnorms on their moving statistics): training images/s.
 * Then a per-layer-kind table of the full model (sum over its layers of each kind of the median
 * forward and backward time of `steps` calls of the layer's own ops, in ms for a batch of 32).
 * clock=cpu times with the process's CPU time instead of the wall clock (threads=1 on a busy
 * machine; with threads=2 it adds both threads' time). The relu6 rows include the activation (the
 * activation layer applies it itself); no other layer of the model has one, except the softmax of
 * the top, which is not counted. The last two lines, layers=KIND:FWD:BWD:INFER,... and key=value
 * figures, are what tests/bench/compare_mobilenet.sh reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "layer_spec.h"
#include "lexer.h"
#include "model.h"
#include "model_spec.h"
#include "team.h"

#define BATCH 32
#define SIZE 128
#define CLASSES 1000


static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_mobilenet: %s: %s\n", what, msg);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("memory", "out of memory");
    return p;
}

static void fill(float *v, size_t n, struct hk_rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = hk_rng_uniform(r, lo, hi);
}

/* The script's variables: ${size:-..}, ${top:-..}, ${classes:-..} get these values. */
static const char *var_value(const char *name, size_t len, const char *top)
{
    static char size[16], classes[16];
    snprintf(size, sizeof size, "%d", SIZE);
    snprintf(classes, sizeof classes, "%d", CLASSES);
    if (len == 4 && !strncmp(name, "size", 4))
        return size;
    if (len == 3 && !strncmp(name, "top", 3))
        return top;
    if (len == 7 && !strncmp(name, "classes", 7))
        return classes;
    return NULL;
}

/* line with every ${NAME:-DEFAULT} or ${NAME} replaced (by the default when NAME is not ours). */
static void expand(const char *line, char *out, size_t cap, const char *top)
{
    size_t o = 0;
    while (*line && o + 1 < cap) {
        const char *end;
        if (line[0] == '$' && line[1] == '{' && (end = strchr(line, '}'))) {
            const char *name = line + 2, *dflt = strstr(name, ":-");
            size_t nlen = (dflt && dflt < end ? dflt : end) - name;
            const char *v = var_value(name, nlen, top);
            size_t vlen = v ? strlen(v) : (dflt && dflt < end ? (size_t)(end - dflt - 2) : 0);
            if (!v)
                v = dflt && dflt < end ? dflt + 2 : "";
            for (size_t k = 0; k < vlen && o + 1 < cap; k++)
                out[o++] = v[k];
            line = end + 1;
        } else {
            out[o++] = *line++;
        }
    }
    out[o] = 0;
}

/* Replay a husky script: model new, layer commands and source; stop after the layer named stop
 * (NULL: to the end). Returns 1 once stop was reached. */
static int replay(const char *path, struct hk_model **m, const char *top, const char *stop)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die(path, "cannot open (run from the repository root)");
    static char line[4096], text[4096];
    static struct hk_words w;
    struct hk_error err;
    int bad, done = 0;
    while (!done && fgets(line, sizeof line, f)) {
        expand(line, text, sizeof text, top);
        if (hk_lex(text, &w, &bad, &err) != HK_OK)
            die(path, err.msg);
        if (!w.count)
            continue;
        if (!strcmp(w.w[0].text, "model") && w.count > 1 && !strcmp(w.w[1].text, "new")) {
            struct hk_model_spec spec;
            if (hk_model_spec_parse(&w, 2, 0, &spec, &bad, &err) != HK_OK)
                die(path, err.msg);
            hk_model_free(*m);
            if (!(*m = hk_model_new(spec.input, 42, &err)))
                die(path, err.msg);
        } else if (!strcmp(w.w[0].text, "source") && w.count == 2) {
            done = replay(w.w[1].text, m, top, stop);
        } else if (hk_layer_kind_find(w.w[0].text) != HK_LAYER_KIND_COUNT && *m) {
            struct hk_layer_spec spec;
            if (hk_layer_spec_parse(&w, 0, &spec, &bad, &err) != HK_OK ||
                hk_model_insert(*m, hk_model_count(*m), &spec, NULL, &err) != HK_OK)
                die(text, err.msg);
            done = stop && !strcmp(spec.name, stop);
        } else {
            die(path, "a command the bench does not replay");
        }
    }
    fclose(f);
    return done;
}

static struct hk_model *build_full(void)
{
    struct hk_model *m = NULL;
    struct hk_error err;
    replay("scripts/mobilenetv2.husky", &m, "yes", NULL);
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    if (hk_model_compile(m, &opt, HK_LOSS_CCE, &err) != HK_OK)
        die("compile", err.msg);
    return m;
}

/* README's transfer recipe at its fine-tuning stage: blocks up to block_10 frozen. */
static struct hk_model *build_finetune(void)
{
    struct hk_model *m = NULL;
    struct hk_error err;
    if (!replay("scripts/mobilenetv2.husky", &m, "no", "block_13_expand_relu"))
        die("finetune", "block_13_expand_relu not found");
    const struct hk_layer_spec head[] = {
        {.kind = HK_LAYER_GLOBAL_AVGPOOL},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.2f},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (size_t i = 0; i < sizeof head / sizeof *head; i++)
        if (hk_model_insert(m, hk_model_count(m), &head[i], NULL, &err) != HK_OK)
            die("finetune", err.msg);
    int from, to;
    if (hk_model_find_range(m, "Conv1..block_10_project_BN", &from, &to, &err) != HK_OK)
        die("finetune", err.msg);
    hk_model_set_frozen(m, from, to, 1);
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    opt.lr = 0.0001f;
    if (hk_model_compile(m, &opt, HK_LOSS_BCE, &err) != HK_OK)
        die("compile", err.msg);
    return m;
}

/* Median training images/s over repeats of `steps` steps, after a warm-up step. */
static double train_rate(struct hk_model *m, const float *x, const int *labels, int steps, int repeats)
{
    struct hk_error err;
    struct hk_step_result res;
    double *rep = xcalloc((size_t)repeats, sizeof *rep);
    if (hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) != HK_OK)
        die("train", err.msg);
    for (int k = 0; k < repeats; k++) {
        double t0 = bench_now();
        for (int s = 0; s < steps; s++)
            if (hk_model_train_step(m, x, labels, NULL, BATCH, &res, &err) != HK_OK)
                die("train", err.msg);
        rep[k] = (double)steps * BATCH / (bench_now() - t0);
    }
    double r = bench_median(rep, repeats);
    free(rep);
    return r;
}

enum kind { K_CONV1, K_CONV3, K_DW, K_BN, K_RELU6, K_ADD, K_POOL, K_DENSE, K_PAD, K_COUNT };
static const char *const kind_names[K_COUNT] = {"conv2d 1x1", "conv2d 3x3", "depthwise", "batchnorm", "relu6",
                                                "add", "pooling", "dense", "zeropad"};

static enum kind kind_of(const struct hk_layer *l)
{
    switch (l->spec.kind) {
    case HK_LAYER_CONV2D:
        return l->spec.kh == 1 && l->spec.kw == 1 ? K_CONV1 : K_CONV3;
    case HK_LAYER_DEPTHWISE:
        return K_DW;
    case HK_LAYER_BATCHNORM:
        return K_BN;
    case HK_LAYER_ACTIVATION:
        return K_RELU6;
    case HK_LAYER_ADD:
        return K_ADD;
    case HK_LAYER_DENSE:
        return K_DENSE;
    case HK_LAYER_ZEROPAD:
        return K_PAD;
    default:
        return K_POOL;
    }
}

/* Per-layer-kind forward and backward ms (training mode), summed over the model's layers. */
static void layer_table(struct hk_model *m, const float *x, int steps)
{
    struct hk_error err;
    if (hk_model_forward(m, x, BATCH, 1, 0, NULL, &err) != HK_OK)
        die("forward", err.msg);
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
    float *dx2 = xcalloc((size_t)BATCH * maxval, sizeof *dx2);
    struct hk_rng r;
    hk_rng_seed(&r, 7);
    fill(dy, (size_t)BATCH * maxval, &r, -0.01f, 0.01f);
    double *t = xcalloc((size_t)steps, sizeof *t), fwd[K_COUNT] = {0}, bwd[K_COUNT] = {0}, inf[K_COUNT] = {0};
    int n[K_COUNT] = {0};
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = (struct hk_layer *)hk_model_layer(m, i);
        const float *in = l->input >= 0 ? hk_model_layer(m, l->input)->y : x;
        pass.x2 = l->input2 >= 0 ? hk_model_layer(m, l->input2)->y : NULL;
        pass.dx2 = l->input2 >= 0 ? dx2 : NULL;
        pass.training = 0;
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->forward(l, in, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        double ti = bench_median(t, steps);
        pass.training = 1;
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->forward(l, in, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        double tf = bench_median(t, steps);
        for (int s = 0; s < steps; s++) {
            double t0 = bench_now();
            l->ops->backward(l, in, dy, l->input >= 0 ? dx : NULL, BATCH, &pass);
            t[s] = bench_now() - t0;
        }
        enum kind k = kind_of(l);
        fwd[k] += tf;
        inf[k] += ti;
        bwd[k] += bench_median(t, steps);
        n[k]++;
    }
    double tf = 0, tb = 0, ti = 0;
    printf("\nper layer kind, batch %d (sum over the layers of the median of %d calls; infer: inference-mode "
           "forward; fwd, bwd: training mode)\n", BATCH, steps);
    printf("%-12s %7s %10s %10s %10s %10s\n", "kind", "layers", "infer ms", "fwd ms", "bwd ms", "train ms");
    for (int k = 0; k < K_COUNT; k++) {
        printf("%-12s %7d %10.2f %10.2f %10.2f %10.2f\n", kind_names[k], n[k], inf[k] * 1e3, fwd[k] * 1e3,
               bwd[k] * 1e3, (fwd[k] + bwd[k]) * 1e3);
        tf += fwd[k];
        tb += bwd[k];
        ti += inf[k];
    }
    printf("%-12s %7d %10.2f %10.2f %10.2f %10.2f\n", "total", count, ti * 1e3, tf * 1e3, tb * 1e3,
           (tf + tb) * 1e3);
    printf("layers=");
    for (int k = 0; k < K_COUNT; k++)
        printf("%s%s:%.2f:%.2f:%.2f", k ? "," : "", kind_names[k], fwd[k] * 1e3, bwd[k] * 1e3, inf[k] * 1e3);
    printf("\n");
    free(t);
    for (int k = 0; k < HK_TEAM_PARTS; k++)
        free(pass.scratch[k]);
    free(dy);
    free(dx);
    free(dx2);
}

static int arg(int argc, char **argv, const char *key, int def)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=') {
            int v = atoi(argv[i] + k + 1);
            if (v < 1) {
                fprintf(stderr, "bench_mobilenet: %s must be at least 1\n", key);
                exit(2);
            }
            return v;
        }
    return def;
}

int main(int argc, char **argv)
{
    int only_layers = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "only=layers"))
            only_layers = 1;
        else if (!strcmp(argv[i], "clock=cpu"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (strncmp(argv[i], "threads=", 8) && strncmp(argv[i], "steps=", 6) && strncmp(argv[i], "repeats=", 8)) {
            fprintf(stderr, "usage: bench_mobilenet [threads=N] [steps=N] [repeats=N] [only=layers] [clock=cpu]\n");
            return 2;
        }
    }
    int threads = arg(argc, argv, "threads", 1), steps = arg(argc, argv, "steps", 5);
    int repeats = arg(argc, argv, "repeats", 3);
    if (hk_team_resize(threads, &(struct hk_error){0}) != HK_OK)
        die("team", "cannot start the compute threads");

    struct hk_model *m = build_full();
    size_t in = hk_shape_size(hk_model_input(m));
    float *x = xcalloc((size_t)BATCH * in, sizeof *x);
    float *probs = xcalloc((size_t)BATCH * CLASSES, sizeof *probs);
    int labels[BATCH], bin[BATCH];
    struct hk_rng r;
    hk_rng_seed(&r, 1);
    fill(x, (size_t)BATCH * in, &r, 0, 1);
    for (int i = 0; i < BATCH; i++) {
        labels[i] = (int)hk_rng_below(&r, CLASSES);
        bin[i] = (int)hk_rng_below(&r, 2);
    }
    printf("husky: MobileNetV2 alpha 1.0, %dx%d, %d classes, %zu parameters, %d layers, batch %d, "
           "threads=%d steps=%d repeats=%d\n",
           SIZE, SIZE, CLASSES, hk_model_param_count(m), hk_model_count(m), BATCH, threads, steps, repeats);
    if (only_layers) {
        layer_table(m, x, steps);
        return 0;
    }

    struct hk_error err;
    double train = train_rate(m, x, labels, steps, repeats);
    double *rep = xcalloc((size_t)repeats, sizeof *rep);
    if (hk_model_predict(m, x, BATCH, BATCH, probs, &err) != HK_OK) /* warm-up */
        die("predict", err.msg);
    for (int k = 0; k < repeats; k++) {
        double t0 = bench_now();
        for (int s = 0; s < steps; s++)
            if (hk_model_predict(m, x, BATCH, BATCH, probs, &err) != HK_OK)
                die("predict", err.msg);
        rep[k] = (double)steps * BATCH / (bench_now() - t0);
    }
    double infer = bench_median(rep, repeats);
    int nlat = 10 * steps > 30 ? 10 * steps : 30;
    double *lat = xcalloc((size_t)nlat, sizeof *lat);
    if (hk_model_predict(m, x, 1, 1, probs, &err) != HK_OK) /* warm-up */
        die("predict", err.msg);
    for (int k = 0; k < nlat; k++) {
        double t0 = bench_now();
        if (hk_model_predict(m, x + (size_t)(k % BATCH) * in, 1, 1, probs, &err) != HK_OK)
            die("predict", err.msg);
        lat[k] = bench_now() - t0;
    }
    double latency = bench_median(lat, nlat) * 1e3;

    struct hk_model *ft = build_finetune();
    size_t trainable, frozen;
    hk_model_param_split(ft, &trainable, &frozen);
    double finetune = train_rate(ft, x, bin, steps, repeats);
    hk_model_free(ft);

    printf("training:   %8.1f images/s (batch %d, median of %d x %d steps)\n", train, BATCH, repeats, steps);
    printf("inference:  %8.1f images/s (batch %d)\n", infer, BATCH);
    printf("latency:    %8.2f ms (1 image, median of %d)\n", latency, nlat);
    printf("fine-tune:  %8.1f images/s (transfer head, up to block_10 frozen: %zu trainable, %zu not)\n", finetune,
           trainable, frozen);
    layer_table(m, x, steps);
    printf("threads=%d train_img_s=%.1f infer32_img_s=%.1f latency_ms=%.3f finetune_img_s=%.1f\n", threads, train,
           infer, latency, finetune);
    free(lat);
    free(rep);
    free(probs);
    free(x);
    hk_model_free(m);
    return 0;
}
