/* cmd_tamper.c: model tampering and finding it. `model diff A.hkm B.hkm` names every tensor whose
 * weights differ between two model files; `model edit LAYER bias[0]=100` changes single weights of
 * the session's model on the compute worker (the Husky AI series' one-number backdoor), and is
 * refused on a model loaded with a pinned hash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "diff.h"
#include "infer.h"
#include "modelfile.h"

#define DIFF_MAX_LISTED 4096

static int load_quiet(struct shell *sh, const struct hk_words *w, int i, struct hk_model **m,
                      struct hk_model_meta *meta)
{
    struct hk_error err;
    memset(meta, 0, sizeof *meta);
    if (hk_modelfile_load(w->w[i].text, NULL, m, meta, &err) != HK_OK)
        return shell_error(sh, w, i, "%s", err.msg);
    return 0;
}

int cmd_model_diff(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 2, 2))
        return -1;
    struct hk_model *a = NULL, *b = NULL;
    struct hk_model_meta ma, mb;
    struct hk_tensor_diff *d = malloc(DIFF_MAX_LISTED * sizeof *d);
    struct hk_error err;
    int rc = 0, ndiff, ntensors;
    memset(&mb, 0, sizeof mb);
    if (!d) {
        rc = shell_error(sh, w, 0, "out of memory");
        memset(&ma, 0, sizeof ma);
        goto out;
    }
    if (load_quiet(sh, w, arg, &a, &ma) || load_quiet(sh, w, arg + 1, &b, &mb)) {
        rc = -1;
        goto out;
    }
    if (hk_model_diff(a, b, d, DIFF_MAX_LISTED, &ndiff, &ntensors, &err) != HK_OK) {
        rc = shell_error(sh, w, arg + 1, "%s", err.msg);
        goto out;
    }
    int same_classes = ma.class_count == mb.class_count;
    for (int c = 0; same_classes && c < ma.class_count; c++)
        same_classes = !strcmp(ma.class_names[c], mb.class_names[c]);
    if (!same_classes)
        shell_print(sh, "the class names differ\n");
    if (ma.rescale != mb.rescale)
        shell_print(sh, "rescale differs: %g and %g\n", (double)ma.rescale, (double)mb.rescale);
    if (!ndiff) {
        shell_print(sh, "the weights are equal: %d tensors, %zu values, bit for bit\n", ntensors,
                    hk_model_param_count(a));
        goto out;
    }
    shell_print(sh, "%d of %d tensors differ:\n", ndiff, ntensors);
    shell_print(sh, "  %-28s %-12s %22s  %s\n", "tensor", "kind", "values that differ", "largest change");
    for (int i = 0; i < ndiff && i < DIFF_MAX_LISTED; i++) {
        const struct hk_layer *l = hk_model_layer(a, d[i].layer);
        char counts[48];
        snprintf(counts, sizeof counts, "%zu of %zu", d[i].differ, d[i].count);
        shell_print(sh, "  %-28s %-12s %22s  %.4g at [%zu]: %.4g -> %.4g\n", d[i].name, l->ops->word, counts,
                    d[i].largest, d[i].at, (double)d[i].before, (double)d[i].after);
    }
out:
    hk_model_free(a);
    hk_model_free(b);
    hk_model_meta_free(&ma);
    hk_model_meta_free(&mb);
    free(d);
    return rc;
}

int cmd_model_edit(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one or: model load FILE");
    if (shell_busy(sh, w))
        return -1;
    int li = arg_layer(sh, w, arg);
    if (li < 0)
        return -1;
    if (sh->pinned)
        return shell_error(sh, w, 0, "the model was loaded with a pinned hash (model load FILE sha256=...): it is not "
                           "edited; load it without sha256= to tamper with it");
    const struct hk_layer *l = hk_model_layer(sh->model, li);
    int edits = 0;
    for (int i = arg + 1; i < w->count; i++) {
        if (!w->w[i].key)
            continue;
        char tensor[16];
        unsigned long idx;
        int used = 0;
        double v;
        if (sscanf(w->w[i].key, "%15[a-z][%lu]%n", tensor, &idx, &used) != 2 || w->w[i].key[used])
            return shell_error(sh, w, i, "expected kernel[I]=X or bias[I]=X (I counts from 0 in the order model "
                               "files store the tensor), got '%s'", w->w[i].text);
        int is_bias = !strcmp(tensor, "bias");
        if (!is_bias && strcmp(tensor, "kernel"))
            return shell_error(sh, w, i, "%s has no tensor '%s'; its tensors are kernel and bias", l->name, tensor);
        size_t count = is_bias ? l->bcount : l->wcount;
        if (!count)
            return shell_error(sh, w, i, "%s (%s) has no %s", l->name, l->ops->word, tensor);
        if (idx >= count)
            return shell_error(sh, w, i, "%s/%s has %zu values (0 to %zu), not [%lu]", l->name, tensor, count,
                               count - 1, idx);
        if (!hk_parse_float(w->w[i].value, &v) || !isfinite((float)v))
            return shell_error(sh, w, i, "expected a finite number, got '%s'", w->w[i].value);
        float before;
        struct hk_error err;
        if (hk_infer_set_weight(sh->worker, sh->model, li, is_bias, idx, (float)v, &before, &err) != HK_OK)
            return shell_error(sh, w, i, "%s", err.msg);
        shell_print(sh, "%s/%s[%lu]: %.4g -> %.4g\n", l->name, tensor, idx, (double)before, (double)(float)v);
        edits++;
    }
    if (!edits)
        return shell_error(sh, w, w->count, "nothing to change; usage: %s (model edit dense_1 bias[0]=100)",
                           sh->usage);
    return 0;
}
