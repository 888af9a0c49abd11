/* cmd_use.c: using a trained model: predict pictures and evaluate a loaded set. All model work
 * runs on the compute worker (between two batches when a run is going). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "commands.h"

struct predict_call {
    struct hk_model *model;
    const float *x;
    int n;
    float *probs;
    enum hk_status st;
    struct hk_error err;
};

static void predict_on_worker(void *arg)
{
    struct predict_call *c = arg;
    c->st = hk_model_predict(c->model, c->x, c->n, 32, c->probs, &c->err);
}

static const char *class_name(const struct shell *sh, int k, char *buf, size_t cap)
{
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    if (ds && k < ds->class_count)
        return ds->class_names[k];
    if (k < sh->nclasses)
        return sh->classes[k];
    snprintf(buf, cap, "class %d", k);
    return buf;
}

int cmd_predict(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, HK_LEX_MAX_WORDS, "predict FILE..."))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    struct hk_shape in = hk_model_input(sh->model);
    size_t k = hk_shape_size(hk_model_output(sh->model)), size = hk_shape_size(in);
    unsigned char *pix = malloc((size_t)in.h * in.w * 3);
    float *x = malloc(size * sizeof *x), *probs = malloc(k * sizeof *probs);
    int rc = 0;
    if (!pix || !x || !probs || in.c != 3) {
        rc = shell_error(sh, w, 0, in.c != 3 ? "predict needs a model with 3 input channels" : "out of memory");
        goto out;
    }
    for (int i = arg; i < w->count; i++) {
        struct hk_error err;
        if (hk_image_load_resized(w->w[i].text, &sh->limits, pix, in.w, in.h, &err) != HK_OK) {
            rc = shell_error(sh, w, i, "%s: %s", w->w[i].text, err.msg);
            continue;
        }
        hk_batch_from_pixels(x, pix, in.h, in.w, sh->rescale);
        struct predict_call c = {sh->model, x, 1, probs, HK_OK, {0}};
        hk_worker_call(sh->worker, predict_on_worker, &c);
        if (c.st != HK_OK) {
            rc = shell_error(sh, w, i, "%s", c.err.msg);
            continue;
        }
        size_t bad = 0;
        while (bad < k && isfinite(probs[bad]))
            bad++;
        if (bad < k) {
            rc = shell_error(sh, w, i, "%s: the model's output is %s: its weights have blown up (model reset, or "
                             "model load a saved model)", w->w[i].text, isnan(probs[bad]) ? "nan" : "inf");
            continue;
        }
        int best = 0;
        float p = probs[0];
        if (k == 1) {
            best = probs[0] >= 0.5f;
            p = best ? probs[0] : 1.0f - probs[0];
        } else {
            for (size_t j = 1; j < k; j++)
                best = probs[j] > probs[best] ? (int)j : best;
            p = probs[best];
        }
        char buf[32];
        shell_print(sh, "%s: %s %.4f", w->w[i].text, class_name(sh, best, buf, sizeof buf), (double)p);
        if (k == 1)
            shell_print(sh, "  (sigmoid %.4f = P(%s))", (double)probs[0], class_name(sh, 1, buf, sizeof buf));
        shell_print(sh, "\n");
    }
out:
    free(pix);
    free(x);
    free(probs);
    return rc;
}

struct evaluate_call {
    struct hk_model *model;
    const struct hk_dataset *ds;
    float rescale;
    int batch;
    double loss, accuracy;
    float *probs;   /* count x k */
    enum hk_status st;
    struct hk_error err;
};

static void evaluate_on_worker(void *arg)
{
    struct evaluate_call *c = arg;
    c->st = hk_train_evaluate(c->model, c->ds, c->rescale, c->batch, &c->loss, &c->accuracy, &c->err);
    size_t size = (size_t)c->ds->height * c->ds->width * 3, k = hk_shape_size(hk_model_output(c->model));
    float *x = malloc((size_t)c->batch * size * sizeof *x);
    uint32_t *idx = malloc((size_t)c->batch * sizeof *idx);
    for (size_t s = 0; c->st == HK_OK && x && idx && s < c->ds->count; s += (size_t)c->batch) {
        int b = c->ds->count - s < (size_t)c->batch ? (int)(c->ds->count - s) : c->batch;
        for (int i = 0; i < b; i++)
            idx[i] = (uint32_t)(s + i);
        hk_batch_fill(x, c->ds, idx, b, c->rescale, NULL, 0, 0, NULL);
        c->st = hk_model_predict(c->model, x, b, b, c->probs + s * k, &c->err);
    }
    if (c->st == HK_OK && (!x || !idx))
        c->st = hk_fail(&c->err, HK_ENOMEM, "out of memory");
    free(x);
    free(idx);
}

int cmd_evaluate(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1, "evaluate train|val"))
        return -1;
    const char *which = w->w[arg].text;
    const struct hk_dataset *ds = !strcmp(which, "train") ? sh->train : !strcmp(which, "val") ? sh->val : NULL;
    if (strcmp(which, "train") && strcmp(which, "val"))
        return shell_error(sh, w, arg, "expected train or val, got '%s'", which);
    if (!ds)
        return shell_error(sh, w, arg, "no %s set loaded; use: data %s FOLDER", which, which);
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet");
    struct hk_error err;
    struct hk_train_config cfg = {.epochs = 1, .batch = 32, .until = HK_METRIC_COUNT};
    if (hk_train_check(sh->model, ds, NULL, &cfg, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    size_t k = hk_shape_size(hk_model_output(sh->model));
    struct evaluate_call c = {sh->model, ds, sh->rescale, 32, 0, 0, malloc(ds->count * k * sizeof(float)), HK_OK,
                              {0}};
    int at = arg_option(w, "batch");
    if (at >= 0 && arg_int(sh, w, at, 1, 4096, &c.batch))
        return -1;
    if (!c.probs)
        return shell_error(sh, w, 0, "out of memory");
    hk_worker_call(sh->worker, evaluate_on_worker, &c);
    if (c.st != HK_OK) {
        free(c.probs);
        return shell_error(sh, w, 0, "%s", c.err.msg);
    }
    int classes = ds->class_count;
    size_t *cm = calloc((size_t)classes * classes, sizeof *cm);
    for (size_t i = 0; cm && i < ds->count; i++) {
        const float *p = c.probs + i * k;
        int pred = 0;
        if (k == 1)
            pred = p[0] >= 0.5f;
        else
            for (size_t j = 1; j < k; j++)
                pred = p[j] > p[pred] ? (int)j : pred;
        cm[(size_t)ds->labels[i] * classes + pred]++;
    }
    shell_print(sh, "%s: %zu pictures  loss %.4f  accuracy %.4f\n", which, ds->count, c.loss, c.accuracy);
    shell_print(sh, "confusion matrix (rows: true class, columns: predicted)\n%20s", "");
    for (int j = 0; j < classes; j++)
        shell_print(sh, " %12.12s", ds->class_names[j]);
    shell_print(sh, "\n");
    for (int i = 0; cm && i < classes; i++) {
        shell_print(sh, "%20.20s", ds->class_names[i]);
        for (int j = 0; j < classes; j++)
            shell_print(sh, " %12zu", cm[(size_t)i * classes + j]);
        shell_print(sh, "\n");
    }
    free(cm);
    free(c.probs);
    return 0;
}
