/* modelfile_train.c: the full training state in a model file's header (HK_MODELFILE_STATE_TRAINING):
 *   train_run epochs=N batch=N seed=N rescale=X images=N classes=N data_sha256=HEX
 *             until=METRIC|none until_op=ge|gt|le|lt until_value=X class_weight=W0,W1,...
 *   train_augment rotation=X width_shift=X height_shift=X shear=X zoom=LO,HI flip=none|horizontal|vertical|both
 *                 brightness=LO,HI fill=nearest|constant|reflect|wrap cval=N
 *   train_position epoch=N batch=N first_epoch=N loss_sum=X correct=N seen=N batch_losses=N
 *   train_checkpoint monitor=METRIC best=X|none        (only when the run had a checkpoint)
 *   train_history EPOCH LOSS ACCURACY VAL_LOSS VAL_ACCURACY SECONDS IMAGES_PER_S   (per epoch)
 * Floats are written in their shortest exact form, doubles with 17 digits, a missing value as
 * nan. Every line is checked on reading: each key exactly once, numbers in range, the position
 * inside the run, the history numbered 1, 2, ... and as long as the position says. */
#include "modelfile_format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static const char *const cmp_names[] = {"ge", "gt", "le", "lt"}; /* enum hk_compare order */

static void put_double(struct mf_buf *h, double v)
{
    if (!isfinite(v))
        mf_buf_str(h, "nan"); /* also an infinite rate from a zero duration: "no value" */
    else
        mf_buf_printf(h, "%.17g", v);
}

static void put_float(struct mf_buf *h, float v)
{
    char tmp[64];
    hk_format_float(tmp, sizeof tmp, v);
    mf_buf_str(h, tmp);
}

void mf_train_header(struct mf_buf *h, const struct hk_train_state *s)
{
    const struct hk_train_config *c = &s->config;
    mf_buf_printf(h, "train_run epochs=%d batch=%d seed=%llu rescale=", c->epochs, c->batch,
                  (unsigned long long)c->seed);
    put_float(h, c->rescale);
    mf_buf_printf(h, " images=%zu classes=%d data_sha256=%s until=%s until_op=%s until_value=", s->images,
                  s->class_count, s->data_sha256[0] ? s->data_sha256 : "none",
                  c->until == HK_METRIC_COUNT ? "none" : hk_metric_name(c->until), cmp_names[c->until_cmp]);
    put_double(h, c->until_value);
    mf_buf_str(h, " class_weight=");
    for (int i = 0; i < s->class_count; i++) {
        if (i)
            mf_buf_str(h, ",");
        put_float(h, c->class_weight[i]);
    }
    const struct hk_augment *a = &c->augment;
    mf_buf_str(h, "\ntrain_augment rotation=");
    put_float(h, a->rotation_range);
    mf_buf_str(h, " width_shift=");
    put_float(h, a->width_shift);
    mf_buf_str(h, " height_shift=");
    put_float(h, a->height_shift);
    mf_buf_str(h, " shear=");
    put_float(h, a->shear_range);
    mf_buf_str(h, " zoom=");
    put_float(h, a->zoom_lo);
    mf_buf_str(h, ",");
    put_float(h, a->zoom_hi);
    mf_buf_printf(h, " flip=%s brightness=", hk_augment_flip_name(a));
    put_float(h, a->brightness_lo);
    mf_buf_str(h, ",");
    put_float(h, a->brightness_hi);
    mf_buf_printf(h, " fill=%s cval=%d\n", hk_augment_fill_name(a->fill), a->cval);
    const struct hk_train_position *p = &s->pos;
    mf_buf_printf(h, "train_position epoch=%d batch=%d first_epoch=%d loss_sum=", p->epoch, p->batch,
                  p->first_epoch);
    put_double(h, p->loss_sum);
    mf_buf_printf(h, " correct=%ld seen=%ld batch_losses=%zu\n", p->correct, p->seen, s->nbatches);
    if (s->monitor != HK_METRIC_COUNT) {
        mf_buf_printf(h, "train_checkpoint monitor=%s best=", hk_metric_name(s->monitor));
        if (s->has_best)
            put_double(h, s->best);
        else
            mf_buf_str(h, "none");
        mf_buf_str(h, "\n");
    }
    for (size_t i = 0; i < s->nepochs; i++) {
        mf_buf_printf(h, "train_history %d", s->epochs[i].epoch);
        for (int k = 0; k < HK_METRIC_COUNT; k++) {
            mf_buf_str(h, " ");
            put_double(h, s->epochs[i].v[k]);
        }
        mf_buf_str(h, "\n");
    }
}

/* ---- reading ---------------------------------------------------------------------------- */

/* The values of a line's key=value words: each key of keys[] exactly once, nothing else. */
static enum hk_status take_options(const struct hk_words *ws, const char *const *keys, int nkeys, const char **vals,
                                   const struct mf_where *w, struct hk_error *err)
{
    for (int k = 0; k < nkeys; k++)
        vals[k] = NULL;
    for (int i = 1; i < ws->count; i++) {
        const struct hk_word *x = &ws->w[i];
        int k = 0;
        while (x->key && k < nkeys && strcmp(keys[k], x->key) != 0)
            k++;
        if (!x->key || k == nkeys)
            return mf_fail_line(err, HK_EFORMAT, w, "%s: unexpected '%.40s'", ws->w[0].text, x->text);
        if (vals[k])
            return mf_fail_line(err, HK_EFORMAT, w, "%s: %s is given twice", ws->w[0].text, keys[k]);
        vals[k] = x->value;
    }
    for (int k = 0; k < nkeys; k++)
        if (!vals[k])
            return mf_fail_line(err, HK_EFORMAT, w, "%s: missing %s=", ws->w[0].text, keys[k]);
    return HK_OK;
}

/* A whole number in [lo, hi]. */
static int get_u64_in(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return hk_parse_u64(s, out) && *out >= lo && *out <= hi;
}

static int get_int_in(const char *s, int lo, int hi, int *out)
{
    uint64_t v;
    if (!get_u64_in(s, (uint64_t)lo, (uint64_t)hi, &v))
        return 0;
    *out = (int)v;
    return 1;
}

/* A finite double, or NaN when allow_nan and s is "nan". */
static int get_double(const char *s, int allow_nan, double *out)
{
    if (allow_nan && strcmp(s, "nan") == 0) {
        *out = NAN;
        return 1;
    }
    return hk_parse_float(s, out);
}

/* A finite float >= 0. */
static int get_float(const char *s, float *out)
{
    double v;
    if (!hk_parse_float(s, &v) || v < 0 || !isfinite((float)v))
        return 0;
    *out = (float)v;
    return 1;
}

/* "A,B" as two floats >= 0. */
static int get_float_pair(const char *s, float *a, float *b)
{
    const char *comma = strchr(s, ',');
    char first[64];
    if (!comma || (size_t)(comma - s) >= sizeof first)
        return 0;
    memcpy(first, s, (size_t)(comma - s));
    first[comma - s] = '\0';
    return get_float(first, a) && get_float(comma + 1, b);
}

#define STRING_(x) #x
#define STRING(x) STRING_(x) /* a number macro as a string literal */
#define BAD(what) mf_fail_line(err, HK_EFORMAT, w, "%s: " what, ws->w[0].text)

static enum hk_status line_run(struct hk_train_state *s, const struct hk_words *ws, const struct mf_where *w,
                               struct hk_error *err)
{
    static const char *const keys[] = {"epochs", "batch", "seed", "rescale", "images", "classes", "data_sha256",
                                       "until", "until_op", "until_value", "class_weight"};
    const char *v[11];
    enum hk_status st = take_options(ws, keys, 11, v, w, err);
    if (st != HK_OK)
        return st;
    struct hk_train_config *c = &s->config;
    uint64_t images;
    double until_value;
    if (!get_int_in(v[0], 1, 1000000, &c->epochs))
        return BAD("epochs must be a whole number from 1 to 1000000");
    if (!get_int_in(v[1], 1, 65536, &c->batch))
        return BAD("batch must be a whole number from 1 to 65536");
    if (!hk_parse_u64(v[2], &c->seed))
        return BAD("seed must be a whole number below 2^64");
    if (!get_float(v[3], &c->rescale) || !(c->rescale > 0))
        return BAD("rescale must be a positive number");
    if (!get_u64_in(v[4], 1, (uint64_t)INT32_MAX, &images))
        return BAD("images must be a whole number from 1 to 2^31-1");
    s->images = (size_t)images;
    if (!get_int_in(v[5], 2, HK_TRAIN_MAX_CLASSES, &s->class_count))
        return BAD("classes must be a whole number from 2 to " STRING(HK_TRAIN_MAX_CLASSES));
    unsigned char digest[HK_SHA256_BYTES];
    if (strcmp(v[6], "none") != 0 && !hk_sha256_parse_hex(v[6], digest))
        return BAD("data_sha256 must be 64 hex digits or none");
    snprintf(s->data_sha256, sizeof s->data_sha256, "%s", strcmp(v[6], "none") ? v[6] : "");
    c->until = strcmp(v[7], "none") == 0 ? HK_METRIC_COUNT : hk_metric_find(v[7]);
    if (strcmp(v[7], "none") != 0 && (c->until == HK_METRIC_COUNT || c->until > HK_METRIC_VAL_ACCURACY))
        return BAD("until must be loss, accuracy, val_loss, val_accuracy or none");
    int op = 0;
    while (op < 4 && strcmp(cmp_names[op], v[8]) != 0)
        op++;
    if (op == 4)
        return BAD("until_op must be ge, gt, le or lt");
    c->until_cmp = (enum hk_compare)op;
    if (!get_double(v[9], 0, &until_value))
        return BAD("until_value must be a finite number");
    c->until_value = until_value;
    const char *p = v[10];
    for (int i = 0; i < HK_TRAIN_MAX_CLASSES; i++)
        c->class_weight[i] = 1.0f;
    for (int i = 0; i < s->class_count; i++) {
        char one[64];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof one)
            return BAD("class_weight must be one number >= 0 per class, comma-separated");
        memcpy(one, p, len);
        one[len] = '\0';
        if (!get_float(one, &c->class_weight[i]))
            return BAD("class_weight must be one number >= 0 per class, comma-separated");
        p += len;
        if (i + 1 < s->class_count && *p++ != ',')
            return BAD("class_weight must be one number >= 0 per class, comma-separated");
    }
    if (*p)
        return BAD("class_weight has more weights than classes");
    return HK_OK;
}

static enum hk_status line_augment(struct hk_train_state *s, const struct hk_words *ws, const struct mf_where *w,
                                   struct hk_error *err)
{
    static const char *const keys[] = {"rotation", "width_shift", "height_shift", "shear", "zoom", "flip",
                                       "brightness", "fill", "cval"};
    const char *v[9];
    enum hk_status st = take_options(ws, keys, 9, v, w, err);
    if (st != HK_OK)
        return st;
    struct hk_augment *a = &s->config.augment;
    *a = hk_augment_default();
    if (!get_float(v[0], &a->rotation_range) || !get_float(v[1], &a->width_shift) ||
        !get_float(v[2], &a->height_shift) || !get_float(v[3], &a->shear_range) ||
        !get_float_pair(v[4], &a->zoom_lo, &a->zoom_hi) || !get_float_pair(v[6], &a->brightness_lo, &a->brightness_hi))
        return BAD("rotation, width_shift, height_shift and shear must be numbers >= 0; zoom and brightness LO,HI");
    if (!strcmp(v[5], "0,0") || !strcmp(v[5], "0,1") || !strcmp(v[5], "1,0") || !strcmp(v[5], "1,1")) {
        a->horizontal_flip = v[5][0] == '1'; /* files written before flip took the shell's words */
        a->vertical_flip = v[5][2] == '1';
    } else if (!hk_augment_flip_set(a, v[5])) {
        return BAD("flip must be none, horizontal, vertical or both (older files: H,V with 0 or 1 each)");
    }
    if ((a->fill = hk_augment_fill_find(v[7])) == HK_FILL_COUNT)
        return BAD("fill must be nearest, constant, reflect or wrap");
    if (!get_int_in(v[8], 0, 255, &a->cval))
        return BAD("cval must be a whole number from 0 to 255");
    struct hk_error e;
    if (hk_augment_check(a, &e) != HK_OK)
        return mf_fail_line(err, HK_EFORMAT, w, "train_augment: %s", e.msg);
    return HK_OK;
}

static enum hk_status line_position(struct hk_train_state *s, const struct hk_words *ws, const struct mf_where *w,
                                    struct hk_error *err)
{
    static const char *const keys[] = {"epoch", "batch", "first_epoch", "loss_sum", "correct", "seen",
                                       "batch_losses"};
    const char *v[7];
    enum hk_status st = take_options(ws, keys, 7, v, w, err);
    if (st != HK_OK)
        return st;
    struct hk_train_position *p = &s->pos;
    uint64_t correct, seen, nb;
    if (!get_int_in(v[0], 0, 1000000, &p->epoch) || !get_int_in(v[1], 0, INT32_MAX, &p->batch) ||
        !get_int_in(v[2], 0, HK_TRAIN_STATE_MAX_EPOCHS, &p->first_epoch) ||
        !get_u64_in(v[4], 0, (uint64_t)INT32_MAX, &correct) || !get_u64_in(v[5], 0, (uint64_t)INT32_MAX, &seen) ||
        !get_u64_in(v[6], 0, HK_TRAIN_STATE_MAX_BATCHES, &nb))
        return BAD("epoch, batch, first_epoch, correct, seen and batch_losses must be whole numbers in range");
    if (!get_double(v[3], 0, &p->loss_sum) || p->loss_sum < 0)
        return BAD("loss_sum must be a finite number >= 0");
    p->correct = (long)correct;
    p->seen = (long)seen;
    s->nbatches = (size_t)nb;
    return HK_OK;
}

static enum hk_status line_checkpoint(struct hk_train_state *s, const struct hk_words *ws, const struct mf_where *w,
                                      struct hk_error *err)
{
    static const char *const keys[] = {"monitor", "best"};
    const char *v[2];
    enum hk_status st = take_options(ws, keys, 2, v, w, err);
    if (st != HK_OK)
        return st;
    s->monitor = hk_metric_find(v[0]);
    if (s->monitor > HK_METRIC_VAL_ACCURACY)
        return BAD("monitor must be loss, accuracy, val_loss or val_accuracy");
    s->has_best = strcmp(v[1], "none") != 0;
    if (s->has_best && !get_double(v[1], 0, &s->best))
        return BAD("best must be a finite number or none");
    return HK_OK;
}

static enum hk_status line_history(struct hk_train_state *s, const struct hk_words *ws, const struct mf_where *w,
                                   struct hk_error *err)
{
    if (ws->count != 2 + HK_METRIC_COUNT)
        return BAD("expected the epoch and 6 values (loss accuracy val_loss val_accuracy seconds images_per_s)");
    if (s->nepochs == HK_TRAIN_STATE_MAX_EPOCHS)
        return mf_fail_line(err, HK_EFORMAT, w, "more than %d history lines", HK_TRAIN_STATE_MAX_EPOCHS);
    struct hk_epoch_record r;
    if (!get_int_in(ws->w[1].text, 1, HK_TRAIN_STATE_MAX_EPOCHS, &r.epoch) || (size_t)r.epoch != s->nepochs + 1)
        return mf_fail_line(err, HK_EFORMAT, w, "train_history: expected epoch %zu, found '%.20s'", s->nepochs + 1,
                            ws->w[1].text);
    for (int k = 0; k < HK_METRIC_COUNT; k++)
        if (!get_double(ws->w[2 + k].text, 1, &r.v[k]))
            return BAD("the values must be numbers or nan");
    if ((s->nepochs & (s->nepochs - 1)) == 0) { /* grow at powers of two */
        struct hk_epoch_record *e = realloc(s->epochs, (s->nepochs ? 2 * s->nepochs : 1) * sizeof *e);
        if (!e)
            return mf_fail_line(err, HK_ENOMEM, w, "out of memory for the history");
        s->epochs = e;
    }
    s->epochs[s->nepochs++] = r;
    return HK_OK;
}

#undef BAD

enum hk_status mf_train_line(struct mf_plan *p, const struct hk_words *ws, const struct mf_where *w,
                             struct hk_error *err)
{
    static const char *const names[] = {"train_run", "train_augment", "train_position", "train_checkpoint"};
    const char *cmd = ws->w[0].text;
    if (!p->train) {
        if (!(p->train = calloc(1, sizeof *p->train)))
            return mf_fail_line(err, HK_ENOMEM, w, "out of memory");
        p->train->monitor = HK_METRIC_COUNT;
        p->train->config.until = HK_METRIC_COUNT;
    }
    if (strcmp(cmd, "train_history") == 0)
        return line_history(p->train, ws, w, err);
    for (int k = 0; k < 4; k++) {
        if (strcmp(cmd, names[k]) != 0)
            continue;
        if (p->train_lines[k])
            return mf_fail_line(err, HK_EFORMAT, w, "a second %s (the first is on line %d)", cmd, p->train_lines[k]);
        p->train_lines[k] = w->line;
        switch (k) {
        case 0: return line_run(p->train, ws, w, err);
        case 1: return line_augment(p->train, ws, w, err);
        case 2: return line_position(p->train, ws, w, err);
        default: return line_checkpoint(p->train, ws, w, err);
        }
    }
    return mf_fail_line(err, HK_EFORMAT, w, "unknown training-state line '%.40s'", cmd);
}

enum hk_status mf_train_finish(const char *path, struct mf_plan *p, struct hk_error *err)
{
    struct hk_train_state *s = p->train;
    if (!s)
        return HK_OK;
    static const char *const needed[] = {"train_run", "train_augment", "train_position"};
    for (int k = 0; k < 3; k++)
        if (!p->train_lines[k])
            return mf_fail_file(err, HK_EFORMAT, path, "the header has training state but no %s line", needed[k]);
    if (!p->step_line)
        return mf_fail_file(err, HK_EFORMAT, path, "the header has training state but no optimizer_step line");
    const struct hk_train_position *pos = &s->pos;
    int batch = s->config.batch < (int)s->images ? s->config.batch : (int)s->images;
    long batches = (long)((s->images + (size_t)batch - 1) / (size_t)batch);
    if (pos->epoch > s->config.epochs || pos->batch > batches || (pos->epoch == s->config.epochs && pos->batch) ||
        pos->seen > (long)s->images || pos->correct > pos->seen || (pos->batch == 0 && pos->seen))
        return mf_fail_file(err, HK_EFORMAT, path, "header line %d: the position (epoch %d, batch %d, %ld seen) is "
                            "not inside a run of %d epochs of %ld batches", p->train_lines[2], pos->epoch, pos->batch,
                            pos->seen, s->config.epochs, batches);
    if (s->nepochs != (size_t)pos->first_epoch + (size_t)pos->epoch)
        return mf_fail_file(err, HK_EFORMAT, path, "the history has %zu epochs, but the position says %d before the "
                            "run and %d in it", s->nepochs, pos->first_epoch, pos->epoch);
    return HK_OK;
}
