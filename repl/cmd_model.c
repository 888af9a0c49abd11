/* cmd_model.c: defining and changing the model: model new/summary/list/remove/insert/set/reset,
 * the layer commands, compile, and model save/load. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "compile_spec.h"
#include "layer_spec.h"
#include "modelfile.h"

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

static void report_change(struct shell *sh, const struct hk_model_change *chg)
{
    if (chg->reinitialised[0])
        shell_print(sh, "re-initialised (shapes changed): %s\n", chg->reinitialised);
}

int cmd_model_new(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "model new input=HxWxC") || shell_busy(sh, w))
        return -1;
    int at = arg_option(w, "input"), dims[3] = {128, 128, 3};
    if (at < 0)
        return shell_error(sh, w, w->count, "missing input=HxWxC, e.g. model new input=128x128x3");
    int n = hk_parse_dims(w->w[at].value, dims);
    if (n == 2)
        dims[2] = 3;
    if (n < 2 || dims[2] > 4)
        return shell_error(sh, w, at, "input must look like 128x128x3 (height x width x channels), got '%s'",
                           w->w[at].value);
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){dims[2], dims[0], dims[1]}, sh->seed, &err);
    if (!m)
        return shell_error(sh, w, at, "%s", err.msg);
    hk_model_free(sh->model);
    sh->model = m;
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
    return 0;
}

int cmd_model_list(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "model") || need_model(sh, w))
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
        shell_print(sh, "%4d %-16s %-44s -> %s\n", i, l->name, spec, shape);
    }
    return 0;
}

int cmd_model_summary(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "model summary") || need_model(sh, w))
        return -1;
    const char *rule = "_____________________________________________________________________";
    const char *rule2 = "=====================================================================";
    shell_print(sh, "Model: \"sequential\"\n%s\n %-32s %-25s %s\n%s\n", rule, "Layer (type)", "Output Shape",
                "Param #", rule2);
    for (int i = 0; i < hk_model_count(sh->model); i++) {
        const struct hk_layer *l = hk_model_layer(sh->model, i);
        char name[96], shape[64], count[32];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->ops->keras_class);
        format_shape(shape, sizeof shape, l->out);
        format_count(count, sizeof count, l->wcount + l->bcount);
        shell_print(sh, " %-32s %-25s %s\n", name, shape, count);
        if (i + 1 < hk_model_count(sh->model))
            shell_print(sh, "\n");
    }
    char total[32];
    format_count(total, sizeof total, hk_model_param_count(sh->model));
    shell_print(sh, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: 0\n%s\n", rule2, total,
                total, rule);
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
    if (arg_count(sh, w, arg, 1, 1, "model remove LAYER") || need_model(sh, w) || shell_busy(sh, w))
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

int cmd_model_insert(struct shell *sh, const struct hk_words *w, int arg)
{
    if (need_model(sh, w) || shell_busy(sh, w))
        return -1;
    if (w->count < arg + 2)
        return shell_error(sh, w, w->count, "usage: model insert INDEX LAYER-COMMAND");
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
        return shell_error(sh, w, w->count, "usage: model set LAYER ARGS...");
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

int cmd_model_reset(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 0, 0, "model reset") || need_model(sh, w) || shell_busy(sh, w))
        return -1;
    hk_model_reinit(sh->model);
    hk_history_clear(sh->history);
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
    return 0;
}

/* Run on the compute worker: saving reads the weights, which only the worker may touch. */
struct save_call {
    struct shell *sh;
    const char *path;
    int with_optimizer;
    struct hk_model_meta meta;
    enum hk_status st;
    struct hk_error err;
};

static void save_on_worker(void *arg)
{
    struct save_call *c = arg;
    c->st = hk_modelfile_save(c->path, c->sh->model, &c->meta, c->with_optimizer, &c->err);
}

int cmd_model_save(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1, "model save FILE [optimizer=yes]") || need_model(sh, w))
        return -1;
    struct save_call c = {.sh = sh, .path = w->w[arg].text};
    int at = arg_option(w, "optimizer");
    if (at >= 0 && arg_bool(sh, w, at, &c.with_optimizer))
        return -1;
    const struct hk_dataset *ds = sh->train ? sh->train : sh->val;
    c.meta.rescale = sh->rescale;
    c.meta.seed = sh->seed;
    if (ds) {
        c.meta.class_names = ds->class_names;
        c.meta.class_count = ds->class_count;
    }
    hk_worker_call(sh->worker, save_on_worker, &c);
    if (c.st != HK_OK)
        return shell_error(sh, w, arg, "%s", c.err.msg);
    char hex[65];
    if (hk_modelfile_verify(c.path, hex, NULL) == HK_OK)
        shell_print(sh, "saved %s (sha256 %s)\n", c.path, hex);
    return 0;
}

int cmd_model_load(struct shell *sh, const struct hk_words *w, int arg)
{
    if (arg_count(sh, w, arg, 1, 1, "model load FILE [sha256=HEX]") || shell_busy(sh, w))
        return -1;
    int at = arg_option(w, "sha256");
    struct hk_model *m = NULL;
    struct hk_model_meta meta;
    struct hk_error err;
    memset(&meta, 0, sizeof meta);
    if (hk_modelfile_load(w->w[arg].text, at >= 0 ? w->w[at].value : NULL, &m, &meta, &err) != HK_OK)
        return shell_error(sh, w, at >= 0 && err.status == HK_EINVAL ? at : arg, "%s", err.msg);
    hk_model_free(sh->model);
    sh->model = m;
    sh->rescale = meta.rescale;
    shell_print(sh, "loaded %s: %d layers, %zu parameters", w->w[arg].text, hk_model_count(m),
                hk_model_param_count(m));
    if (meta.class_count) {
        shell_print(sh, ", classes");
        for (int i = 0; i < meta.class_count; i++)
            shell_print(sh, " %s", meta.class_names[i]);
    }
    shell_print(sh, "\n");
    hk_model_meta_free(&meta);
    return 0;
}
