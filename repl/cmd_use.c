/* cmd_use.c: using a trained model: predict pictures (files or whole folders, to the screen or a
 * CSV file) and evaluate a loaded set (loss, accuracy, balanced accuracy, precision, recall, F1,
 * ROC AUC, the confusion matrix and the worst-classified files). The model work is the core's
 * (infer.h: on the compute worker, between two batches when a run is going); this file parses and
 * formats. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "csv.h"
#include "folder.h"
#include "infer.h"
#include "metrics.h"

#define PREDICT_CHUNK 32       /* pictures decoded, then predicted, at a time */

/* One picture to predict and where it came from. */
struct predict_item {
    const char *path;
    int word;          /* the command word it came from */
    int in_folder;     /* found inside a folder: a failure is listed, not an error */
};

/* Predict and report up to PREDICT_CHUNK items; *failed counts the pictures that could not be
 * read. Returns -1 when the model failed. */
static int predict_chunk(struct shell *sh, const struct hk_words *w, struct predict_item *items, int n,
                         float *probs, struct csv *out, int *rc, size_t *failed)
{
    int k = (int)hk_shape_size(hk_model_output(sh->model));
    const char *paths[PREDICT_CHUNK];
    struct hk_infer_file files[PREDICT_CHUNK];
    struct hk_infer_prep prep = {&sh->limits, sh->rescale};
    struct hk_error err;
    for (int i = 0; i < n; i++)
        paths[i] = items[i].path;
    if (hk_infer_predict_files(sh->worker, sh->model, &prep, paths, n, probs, files, &err) != HK_OK) {
        *rc = shell_error(sh, w, 0, "%s", err.msg);
        return -1;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; !files[i].reason[0] && j < k; j++) {
            float v = probs[(size_t)i * k + j];
            if (!isfinite(v)) {
                *rc = shell_error(sh, w, items[i].word, "%s: the model's output is %s: its weights have blown up "
                                  "(model reset, or model load a saved model)", items[i].path, isnan(v) ? "nan" : "inf");
                return -1;
            }
        }
    for (int i = 0; i < n; i++) {
        const char *path = items[i].path;
        if (files[i].reason[0]) {
            ++*failed;
            if (out) {
                csv_field(out, path);
                csv_field(out, "");
                csv_field(out, "");
                csv_field(out, files[i].reason);
                csv_end_row(out);
            }
            if (items[i].in_folder && !(out && out->stream)) /* on standard output the CSV row says it */
                shell_print(sh, "skipped %s: %s\n", path, files[i].reason);
            else
                *rc = shell_error(sh, w, items[i].word, "%s: %s", path, files[i].reason);
            continue;
        }
        const float *p = probs + (size_t)i * k;
        double prob;
        int best = hk_infer_decide(p, k, sh->threshold, &prob);
        char buf[32];
        const char *name = shell_class_name(sh, best, buf, sizeof buf);
        if (out) {
            csv_field(out, path);
            csv_field(out, name);
            csv_fieldf(out, "%.6f", prob);
            csv_field(out, "");
            csv_end_row(out);
            continue;
        }
        shell_print(sh, "%s: %s %.4f", path, name, prob);
        if (k == 1)
            shell_print(sh, "  (sigmoid %.4f = P(%s))", (double)p[0], shell_class_name(sh, 1, buf, sizeof buf));
        shell_print(sh, "\n");
    }
    return 0;
}

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_predict(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, HK_LEX_MAX_WORDS))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    int at = arg_option(w, "out");
    const char *out_path = at >= 0 ? w->w[at].value : NULL;
    if (out_path && !*out_path)
        return shell_error(sh, w, at, "out= needs a file name, e.g. out=predictions.csv");
    struct hk_shape in = hk_model_input(sh->model);
    if (in.c != 3)
        return shell_error(sh, w, 0, "predict needs a model with 3 input channels");
    size_t k = hk_shape_size(hk_model_output(sh->model));

    /* the pictures: named files as they are, each folder's files (recursively) in its place */
    struct folder_list files = {0};
    size_t first[HK_LEX_MAX_WORDS + 1] = {0}, nwords = 0;
    char folder[HK_LEX_MAX_WORDS] = {0};
    int rc = 0, folders = 0;
    for (int i = arg; i < w->count && !rc; i++) {
        first[i] = files.count;
        if (w->w[i].key)
            continue;
        if (!(folder[i] = (char)is_folder(w->w[i].text))) {
            nwords++;
            continue;
        }
        folders++;
        int e = folder_list_files(w->w[i].text, &files);
        if (e)
            rc = shell_error(sh, w, i, "%s: %s", w->w[i].text, strerror(e));
        else if (files.count == first[i])
            shell_warn(sh, "%s: no files in this folder", w->w[i].text);
    }
    first[w->count] = files.count;
    size_t total = files.count + nwords, n = 0;
    struct predict_item *items = calloc(total ? total : 1, sizeof *items);
    float *probs = malloc(PREDICT_CHUNK * k * sizeof *probs);
    if (!rc && (!items || !probs))
        rc = shell_error(sh, w, 0, "out of memory");
    for (int i = arg; i < w->count && !rc; i++) {
        if (w->w[i].key)
            continue;
        if (!folder[i])
            items[n++] = (struct predict_item){w->w[i].text, i, 0};
        for (size_t f = first[i]; f < first[i + 1]; f++)
            items[n++] = (struct predict_item){files.paths[f], i, 1};
    }
    struct csv csv;
    int writing = 0;
    if (!rc && out_path) {
        int e = csv_open(&csv, out_path);
        if (e)
            rc = shell_error(sh, w, at, "%s: %s", out_path, csv_strerror(e));
        writing = !e;
    }
    if (rc)
        goto out;
    if (writing) {
        csv_field(&csv, "path");
        csv_field(&csv, "class");
        csv_field(&csv, "probability");
        csv_field(&csv, "error");
        csv_end_row(&csv);
    }
    size_t failed = 0;
    for (size_t s = 0; s < n; s += PREDICT_CHUNK) {
        int m = n - s < PREDICT_CHUNK ? (int)(n - s) : PREDICT_CHUNK;
        if (predict_chunk(sh, w, items + s, m, probs, writing ? &csv : NULL, &rc, &failed))
            goto out;
    }
    if (writing) {
        writing = 0;
        int e = csv_commit(&csv);
        if (e) {
            rc = shell_error(sh, w, at, "%s: %s", out_path, csv_strerror(e));
            goto out;
        }
        if (!csv.stream)
            shell_print(sh, "wrote %s (%zu pictures predicted, %zu unreadable)\n", out_path, n - failed, failed);
    } else if (folders)
        shell_print(sh, "%zu pictures predicted, %zu unreadable\n", n - failed, failed);
out:
    if (writing)
        csv_abort(&csv);
    folder_list_free(&files);
    free(items);
    free(probs);
    return rc;
}

/* The class named (or numbered) by word i of the set's classes, or -1 after reporting. */
static int arg_class(struct shell *sh, const struct hk_words *w, int i, const struct hk_dataset *ds)
{
    const char *t = w->w[i].value;
    int idx;
    if (hk_parse_int(t, &idx)) {
        if (idx >= 0 && idx < ds->class_count)
            return idx;
        return shell_error(sh, w, i, "no class %d; the classes are 0 to %d", idx, ds->class_count - 1);
    }
    for (int k = 0; k < ds->class_count; k++)
        if (!strcmp(ds->class_names[k], t))
            return k;
    char list[256] = "";
    const char *names[HK_TRAIN_MAX_CLASSES + 1] = {NULL}; /* hk_closest wants a NULL-terminated list */
    for (int k = 0, len = 0; k < ds->class_count && k < HK_TRAIN_MAX_CLASSES; k++) {
        names[k] = ds->class_names[k];
        if (len < (int)sizeof list - 40)
            len += snprintf(list + len, sizeof list - (size_t)len, "%s%s", k ? ", " : "", names[k]);
    }
    const char *near = hk_closest(t, names);
    if (near)
        return shell_error(sh, w, i, "no class '%s'; did you mean '%s'?", t, near);
    return shell_error(sh, w, i, "no class '%s'; the classes are: %s", t, list);
}

static void print_metric(struct shell *sh, const char *name, double v, const char *note)
{
    if (isnan(v))
        shell_print(sh, "  %-18s undefined%s%s\n", name, *note ? "  " : "", note);
    else
        shell_print(sh, "  %-18s %.4f%s%s\n", name, v, *note ? "   " : "", note);
}

/* The confusion matrix with class names, and each class's recall after its row. */
static void print_confusion(struct shell *sh, const struct hk_dataset *ds, const size_t *cm, const double *recall)
{
    int k = ds->class_count, width = 6;
    for (int c = 0; c < k; c++) {
        int len = (int)strlen(ds->class_names[c]);
        width = len > width ? len : width;
    }
    width = width > 20 ? 20 : width;
    shell_print(sh, "confusion matrix (rows: true class, columns: predicted)\n  %-*s", width, "");
    for (int c = 0; c < k; c++)
        shell_print(sh, "  %*.*s", width, width, ds->class_names[c]);
    shell_print(sh, "  %*s\n", 7, "recall");
    for (int t = 0; t < k; t++) {
        shell_print(sh, "  %-*.*s", width, width, ds->class_names[t]);
        for (int p = 0; p < k; p++)
            shell_print(sh, "  %*zu", width, cm[(size_t)t * k + p]);
        if (isnan(recall[t]))
            shell_print(sh, "  %7s\n", "-");
        else
            shell_print(sh, "  %7.4f\n", recall[t]);
    }
}

/* The `count` pictures whose true class got the lowest probability. */
static int print_worst(struct shell *sh, const struct hk_words *w, const struct hk_dataset *ds, const float *probs,
                       int k, const int *pred, size_t count)
{
    size_t n = ds->count;
    double *p_true = malloc(n * sizeof *p_true);
    size_t *idx = malloc((count < n ? count : n) * sizeof *idx + 1);
    struct hk_error err;
    if (!p_true || !idx) {
        free(p_true);
        free(idx);
        return shell_error(sh, w, 0, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int y = ds->labels[i];
        p_true[i] = k == 1 ? (y ? probs[i] : 1.0 - (double)probs[i]) : probs[i * (size_t)k + (size_t)y];
    }
    size_t m = hk_metrics_worst(p_true, n, count, idx, &err);
    if (m) {
        shell_print(sh, "the %zu worst (lowest probability given to the true class):\n", m);
        shell_print(sh, "  %-10s %-14s %-14s %s\n", "P(true)", "true", "predicted", "file");
    }
    for (size_t j = 0; j < m; j++) {
        size_t i = idx[j];
        shell_print(sh, "  %-10.4g %-14s %-14s %s\n", p_true[i], ds->class_names[ds->labels[i]],
                    ds->class_names[pred[i]], ds->paths[i]);
    }
    free(p_true);
    free(idx);
    return 0;
}

/* Precision, recall, F1 and ROC AUC for the positive class: score[i] >= cut predicts it, and
 * auc_score ranks the pictures. Returns 0, or -1 after reporting. */
static int print_positive(struct shell *sh, const struct hk_words *w, const struct hk_dataset *ds, int positive,
                          const double *score, const double *auc_score, const int *is_pos, double cut)
{
    struct hk_binary_metrics b;
    struct hk_error err;
    double auc = NAN;
    char note[600];
    const char *pos = ds->class_names[positive];
    if (hk_metrics_binary(score, is_pos, ds->count, cut, &b, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    if (b.tp + b.fp)
        snprintf(note, sizeof note, "(of the %zu predicted %s, %zu are)", b.tp + b.fp, pos, b.tp);
    else
        snprintf(note, sizeof note, "(nothing predicted %s)", pos);
    print_metric(sh, "precision", b.precision, note);
    if (b.tp + b.fn)
        snprintf(note, sizeof note, "(of the %zu %s, %zu found)", b.tp + b.fn, pos, b.tp);
    else
        snprintf(note, sizeof note, "(no %s pictures)", pos);
    print_metric(sh, "recall", b.recall, note);
    print_metric(sh, "F1", b.f1, "");
    enum hk_status st = hk_metrics_roc_auc(auc_score, is_pos, ds->count, &auc, &err);
    if (st != HK_OK && st != HK_EINVAL)
        return shell_error(sh, w, 0, "%s", err.msg);
    snprintf(note, sizeof note, "(needs both classes; the set has %s %s pictures)", b.tp + b.fn ? "only" : "no",
             pos);
    print_metric(sh, "ROC AUC", auc, st == HK_OK ? "" : note);
    return 0;
}

/* Warn when the classes recorded in the loaded model file are not the set's (by name, in
 * order): its labels are then compared with outputs that meant other classes. */
static void warn_other_classes(struct shell *sh, const struct hk_dataset *ds, const char *which)
{
    int same = sh->nclasses == ds->class_count;
    for (int k = 0; same && k < ds->class_count; k++)
        same = !strcmp(sh->classes[k], ds->class_names[k]);
    if (!sh->nclasses || same)
        return;
    char model[512] = "", set[512] = "";
    for (int k = 0; k < sh->nclasses; k++)
        snprintf(model + strlen(model), sizeof model - strlen(model), " %s", sh->classes[k]);
    for (int k = 0; k < ds->class_count; k++)
        snprintf(set + strlen(set), sizeof set - strlen(set), " %s", ds->class_names[k]);
    shell_warn(sh, "the model file names the classes%s, the %s set%s; labels are compared by number", model, which,
               set);
}

int cmd_evaluate(struct shell *sh, const struct hk_words *w, int arg)
{
    if (evaluate_under_attack(w, arg))
        return cmd_evaluate_attack(sh, w, arg);
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    const char *which = w->w[arg].text;
    const struct hk_dataset *ds = !strcmp(which, "train") ? sh->train : !strcmp(which, "val") ? sh->val : NULL;
    if (strcmp(which, "train") && strcmp(which, "val"))
        return shell_error(sh, w, arg, "expected train or val, got '%s'", which);
    if (!ds)
        return shell_error(sh, w, arg, "no %s set loaded; use: data %s FOLDER", which, which);
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet");
    warn_other_classes(sh, ds, which);
    struct hk_error err;
    struct hk_train_config cfg = {.epochs = 1, .batch = 32, .until = HK_METRIC_COUNT};
    if (hk_train_check(sh->model, ds, NULL, &cfg, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    if (!ds->count)
        return shell_error(sh, w, arg, "the %s set has no pictures", which);
    int k = (int)hk_shape_size(hk_model_output(sh->model)), classes = ds->class_count;
    double threshold = 0.5;
    int positive = k == 1 ? 1 : -1, worst = 5, batch = 32, at, choose = 0, given = 0;
    if ((at = arg_option(w, "threshold")) >= 0) {
        if (k != 1)
            return shell_error(sh, w, at, "threshold= is for a model with one sigmoid output; this one has %d "
                               "softmax outputs and predicts the most probable class", k);
        choose = !strcmp(w->w[at].value, "best");
        given = !choose;
        if (given && arg_float(sh, w, at, 0, 1, &threshold))
            return -1;
    }
    if ((at = arg_option(w, "positive")) >= 0 && (positive = arg_class(sh, w, at, ds)) < 0)
        return -1;
    if ((at = arg_option(w, "worst")) >= 0 && arg_int(sh, w, at, 0, 1000000, &worst))
        return -1;
    if ((at = arg_option(w, "batch")) >= 0 && arg_int(sh, w, at, 1, 4096, &batch))
        return -1;
    int flip = 0;
    if ((at = arg_option(w, "tta")) >= 0) {
        flip = !strcmp(w->w[at].value, "flip");
        if (!flip && strcmp(w->w[at].value, "none"))
            return shell_error(sh, w, at, "tta= is flip (each picture and its mirror image, outputs averaged) or "
                               "none, got '%s'", w->w[at].value);
    }

    size_t n = ds->count;
    float *probs = malloc(n * (size_t)k * sizeof *probs);
    double *score = malloc(n * sizeof *score), *auc_score = malloc(n * sizeof *auc_score);
    int *pred = malloc(n * sizeof *pred), *is_pos = malloc(n * sizeof *is_pos);
    size_t *cm = malloc((size_t)classes * classes * sizeof *cm);
    double *recall = malloc((size_t)classes * sizeof *recall);
    int rc = 0;
    if (!probs || !score || !auc_score || !pred || !is_pos || !cm || !recall) {
        rc = shell_error(sh, w, 0, "out of memory");
        goto out;
    }
    double loss;
    /* the last run's features of this set, when they still hold (checked on the worker) */
    struct hk_feature_cache *fc = sh->run && sh->run->val == ds ? sh->run->cache[1]
                                  : sh->run && sh->run->train == ds ? sh->run->cache[0] : NULL;
    if ((flip ? hk_infer_evaluate_flip(sh->worker, sh->model, ds, sh->rescale, batch, &loss, probs, &err)
              : hk_infer_evaluate_with(sh->worker, sh->model, ds, sh->rescale, batch, fc, &loss, NULL, probs, &err)) !=
        HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto out;
    }
    for (size_t i = 0; i < n * (size_t)k; i++)
        if (isnan(probs[i])) {
            rc = shell_error(sh, w, 0, "the model's output for %s is not a number; the weights have diverged "
                             "(model reset, or a lower lr)", ds->paths[i / (size_t)k]);
            goto out;
        }
    if (k == 1 && choose) {
        double t, ba;
        if (hk_metrics_best_threshold(probs, ds->labels, n, &t, &ba, &err) != HK_OK) {
            rc = shell_error(sh, w, arg_option(w, "threshold"), "%s", err.msg);
            goto out;
        }
        sh->threshold = (float)(round(t * 1e4) / 1e4); /* 4 decimals: the same on every machine */
        if (!(sh->threshold > 0 && sh->threshold < 1))
            sh->threshold = t < 0.5 ? 1e-4f : 1.0f - 1e-4f;
        shell_print(sh, "threshold %.4f on the output: the best balanced accuracy on %s (%.4f); kept with the model "
                    "for predict, evaluate and model save (choose it on pictures held out of training, not on the "
                    "validation set you report)\n", (double)sh->threshold, which, ba);
    }
    if (k == 1 && !given) /* the model's threshold is on its output, P(class 1) */
        threshold = positive == 0 ? 1.0 - (double)sh->threshold : (double)sh->threshold;
    /* Sigmoid: P(positive) >= threshold predicts the positive class. For class 0 that is 1 - p;
     * the AUC ranks -p instead, which keeps outputs that round to 1 - p == 1 apart. Softmax: the
     * most probable class; the positive class (if any) is scored by its own probability. */
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)k;
        is_pos[i] = ds->labels[i] == positive;
        if (k == 1) {
            score[i] = positive == 1 ? (double)p[0] : 1.0 - (double)p[0];
            auc_score[i] = positive == 1 ? (double)p[0] : -(double)p[0];
            pred[i] = score[i] >= threshold ? positive : 1 - positive;
        } else {
            hk_metrics_predict(p, 1, k, 0.5, &pred[i]);
            score[i] = pred[i] == positive;
            auc_score[i] = positive >= 0 ? (double)p[positive] : 0;
        }
    }
    double accuracy, balanced;
    if (hk_metrics_confusion(ds->labels, pred, n, classes, cm, &err) != HK_OK ||
        hk_metrics_summary(cm, classes, &accuracy, &balanced, recall, &err) != HK_OK) {
        rc = shell_error(sh, w, 0, "%s", err.msg);
        goto out;
    }
    shell_print(sh, "%s: %zu pictures (", which, n);
    for (int t = 0; t < classes; t++)
        shell_print(sh, "%s%s %zu", t ? ", " : "", ds->class_names[t], ds->class_counts[t]);
    shell_print(sh, ")  loss %.4f%s\n", loss, flip ? "  (tta=flip: outputs averaged with the mirror image's)"
                                                 : "");
    if (positive >= 0) {
        const char *pos = ds->class_names[positive];
        if (k == 1 && positive == 1)
            shell_print(sh, "positive class: %s (class 1, whose probability the sigmoid gives); predicted %s when "
                        "P(%s) >= %g\n", pos, pos, pos, threshold);
        else if (k == 1)
            shell_print(sh, "positive class: %s (class 0: P(%s) = 1 - the sigmoid's output); predicted %s when "
                        "P(%s) >= %g\n", pos, pos, pos, pos, threshold);
        else
            shell_print(sh, "positive class: %s (class %d), against the rest\n", pos, positive);
    }
    print_metric(sh, "accuracy", accuracy, "");
    char note[64];
    int present = 0;
    for (int t = 0; t < classes; t++)
        present += ds->class_counts[t] > 0;
    snprintf(note, sizeof note, "(mean recall over the %d class%s%s)", present,
             present == 1 ? "" : "es", present == classes ? "" : " present");
    print_metric(sh, "balanced accuracy", balanced, note);
    if (positive >= 0 && print_positive(sh, w, ds, positive, score, auc_score, is_pos, k == 1 ? threshold : 0.5))
        rc = -1;
    else
        print_confusion(sh, ds, cm, recall);
    if (!rc && worst > 0)
        rc = print_worst(sh, w, ds, probs, k, pred, (size_t)worst);
out:
    free(probs);
    free(score);
    free(auc_score);
    free(pred);
    free(is_pos);
    free(cm);
    free(recall);
    return rc;
}
