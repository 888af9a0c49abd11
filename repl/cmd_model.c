/* cmd_model.c: defining and changing the model: model new/summary/list/remove/insert/set/reset,
 * the layer commands, compile, and model files: save, load, verify, info and import. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compile_spec.h"
#include "import_tfjs.h"
#include "layer_spec.h"
#include "model_spec.h"
#include "modelfile.h"
#include "save.h"

static int need_model(struct shell *sh, const struct hk_words *w)
{
    if (sh->model)
        return 0;
    return shell_error(sh, w, 0, "no model yet; start one with: model new input=128x128x3");
}

static void format_shape(char *buf, size_t cap, struct hk_shape s)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, cap, "(None, %d)", s.c);
    else
        snprintf(buf, cap, "(None, %d, %d, %d)", s.h, s.w, s.c);
}

static void format_count(char *buf, size_t cap, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", n), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* "N parameters", as Keras's total (batchnorm moving statistics included), then the split when some
 * are not trainable: "N parameters (T trainable, F non-trainable)". */
static void format_params(char *buf, size_t cap, size_t trainable, size_t non_trainable)
{
    char total[32], t[32], nt[32];
    format_count(total, sizeof total, trainable + non_trainable);
    format_count(t, sizeof t, trainable);
    format_count(nt, sizeof nt, non_trainable);
    if (non_trainable)
        snprintf(buf, cap, "%s parameters (%s trainable, %s non-trainable)", total, t, nt);
    else
        snprintf(buf, cap, "%s parameters", total);
}

/* format_params of a model. */
static void format_model_params(char *buf, size_t cap, const struct hk_model *m)
{
    size_t trainable, non_trainable;
    hk_model_param_split(m, &trainable, &non_trainable);
    format_params(buf, cap, trainable, non_trainable);
}

/* A change to the model or its optimizer: a loaded training state no longer describes it. */
static void forget_resume(struct shell *sh)
{
    hk_train_state_free(sh->resume);
    sh->resume = NULL;
}

/* Make m the session's model (the old one is freed). history: the new model's runs, or NULL
 * for none: the epochs of another model are not this one's, and a script gives the same
 * results (epoch numbers, shuffles, dropout) whatever ran before it in the session. */
static void take_model(struct shell *sh, struct hk_model *m, const struct hk_train_state *history)
{
    hk_model_free(sh->model);
    sh->model = m;
    sh->pinned = 0;
    if (sh->run)
        sh->run->model = NULL; /* that run trained another model */
    forget_resume(sh);
    if (!history)
        hk_history_clear(sh->history);
    hk_model_meta_free(&sh->kept); /* a loaded file's provenance is set again by its loader */
}

static void report_change(struct shell *sh, const struct hk_model_change *chg)
{
    forget_resume(sh);
    if (chg->reinitialised[0])
        shell_print(sh, "re-initialised (shapes changed): %s\n", chg->reinitialised);
}

int cmd_model_new(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || shell_busy(sh, w))
        return -1;
    struct hk_model_spec spec;
    struct hk_error err;
    int bad;
    if (hk_model_spec_parse(w, arg, 0, &spec, &bad, &err) != HK_OK)
        return shell_error(sh, w, bad, "%s", err.msg);
    struct hk_model *m = hk_model_new(spec.input, spec.has_seed ? spec.seed : sh->seed, &err);
    if (!m)
        return shell_error(sh, w, arg_option(w, "input"), "%s", err.msg);
    take_model(sh, m, NULL);
    shell_set_classes(sh, NULL, 0);
    shell_set_data_sha256(sh, NULL);
    sh->threshold = 0.5f;
    return 0;
}

int cmd_layer(struct shell *sh, const struct hk_words *w, int arg)
{
    (void)arg;
    if (need_model(sh, w) || shell_busy(sh, w))
        return -1;
    struct hk_layer_spec spec;
    struct hk_error err;
    int bad;
    if (hk_layer_spec_parse(w, 0, &spec, &bad, &err) != HK_OK)
        return shell_error(sh, w, bad, "%s", err.msg);
    if (hk_model_insert(sh->model, hk_model_count(sh->model), &spec, NULL, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    forget_resume(sh);
    return 0;
}

int cmd_model_list(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_model(sh, w))
        return -1;
    struct hk_shape in = hk_model_input(sh->model);
    shell_print(sh, "     input %dx%dx%d\n", in.h, in.w, in.c);
    for (int i = 0; i < hk_model_count(sh->model); i++) {
        const struct hk_layer *l = hk_model_layer(sh->model, i);
        char spec[256];
        hk_layer_spec_format(&l->spec, spec, sizeof spec);
        char shape[64];
        if (l->out.h == 1 && l->out.w == 1)
            snprintf(shape, sizeof shape, "%d", l->out.c);
        else
            snprintf(shape, sizeof shape, "%dx%dx%d", l->out.h, l->out.w, l->out.c);
        shell_print(sh, "%4d %-16s %-44s -> %s%s\n", i, l->name, spec, shape, l->frozen ? " (frozen)" : "");
    }
    return 0;
}

/* One row of a functional model's summary as Keras prints it (layer_utils.print_row, line length
 * 98, columns ending at 32, 53, 65 and 98): a field too long for its column continues on the next
 * lines, broken after "]," "')," "}," or "'," when one fits, else at the column's width. Trailing
 * blanks are dropped. */
static void summary_row(struct shell *sh, const char *name, const char *shape, const char *count, const char *link)
{
    static const int pos[4] = {32, 53, 65, 98};
    static const char *const breaks[] = {"),", "},", "],", "',"};
    const char *left[4] = {name, shape, count, link};
    while (*left[0] || *left[1] || *left[2] || *left[3]) {
        char line[256];
        int n = 0;
        for (int col = 0; col < 4; col++) {
            int space = col < 3 ? 2 : 0, cutoff = pos[col] - (col ? pos[col - 1] : 0) - space;
            int len = (int)strlen(left[col]), fit = len < cutoff ? len : cutoff, best = -1;
            for (int k = 0; k < 4; k++) {
                for (int at = 0; at + 2 <= fit; at++)
                    if (strncmp(left[col] + at, breaks[k], 2) == 0) {
                        if (best < 0 || at + 2 < best)
                            best = at + 2;
                        break;
                    }
            }
            if (best >= 0)
                fit = best;
            if (col == 0)
                line[n++] = ' ';
            memcpy(line + n, left[col], (size_t)fit);
            n += fit + space;
            memset(line + n - space, ' ', (size_t)space);
            left[col] += fit;
            while (n < pos[col])
                line[n++] = ' ';
        }
        while (n > 0 && line[n - 1] == ' ')
            n--;
        line[n] = '\0';
        shell_print(sh, "%s\n", line);
    }
}

/* Keras's summary of a functional model: an InputLayer row and a "Connected to" column. */
static void summary_graph(struct shell *sh, const struct hk_model *m)
{
    const char *rule = "__________________________________________________________________________________________________";
    const char *rule2 = "==================================================================================================";
    char shape[64], count[32], link[2 * HK_LAYER_NAME_MAX + 32];
    shell_print(sh, "Model: \"model\"\n%s\n", rule);
    summary_row(sh, "Layer (type)", "Output Shape", "Param #", "Connected to");
    shell_print(sh, "%s\n", rule2);
    struct hk_shape in = hk_model_input(m);
    snprintf(shape, sizeof shape, "[(None, %d, %d, %d)]", in.h, in.w, in.c);
    summary_row(sh, "input_1 (InputLayer)", shape, "0", "[]");
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        char name[96];
        snprintf(name, sizeof name, "%s (%s)", l->name, hk_layer_keras_class(&l->spec));
        format_shape(shape, sizeof shape, l->out);
        format_count(count, sizeof count, l->wcount + l->bcount + l->scount);
        /* Keras prints the list of inbound tensors: ['a[0][0]', 'b[0][0]'] */
        const char *first = l->input >= 0 ? hk_model_layer(m, l->input)->name : "input_1";
        if (l->input2 >= 0)
            snprintf(link, sizeof link, "['%s[0][0]', '%s[0][0]']", first, hk_model_layer(m, l->input2)->name);
        else
            snprintf(link, sizeof link, "['%s[0][0]']", first);
        shell_print(sh, "\n");
        summary_row(sh, name, shape, count, link);
    }
    shell_print(sh, "%s\n", rule2);
}

int cmd_model_summary(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_model(sh, w))
        return -1;
    const char *rule = "_____________________________________________________________________";
    const char *rule2 = "=====================================================================";
    if (hk_model_is_graph(sh->model)) {
        summary_graph(sh, sh->model);
        rule = "__________________________________________________________________________________________________";
    } else {
        shell_print(sh, "Model: \"sequential\"\n%s\n %-32s %-25s %s\n%s\n", rule, "Layer (type)", "Output Shape",
                    "Param #", rule2);
        for (int i = 0; i < hk_model_count(sh->model); i++) {
            const struct hk_layer *l = hk_model_layer(sh->model, i);
            char name[96], shape[64], count[32];
            snprintf(name, sizeof name, "%s (%s)", l->name, hk_layer_keras_class(&l->spec));
            format_shape(shape, sizeof shape, l->out);
            format_count(count, sizeof count, l->wcount + l->bcount + l->scount);
            shell_print(sh, " %-32s %-25s %s\n", name, shape, count);
            if (i + 1 < hk_model_count(sh->model))
                shell_print(sh, "\n");
        }
        shell_print(sh, "%s\n", rule2);
    }
    size_t trainable, frozen;
    hk_model_param_split(sh->model, &trainable, &frozen);
    char total[32], train[32], non[32];
    format_count(total, sizeof total, trainable + frozen);
    format_count(train, sizeof train, trainable);
    format_count(non, sizeof non, frozen);
    shell_print(sh, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n", total, train, non,
                rule);
    struct hk_optim opt;
    enum hk_loss loss;
    if (hk_model_compiled(sh->model, &opt, &loss)) {
        char line[256];
        hk_compile_format(&opt, loss, line, sizeof line);
        shell_print(sh, "%s\n", line);
    }
    return 0;
}

int cmd_model_remove(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || need_model(sh, w) || shell_busy(sh, w))
        return -1;
    int idx = arg_layer(sh, w, arg);
    if (idx < 0)
        return -1;
    struct hk_model_change chg;
    struct hk_error err;
    char name[32];
    snprintf(name, sizeof name, "%s", hk_model_layer(sh->model, idx)->name);
    if (hk_model_remove(sh->model, idx, &chg, &err) != HK_OK)
        return shell_error(sh, w, arg, "cannot remove %s: %s", name, err.msg);
    shell_print(sh, "removed %s\n", name);
    report_change(sh, &chg);
    return 0;
}

int cmd_model_cut(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || need_model(sh, w) || shell_busy(sh, w))
        return -1;
    int idx = arg_layer(sh, w, arg);
    if (idx < 0)
        return -1;
    int before = hk_model_count(sh->model);
    struct hk_model_change chg;
    struct hk_error err;
    if (hk_model_cut(sh->model, idx, &chg, &err) != HK_OK)
        return shell_error(sh, w, arg, "cannot cut at %s: %s", w->w[arg].text, err.msg);
    sh->threshold = 0.5f; /* it was chosen for the old head */
    shell_set_classes(sh, NULL, 0); /* and these named its outputs */
    struct hk_shape out = hk_model_output(sh->model);
    shell_print(sh, "cut after %s: dropped %d layers, kept %d (output %dx%dx%d); add a head, then compile\n",
                hk_model_layer(sh->model, idx)->name, before - idx - 1, idx + 1, out.h, out.w, out.c);
    report_change(sh, &chg);
    return 0;
}

int cmd_model_input(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || need_model(sh, w) || shell_busy(sh, w))
        return -1;
    int dims[3] = {0, 0, 3}, n = hk_parse_dims(w->w[arg].text, dims);
    if (n < 2 || dims[2] > 4)
        return shell_error(sh, w, arg, "input must look like 128x128x3 (height x width x channels), got '%s'",
                           w->w[arg].text);
    struct hk_model_change chg;
    struct hk_error err;
    if (hk_model_set_input(sh->model, (struct hk_shape){dims[2], dims[0], dims[1]}, &chg, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    struct hk_shape out = hk_model_output(sh->model);
    shell_print(sh, "input %dx%dx%d; output %dx%dx%d\n", dims[0], dims[1], dims[2], out.h, out.w, out.c);
    report_change(sh, &chg);
    return 0;
}

int cmd_model_insert(struct shell *sh, const struct hk_words *w, int arg)
{
    if (need_model(sh, w) || shell_busy(sh, w))
        return -1;
    if (w->count < arg + 2)
        return shell_error(sh, w, w->count, "usage: %s", sh->usage);
    int at;
    if (arg_int(sh, w, arg, 0, hk_model_count(sh->model), &at))
        return -1;
    struct hk_layer_spec spec;
    struct hk_error err;
    int bad;
    if (hk_layer_spec_parse(w, arg + 1, &spec, &bad, &err) != HK_OK)
        return shell_error(sh, w, bad, "%s", err.msg);
    struct hk_model_change chg;
    if (hk_model_insert(sh->model, at, &spec, &chg, &err) != HK_OK)
        return shell_error(sh, w, arg + 1, "%s", err.msg);
    shell_print(sh, "inserted %s at %d\n", hk_model_layer(sh->model, at)->name, at);
    report_change(sh, &chg);
    return 0;
}

int cmd_model_set(struct shell *sh, const struct hk_words *w, int arg)
{
    if (need_model(sh, w) || shell_busy(sh, w))
        return -1;
    if (w->count < arg + 2)
        return shell_error(sh, w, w->count, "usage: %s", sh->usage);
    int idx = arg_layer(sh, w, arg);
    if (idx < 0)
        return -1;
    const struct hk_layer *l = hk_model_layer(sh->model, idx);
    struct hk_layer_spec spec = l->spec;
    struct hk_error err;
    int bad;
    if (hk_layer_spec_parse_args(w, arg + 1, 1, &spec, &bad, &err) != HK_OK)
        return shell_error(sh, w, bad, "%s", err.msg);
    struct hk_model_change chg;
    if (hk_model_replace(sh->model, idx, &spec, &chg, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    char text[256];
    hk_layer_spec_format(&hk_model_layer(sh->model, idx)->spec, text, sizeof text);
    shell_print(sh, "%s is now: %s\n", hk_model_layer(sh->model, idx)->name, text);
    report_change(sh, &chg);
    return 0;
}

static int freeze(struct shell *sh, const struct hk_words *w, int arg, int frozen)
{
    if (arg_count(sh, w, arg, 1, 1) ||
        need_model(sh, w) || shell_busy(sh, w))
        return -1;
    int from, to;
    struct hk_error err;
    if (hk_model_find_range(sh->model, w->w[arg].text, &from, &to, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    int with_weights = hk_model_set_frozen(sh->model, from, to, frozen);
    size_t trainable, non;
    hk_model_param_split(sh->model, &trainable, &non);
    char a[32], b[32];
    format_count(a, sizeof a, trainable);
    format_count(b, sizeof b, trainable + non);
    shell_print(sh, "%s %s", frozen ? "froze" : "unfroze", hk_model_layer(sh->model, from)->name);
    if (to > from)
        shell_print(sh, "..%s (%d layers, %d with weights)", hk_model_layer(sh->model, to)->name, to - from + 1,
                    with_weights);
    shell_print(sh, "; trainable params: %s of %s\n", a, b);
    return 0;
}

int cmd_model_freeze(struct shell *sh, const struct hk_words *w, int arg)
{
    return freeze(sh, w, arg, 1);
}

int cmd_model_unfreeze(struct shell *sh, const struct hk_words *w, int arg)
{
    return freeze(sh, w, arg, 0);
}

int cmd_model_reset(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0) || need_model(sh, w) || shell_busy(sh, w))
        return -1;
    hk_model_reinit(sh->model);
    sh->threshold = 0.5f; /* it was chosen for the old weights */
    shell_set_data_sha256(sh, NULL);
    hk_history_clear(sh->history);
    forget_resume(sh);
    return 0;
}

int cmd_compile(struct shell *sh, const struct hk_words *w, int arg)
{
    (void)arg;
    if (need_model(sh, w) || shell_busy(sh, w))
        return -1;
    struct hk_optim opt;
    enum hk_loss loss;
    struct hk_error err;
    int bad;
    if (hk_compile_parse(w, 0, &opt, &loss, &bad, &err) != HK_OK)
        return shell_error(sh, w, bad, "%s", err.msg);
    if (hk_model_compile(sh->model, &opt, loss, &err) != HK_OK)
        return shell_error(sh, w, 0, "%s", err.msg);
    forget_resume(sh);
    return 0;
}

int cmd_model_save(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || need_model(sh, w))
        return -1;
    int with_optimizer = 0, with_training = 0;
    int at = arg_option(w, "optimizer");
    if (at >= 0 && arg_bool(sh, w, at, &with_optimizer))
        return -1;
    at = arg_option(w, "training");
    if (at >= 0 && arg_bool(sh, w, at, &with_training))
        return -1;
    struct hk_model_meta meta;
    shell_model_meta(sh, &meta);
    struct hk_save_request req = {
        .path = w->w[arg].text,
        .model = sh->model,
        .meta = &meta,
        .sections = (with_optimizer || with_training ? HK_MODELFILE_STATE_OPTIMIZER : 0u) |
                    (with_training ? HK_MODELFILE_STATE_TRAINING : 0u),
        .run = sh->run,
        .checkpoint = sh->checkpoint,
        .loaded = sh->resume,
    };
    struct hk_error err;
    char hex[65];
    if (hk_save_model(sh->worker, &req, hex, &err) != HK_OK)
        return shell_error(sh, w, err.status == HK_EINVAL && with_training ? at : arg, "%s", err.msg);
    if (hex[0])
        shell_print(sh, "saved %s (sha256 %s)\n", req.path, hex);
    return 0;
}

/* The rest of a line on a training state: where the run is. */
static void print_training(struct shell *sh, const struct hk_train_state *s)
{
    shell_print(sh, "epoch %d of %d", s->pos.epoch, s->config.epochs);
    if (s->pos.batch)
        shell_print(sh, " and %d batches of the next", s->pos.batch);
    shell_print(sh, " done, %zu epochs of history, %zu pictures", s->nepochs, s->images);
    if (s->monitor != HK_METRIC_COUNT && s->has_best)
        shell_print(sh, ", best %s %.4f", hk_metric_name(s->monitor), s->best);
    shell_print(sh, "\n");
}

int model_load_file(struct shell *sh, const struct hk_words *w, int arg)
{
    int at = arg_option(w, "sha256");
    struct hk_model *m = NULL;
    struct hk_model_meta meta;
    struct hk_error err;
    memset(&meta, 0, sizeof meta);
    if (hk_modelfile_load(w->w[arg].text, at >= 0 ? w->w[at].value : NULL, &m, &meta, &err) != HK_OK)
        return shell_error(sh, w, at >= 0 && err.status == HK_EINVAL ? at : arg, "%s", err.msg);
    if (meta.training && hk_train_state_restore_history(meta.training, sh->history, &err) != HK_OK) {
        hk_model_free(m);
        hk_model_meta_free(&meta);
        return shell_error(sh, w, arg, "%s", err.msg);
    }
    take_model(sh, m, meta.training);
    sh->rescale = meta.rescale;
    sh->threshold = meta.threshold > 0 ? meta.threshold : 0.5f;
    sh->pinned = at >= 0;
    shell_set_classes(sh, meta.class_names, meta.class_count); /* predict, evaluate and save name them */
    meta.class_names = NULL;
    meta.class_count = 0;
    shell_set_data_sha256(sh, meta.data_sha256); /* model save keeps it */
    meta.data_sha256 = NULL;
    sh->kept.extra = meta.extra; /* and the provenance husky does not interpret */
    sh->kept.extra_count = meta.extra_count;
    meta.extra = NULL;
    meta.extra_count = 0;
    sh->resume = meta.training;
    meta.training = NULL;
    char params[160];
    format_model_params(params, sizeof params, m);
    shell_print(sh, "loaded %s: %d layers, %s", w->w[arg].text, hk_model_count(m), params);
    if (sh->nclasses) {
        shell_print(sh, ", classes");
        for (int i = 0; i < sh->nclasses; i++)
            shell_print(sh, " %s", sh->classes[i]);
    }
    shell_print(sh, "\n");
    if (sh->resume) {
        shell_print(sh, "training state: ");
        print_training(sh, sh->resume);
    }
    hk_model_meta_free(&meta);
    return 0;
}

int cmd_model_load(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || shell_busy(sh, w) ||
        model_load_file(sh, w, arg))
        return -1;
    if (sh->resume)
        shell_print(sh, "continue it with: train resume=yes\n");
    return 0;
}

/* classes=A,B,... of model import into names (owned by meta) for a model of `outputs` outputs. */
static int import_classes(struct shell *sh, const struct hk_words *w, int at, int outputs, struct hk_model_meta *meta)
{
    char list[1024];
    const char *names[HK_TRAIN_MAX_CLASSES];
    int n = 0;
    snprintf(list, sizeof list, "%s", w->w[at].value);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < HK_TRAIN_MAX_CLASSES; t = strtok_r(NULL, ",", &save))
        names[n++] = t;
    int want = outputs == 1 ? 2 : outputs;
    if (n != want)
        return shell_error(sh, w, at, "%d class names for a model with %d outputs; it needs %d", n, outputs, want);
    struct hk_error err;
    if (hk_model_meta_set_classes(meta, names, n, &err) != HK_OK)
        return shell_error(sh, w, at, "%s", err.msg);
    return 0;
}

int cmd_model_import(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1) || shell_busy(sh, w))
        return -1;
    struct hk_model *m;
    struct hk_import_info info;
    struct hk_error err;
    struct hk_model_meta meta;
    hk_model_meta_init(&meta);
    if (hk_import_tfjs(w->w[arg].text, sh->seed, &m, &info, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    int at = arg_option(w, "classes");
    if (at >= 0 && import_classes(sh, w, at, (int)hk_shape_size(hk_model_output(m)), &meta)) {
        hk_model_free(m);
        hk_model_meta_free(&meta);
        return -1;
    }
    take_model(sh, m, NULL);
    sh->threshold = 0.5f;
    shell_set_data_sha256(sh, NULL);
    shell_set_classes(sh, meta.class_names, meta.class_count); /* predict, evaluate and save name them */
    meta.class_names = NULL;
    meta.class_count = 0;
    hk_model_meta_free(&meta);
    char params[160];
    format_model_params(params, sizeof params, m);
    shell_print(sh, "imported %s: %d layers, %s from %d tensors (%llu bytes stored as %s)\n",
                w->w[arg].text, info.layers, params, info.tensors, (unsigned long long)info.weight_bytes,
                info.dtypes[0] ? info.dtypes : "nothing");
    if (info.frozen)
        shell_print(sh, "%d layers frozen, as the file marks them (trainable: false); model unfreeze all to train "
                    "them\n", info.frozen);
    return 0;
}

int cmd_model_verify(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1))
        return -1;
    const char *path = w->w[arg].text;
    struct hk_modelfile_report r;
    struct hk_error err;
    if (hk_modelfile_check(path, &r, &err) != HK_OK)
        return shell_error(sh, w, arg, "REFUSED: %s", err.msg);
    char params[160];
    format_params(params, sizeof params, r.trainable_count, r.non_trainable_count);
    shell_print(sh, "%s: OK (hash, header, architecture and tensor table check out)\n", path);
    shell_print(sh, "  sha256          %s\n  weights sha256  %s\n", r.file_sha256, r.weights_sha256);
    shell_print(sh, "  contents        %d layers, %s, %d tensors, %llu bytes%s\n", r.layer_count, params,
                r.tensors, (unsigned long long)r.bytes,
                r.state & HK_MODELFILE_STATE_TRAINING    ? ", optimizer and training state"
                : r.state & HK_MODELFILE_STATE_OPTIMIZER ? ", optimizer state"
                                                         : "");
    return 0;
}

/* model info without a FILE: the session's model, in the layout of a file's description. */
static int describe_current(struct shell *sh, const struct hk_words *w)
{
    if (!sh->model)
        return shell_error(sh, w, 0, "no model yet; build one, or describe a file with: model info FILE");
    struct hk_model *m = sh->model;
    struct hk_shape in = hk_model_input(m);
    char params[160], value[32], line[512];
    format_model_params(params, sizeof params, m);
    shell_print(sh, "the current model (in memory; model save FILE writes it)\n");
    shell_print(sh, "  input         %dx%dx%d\n  seed          %llu\n  layers        %d, %s\n", in.h, in.w,
                in.c, (unsigned long long)hk_model_seed(m), hk_model_count(m), params);
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        hk_layer_spec_format(&l->spec, line, sizeof line);
        shell_print(sh, "                %s%s\n", line, l->frozen ? "  (frozen)" : "");
    }
    struct hk_optim opt;
    enum hk_loss loss;
    if (hk_model_compiled(m, &opt, &loss)) {
        hk_compile_format(&opt, loss, line, sizeof line);
        shell_print(sh, "  compiled      %s\n", line + strlen("compile "));
    } else {
        shell_print(sh, "  compiled      no\n");
    }
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    int classes = sh->nclasses ? sh->nclasses : ds ? ds->class_count : 0;
    shell_print(sh, "  classes      ");
    for (int k = 0; k < classes; k++)
        shell_print(sh, " %s", shell_class_name(sh, k, value, sizeof value));
    shell_print(sh, "%s\n", !classes ? " (none yet: from data train, or a loaded file)"
                            : sh->nclasses ? " (recorded in the file it was loaded from)"
                                           : " (the data set's)");
    hk_format_float(value, sizeof value, sh->rescale);
    shell_print(sh, "  rescale       %s (applied before the network)\n", value);
    if (sh->run && sh->run->model == m && hk_worker_busy(sh->worker))
        shell_print(sh, "  state         training now (status shows where)\n");
    else if (sh->run && sh->run->model == m)
        shell_print(sh, "  state         trained in this session (model save FILE training=yes keeps the run)\n");
    else if (sh->resume) {
        shell_print(sh, "  state         loaded with a training state: ");
        print_training(sh, sh->resume);
    } else
        shell_print(sh, "  state         not trained in this session\n");
    return 0;
}

int cmd_model_info(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 1))
        return -1;
    if (arg >= w->count)
        return describe_current(sh, w);
    const char *path = w->w[arg].text;
    struct hk_model_meta meta;
    struct hk_error err;
    char *header = NULL;
    memset(&meta, 0, sizeof meta);
    if (hk_modelfile_info(path, &meta, &header, &err) != HK_OK)
        return shell_error(sh, w, arg, "%s", err.msg);
    char params[160], value[32];
    format_params(params, sizeof params, meta.trainable_count, meta.non_trainable_count);
    shell_print(sh, "%s (written by husky %s; weights not loaded, hash not checked: see model verify)\n", path,
                meta.husky_version);
    shell_print(sh, "  input         %dx%dx%d\n  seed          %llu\n  layers        %d, %s\n",
                meta.input.h, meta.input.w, meta.input.c, (unsigned long long)meta.seed, meta.layer_count, params);
    for (char *line = header, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line), word = strcspn(line, " \n");
        char first[32];
        snprintf(first, sizeof first, "%.*s", (int)(word < sizeof first ? word : sizeof first - 1), line);
        if (hk_layer_kind_find(first) != HK_LAYER_KIND_COUNT || strncmp(line, "model freeze ", 13) == 0)
            shell_print(sh, "                %.*s\n", (int)len, line);
    }
    if (meta.compiled) {
        char line[256];
        hk_compile_format(&meta.optim, meta.loss, line, sizeof line);
        shell_print(sh, "  compiled      %s\n", line + strlen("compile "));
    } else {
        shell_print(sh, "  compiled      no\n");
    }
    shell_print(sh, "  classes      ");
    for (int i = 0; i < meta.class_count; i++)
        shell_print(sh, " %s", meta.class_names[i]);
    hk_format_float(value, sizeof value, meta.rescale);
    shell_print(sh, "%s\n  rescale       %s (applied before the network)\n", meta.class_count ? "" : " (not recorded)",
                value);
    if (meta.threshold > 0) {
        hk_format_float(value, sizeof value, meta.threshold);
        shell_print(sh, "  threshold     %s (class %s when the output is at least that)\n", value,
                    meta.class_count == 2 ? meta.class_names[1] : "1");
    }
    shell_print(sh, "  data sha256   %s\n", meta.data_sha256 ? meta.data_sha256 : "(not recorded)");
    for (int i = 0; i < meta.extra_count; i++)
        shell_print(sh, "  %-13s %s\n", meta.extra[i].key, meta.extra[i].value);
    if (meta.training)
        shell_print(sh, "  state         optimizer (step %llu) and training: ", (unsigned long long)meta.optimizer_step);
    else if (meta.state & HK_MODELFILE_STATE_OPTIMIZER)
        shell_print(sh, "  state         optimizer (step %llu); no training state\n",
                    (unsigned long long)meta.optimizer_step);
    else
        shell_print(sh, "  state         weights only\n");
    if (meta.training)
        print_training(sh, meta.training);
    if (meta.script) {
        int lines = 1;
        for (const char *s = meta.script; *s; s++)
            lines += *s == '\n';
        shell_print(sh, "  script        %d lines\n", lines);
    }
    free(header);
    hk_model_meta_free(&meta);
    return 0;
}
