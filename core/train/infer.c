/* infer.c: using a model (see infer.h): picture preprocessing on the caller's thread, and the
 * model work queued to the compute worker as one call each. */
#include "infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "feature_cache.h"
#include "metrics.h"

#define INFER_BATCH 32 /* inputs forwarded at a time */

enum hk_status hk_infer_load(const struct hk_model *m, const struct hk_infer_prep *prep, const char *path,
                             unsigned char *pix, float *x, struct hk_error *err)
{
    struct hk_shape in = hk_model_input(m);
    if (in.c != 3)
        return hk_fail(err, HK_EINVAL, "the model's input has %d channels; pictures have 3", in.c);
    unsigned char *own = pix ? NULL : malloc((size_t)in.h * in.w * 3);
    if (!pix && !own)
        return hk_fail(err, HK_ENOMEM, "out of memory for a %dx%d picture", in.h, in.w);
    unsigned char *p = pix ? pix : own;
    enum hk_status st = hk_image_load_resized(path, prep->limits, p, (struct hk_size){.h = in.h, .w = in.w}, err);
    if (st == HK_OK)
        hk_batch_from_pixels(x, p, in.h, in.w, prep->rescale);
    free(own);
    return st;
}

enum hk_status hk_infer_pixels(struct hk_shape in, const struct hk_infer_prep *prep, const unsigned char *rgb, int w,
                               int h, unsigned char *pix, float *x, struct hk_error *err)
{
    if (in.c != 3)
        return hk_fail(err, HK_EINVAL, "the model's input has %d channels; pictures have 3", in.c);
    if (w <= 0 || h <= 0 || !rgb)
        return hk_fail(err, HK_EINVAL, "a picture of %dx%d pixels", h, w);
    unsigned char *own = pix ? NULL : malloc((size_t)in.h * in.w * 3);
    if (!pix && !own)
        return hk_fail(err, HK_ENOMEM, "out of memory for a %dx%d picture", in.h, in.w);
    unsigned char *p = pix ? pix : own;
    hk_image_resize(p, in.w, in.h, rgb, w, h);
    hk_batch_from_pixels(x, p, in.h, in.w, prep->rescale);
    free(own);
    return HK_OK;
}

int hk_infer_decide(const float *p, int k, float threshold, double *prob)
{
    int best;
    hk_metrics_predict(p, 1, k, threshold > 0 ? (double)threshold : 0.5, &best);
    if (prob)
        *prob = k == 1 ? (best ? (double)p[0] : 1.0 - (double)p[0]) : (double)p[best];
    return best;
}

enum hk_status hk_infer_predict_here(struct hk_model *m, const float *x, int n, float *probs, struct hk_error *err)
{
    return n > 0 ? hk_model_predict(m, x, n, INFER_BATCH, probs, err) : HK_OK;
}

/* Mirror n CHW pictures of c x h x w left to right, in place. */
static void mirror(float *x, int n, int c, int h, int w)
{
    for (size_t row = 0; row < (size_t)n * c * h; row++) {
        float *r = x + row * (size_t)w;
        for (int i = 0, j = w - 1; i < j; i++, j--) {
            float t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
    }
}

/* One pass over ds: with flip, every picture mirrored (and fc must be NULL). */
static enum hk_status evaluate_pass(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                    struct hk_feature_cache *fc, int flip, double *loss, double *accuracy,
                                    float *probs, struct hk_error *err)
{
    size_t size = (size_t)ds->height * ds->width * 3, k = hk_shape_size(hk_model_output(m));
    batch = batch > 0 ? batch : INFER_BATCH;
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
        struct hk_step_result r;
        const float *feat = fc ? hk_fcache_get(fc, idx, b) : NULL;
        if (feat) {
            st = hk_model_evaluate_from(m, hk_fcache_point(fc) + 1, feat, ds->labels + s, b, b, &r,
                                        probs ? probs + s * k : NULL, err);
        } else {
            hk_batch_fill(x, ds, idx, b, rescale, NULL, 0, 0, NULL);
            if (flip)
                mirror(x, b, 3, ds->height, ds->width);
            st = hk_model_evaluate(m, x, ds->labels + s, b, b, &r, probs ? probs + s * k : NULL, err);
            if (fc && st == HK_OK)
                hk_fcache_put(fc, m, idx, b);
        }
        total += r.loss * b;
        correct += r.correct;
    }
    free(x);
    free(idx);
    *loss = ds->count ? total / (double)ds->count : NAN;
    if (accuracy)
        *accuracy = ds->count ? (double)correct / (double)ds->count : NAN;
    return st;
}

/* Both passes of hk_infer_evaluate_flip, on the calling thread. */
static enum hk_status evaluate_flip_here(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                         double *loss, float *probs, struct hk_error *err)
{
    size_t n = ds->count * hk_shape_size(hk_model_output(m));
    float *mirrored = malloc((n ? n : 1) * sizeof *mirrored);
    if (!mirrored)
        return hk_fail(err, HK_ENOMEM, "out of memory for the outputs of %zu mirrored pictures", ds->count);
    double plain;
    enum hk_status st = evaluate_pass(m, ds, rescale, batch, NULL, 0, &plain, NULL, probs, err);
    if (st == HK_OK)
        st = evaluate_pass(m, ds, rescale, batch, NULL, 1, loss, NULL, mirrored, err);
    if (st == HK_OK) {
        *loss = (plain + *loss) / 2;
        for (size_t i = 0; i < n; i++)
            probs[i] = (probs[i] + mirrored[i]) / 2;
    }
    free(mirrored);
    return st;
}

/* One piece of model work for the worker, and its result. */
enum infer_op { OP_PREDICT, OP_EVALUATE, OP_EVALUATE_FLIP, OP_ACTIVATION, OP_WEIGHTS, OP_SET_WEIGHT };

struct infer_call {
    enum infer_op op;
    struct hk_model *m;
    const float *x;
    int n, layer;
    const struct hk_dataset *ds;
    float rescale;
    struct hk_feature_cache *fc;
    double *loss, *accuracy;
    float *out;
    float value;    /* OP_SET_WEIGHT: the new value; out points at the weight */
    enum hk_status st;
    struct hk_error err;
};

static void infer_on_worker(void *arg)
{
    struct infer_call *c = arg;
    const struct hk_layer *l = c->op == OP_ACTIVATION || c->op == OP_WEIGHTS ? hk_model_layer(c->m, c->layer) : NULL;
    float old;
    switch (c->op) {
    case OP_PREDICT:
        c->st = hk_infer_predict_here(c->m, c->x, c->n, c->out, &c->err);
        break;
    case OP_EVALUATE:
        if (c->fc && hk_fcache_get_key(c->fc) != hk_fcache_key(c->m, c->ds, c->rescale))
            c->fc = NULL; /* made for other weights or pictures */
        c->st = hk_infer_evaluate_cached(c->m, c->ds, c->rescale, c->n, c->fc, c->loss, c->accuracy, c->out, &c->err);
        break;
    case OP_EVALUATE_FLIP:
        c->st = evaluate_flip_here(c->m, c->ds, c->rescale, c->n, c->loss, c->out, &c->err);
        break;
    case OP_ACTIVATION:
        c->st = hk_model_forward(c->m, c->x, 1, 0, 0, NULL, &c->err);
        if (c->st == HK_OK) /* a forward pass leaves each layer's output in its y (model.h) */
            memcpy(c->out, l->y, hk_shape_size(l->out) * sizeof *c->out);
        break;
    case OP_WEIGHTS:
        memcpy(c->out, l->w, l->wcount * sizeof *c->out);
        break;
    case OP_SET_WEIGHT: /* a swap: the old value comes back in value */
        old = *c->out;
        *c->out = c->value;
        c->value = old;
        break;
    }
}

static enum hk_status run_call(struct hk_worker *wk, struct infer_call *c, struct hk_error *err)
{
    c->st = HK_OK;
    hk_error_clear(&c->err);
    hk_worker_call(wk, infer_on_worker, c);
    if (c->st != HK_OK && err)
        *err = c->err;
    return c->st;
}

static enum hk_status check_layer(const struct hk_model *m, int layer, struct hk_error *err)
{
    if (layer < 0 || layer >= hk_model_count(m))
        return hk_fail(err, HK_EINVAL, "no layer %d; the model has %d layers", layer, hk_model_count(m));
    return HK_OK;
}

enum hk_status hk_infer_predict(struct hk_worker *wk, struct hk_model *m, const float *x, int n, float *probs,
                                struct hk_error *err)
{
    struct infer_call c = {.op = OP_PREDICT, .m = m, .x = x, .n = n, .out = probs};
    return n > 0 ? run_call(wk, &c, err) : HK_OK;
}

enum hk_status hk_infer_predict_files(struct hk_worker *wk, struct hk_model *m, const struct hk_infer_prep *prep,
                                      const char *const *paths, int n, float *probs, struct hk_infer_file *files,
                                      struct hk_error *err)
{
    struct hk_shape in = hk_model_input(m);
    size_t size = hk_shape_size(in), k = hk_shape_size(hk_model_output(m));
    float *x = malloc((size_t)(n > 0 ? n : 1) * size * sizeof *x), *got = malloc((size_t)(n > 0 ? n : 1) * k * sizeof *got);
    unsigned char *pix = malloc((size_t)in.h * in.w * 3);
    int *row = malloc((size_t)(n > 0 ? n : 1) * sizeof *row), good = 0;
    enum hk_status st = HK_OK;
    if (!x || !got || !pix || !row)
        st = hk_fail(err, HK_ENOMEM, "out of memory for %d pictures", n);
    for (int i = 0; st == HK_OK && i < n; i++) {
        struct hk_error e;
        struct stat sb;
        files[i].reason[0] = '\0';
        row[i] = -1;
        if (stat(paths[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            snprintf(files[i].reason, sizeof files[i].reason, "a folder that cannot be read");
        else if (hk_infer_load(m, prep, paths[i], pix, x + (size_t)good * size, &e) != HK_OK)
            snprintf(files[i].reason, sizeof files[i].reason, "%s", e.msg);
        else
            row[i] = good++;
    }
    if (st == HK_OK)
        st = hk_infer_predict(wk, m, x, good, got, err);
    for (int i = 0; st == HK_OK && i < n; i++)
        if (row[i] >= 0)
            memcpy(probs + (size_t)i * k, got + (size_t)row[i] * k, k * sizeof *probs);
    free(x);
    free(got);
    free(pix);
    free(row);
    return st;
}

enum hk_status hk_infer_evaluate_here(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                      double *loss, double *accuracy, float *probs, struct hk_error *err)
{
    return hk_infer_evaluate_cached(m, ds, rescale, batch, NULL, loss, accuracy, probs, err);
}

enum hk_status hk_infer_evaluate_cached(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                        struct hk_feature_cache *fc, double *loss, double *accuracy, float *probs,
                                        struct hk_error *err)
{
    return evaluate_pass(m, ds, rescale, batch, fc, 0, loss, accuracy, probs, err);
}

enum hk_status hk_infer_evaluate(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds, float rescale,
                                 int batch, double *loss, double *accuracy, float *probs, struct hk_error *err)
{
    struct infer_call c = {.op = OP_EVALUATE, .m = m, .ds = ds, .rescale = rescale, .n = batch, .loss = loss,
                           .accuracy = accuracy, .out = probs};
    return run_call(wk, &c, err);
}

enum hk_status hk_infer_evaluate_with(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                      float rescale, int batch, struct hk_feature_cache *fc, double *loss,
                                      double *accuracy, float *probs, struct hk_error *err)
{
    struct infer_call c = {.op = OP_EVALUATE, .m = m, .ds = ds, .rescale = rescale, .fc = fc, .n = batch,
                           .loss = loss, .accuracy = accuracy, .out = probs};
    return run_call(wk, &c, err);
}

enum hk_status hk_infer_evaluate_flip(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                      float rescale, int batch, double *loss, float *probs, struct hk_error *err)
{
    struct infer_call c = {.op = OP_EVALUATE_FLIP, .m = m, .ds = ds, .rescale = rescale, .n = batch, .loss = loss,
                           .out = probs};
    return run_call(wk, &c, err);
}

enum hk_status hk_infer_activation(struct hk_worker *wk, struct hk_model *m, const float *x, int layer, float *act,
                                   struct hk_error *err)
{
    struct infer_call c = {.op = OP_ACTIVATION, .m = m, .x = x, .layer = layer, .out = act};
    enum hk_status st = check_layer(m, layer, err);
    return st == HK_OK ? run_call(wk, &c, err) : st;
}

enum hk_status hk_infer_set_weight(struct hk_worker *wk, struct hk_model *m, int layer, int bias, size_t index,
                                   float value, float *before, struct hk_error *err)
{
    enum hk_status st = check_layer(m, layer, err);
    if (st != HK_OK)
        return st;
    const struct hk_layer *l = hk_model_layer(m, layer);
    size_t count = bias ? l->bcount : l->wcount;
    if (index >= count)
        return hk_fail(err, HK_EINVAL, "%s/%s has %zu values, not [%zu]", l->name, bias ? "bias" : "kernel", count,
                       index);
    struct infer_call c = {.op = OP_SET_WEIGHT, .m = m, .layer = layer, .out = (bias ? l->b : l->w) + index,
                           .value = value};
    st = run_call(wk, &c, err);
    if (st == HK_OK && before)
        *before = c.value;
    return st;
}

enum hk_status hk_infer_weights(struct hk_worker *wk, struct hk_model *m, int layer, float *w, struct hk_error *err)
{
    struct infer_call c = {.op = OP_WEIGHTS, .m = m, .layer = layer, .out = w};
    enum hk_status st = check_layer(m, layer, err);
    return st == HK_OK ? run_call(wk, &c, err) : st;
}
