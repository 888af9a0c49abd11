/* modelfile_header.c: reading a model file's header: its lines replayed through the language's
 * parsers into a plan, and a dry run of the plan's architecture that checks shapes and limits and
 * lists the tensors the file must hold, without allocating the model. */
#include "modelfile_format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_spec.h"
#include "graph.h"
#include "layer_spec.h"
#include "model_spec.h"

void mf_plan_free(struct mf_plan *p)
{
    if (!p)
        return;
    hk_model_meta_free(&p->meta);
    hk_train_state_free(p->train);
    free(p->script.p);
    free(p);
}

/* model freeze NAME or A..B: kept as text, resolved against the layers by mf_dry_run */
static enum hk_status line_freeze(struct mf_plan *p, const struct hk_words *ws, const struct mf_where *w,
                                  struct hk_error *err)
{
    if (ws->count != 3 || ws->w[2].key)
        return mf_fail_line(err, HK_EFORMAT, w, "expected 'model freeze NAME' or 'model freeze A..B'");
    if (p->nfreeze == HK_MODEL_MAX_LAYERS)
        return mf_fail_line(err, HK_EFORMAT, w, "more than %d model freeze lines", HK_MODEL_MAX_LAYERS);
    const char *text = ws->w[2].text;
    if (strlen(text) >= sizeof p->freeze[0])
        return mf_fail_line(err, HK_EFORMAT, w, "model freeze: '%.40s...' is not a layer name or range", text);
    memcpy(p->freeze[p->nfreeze], text, strlen(text) + 1);
    p->freeze_line[p->nfreeze] = w->line;
    p->freeze_off[p->nfreeze++] = w->offset;
    return HK_OK;
}

static enum hk_status line_model(struct mf_plan *p, const struct hk_words *ws, const struct mf_where *w,
                                 struct hk_error *err)
{
    if (ws->count >= 2 && strcmp(ws->w[1].text, "freeze") == 0 && p->model_line)
        return line_freeze(p, ws, w, err);
    if (p->model_line)
        return mf_fail_line(err, HK_EFORMAT, w, "a second 'model new' (the first is on line %d)", p->model_line);
    if (ws->count < 2 || strcmp(ws->w[1].text, "new") != 0)
        return mf_fail_line(err, HK_EFORMAT, w, "expected 'model new input=HxWxC seed=N'");
    struct hk_model_spec spec;
    struct hk_error e;
    int bad;
    if (hk_model_spec_parse(ws, 2, 1, &spec, &bad, &e) != HK_OK)
        return mf_fail_line(err, HK_EFORMAT, w, "model new: %s", e.msg);
    p->input = spec.input;
    p->seed = spec.seed;
    p->model_line = w->line;
    p->model_off = w->offset;
    return HK_OK;
}

static enum hk_status line_classes(struct mf_plan *p, const struct hk_words *ws, const struct mf_where *w,
                                   struct hk_error *err)
{
    if (ws->count < 2)
        return mf_fail_line(err, HK_EFORMAT, w, "expected 'classes NAME NAME ...'");
    struct hk_model_meta *m = &p->meta;
    char **names = realloc(m->class_names, ((size_t)m->class_count + (size_t)ws->count) * sizeof *names);
    if (!names)
        return mf_fail_line(err, HK_ENOMEM, w, "out of memory for class names");
    m->class_names = names;
    for (int i = 1; i < ws->count; i++) {
        struct hk_error e;
        if (mf_check_class_name(ws->w[i].text, &e) != HK_OK)
            return mf_fail_line(err, HK_EFORMAT, w, "%s", e.msg);
        if (!(names[m->class_count] = mf_dup_str(ws->w[i].text)))
            return mf_fail_line(err, HK_ENOMEM, w, "out of memory for class names");
        m->class_count++;
    }
    return HK_OK;
}

static enum hk_status line_meta(struct mf_plan *p, const char *rest, const struct mf_where *w, struct hk_error *err)
{
    const char *sp = strchr(rest, ' ');
    size_t klen = sp ? (size_t)(sp - rest) : strlen(rest);
    const char *value = sp ? sp + 1 : "";
    char key[65];
    if (!mf_valid_key(rest, klen))
        return mf_fail_line(err, HK_EFORMAT, w, "expected 'meta KEY VALUE' with a KEY of 1 to 64 letters, digits, '_', "
                                             "'.' or '-'");
    memcpy(key, rest, klen);
    key[klen] = '\0';
    if (hk_model_meta_get_extra(&p->meta, key))
        return mf_fail_line(err, HK_EFORMAT, w, "meta key '%s' is given twice", key);
    struct hk_error e;
    enum hk_status st = hk_model_meta_set_extra(&p->meta, key, value, &e);
    if (st != HK_OK)
        return mf_fail_line(err, st == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, w, "%s", e.msg);
    return HK_OK;
}

static enum hk_status line_lexed(struct mf_plan *p, const char *line, const struct mf_where *w, struct hk_error *err)
{
    struct hk_words *ws = &p->words;
    struct hk_error e;
    int col, bad;
    char ex[48];
    if (hk_lex(line, ws, &col, &e) != HK_OK)
        return mf_fail_line(err, HK_EFORMAT, w, "column %d: %s", col + 1, e.msg);
    if (ws->rest >= 0)
        return mf_fail_line(err, HK_EFORMAT, w, "';' is not allowed in a model file header");
    if (ws->count == 0)
        return HK_OK;
    const char *cmd = ws->w[0].text;
    if (w->line == 1) {
        if (strcmp(cmd, "husky") != 0 || ws->count != 2)
            return mf_fail_line(err, HK_EFORMAT, w, "expected 'husky VERSION', found '%s'; this is not a husky model",
                             mf_excerpt(line, strlen(line), ex, sizeof ex));
        if (!(p->meta.husky_version = mf_dup_str(ws->w[1].text)))
            return mf_fail_line(err, HK_ENOMEM, w, "out of memory");
        return HK_OK;
    }
    if (strcmp(cmd, "model") == 0)
        return line_model(p, ws, w, err);
    enum hk_layer_kind kind = hk_layer_kind_find(cmd);
    if (kind != HK_LAYER_KIND_COUNT) {
        if (!p->model_line)
            return mf_fail_line(err, HK_EFORMAT, w, "layer '%s' comes before 'model new'", cmd);
        if (p->compile_line)
            return mf_fail_line(err, HK_EFORMAT, w, "layer '%s' comes after compile (line %d)", cmd, p->compile_line);
        if (p->nlayers == HK_MODEL_MAX_LAYERS)
            return mf_fail_line(err, HK_EFORMAT, w, "more than %d layers", HK_MODEL_MAX_LAYERS);
        if (hk_layer_spec_parse(ws, 0, &p->specs[p->nlayers], &bad, &e) != HK_OK)
            return mf_fail_line(err, HK_EFORMAT, w, "%s: %s", cmd, e.msg);
        p->spec_off[p->nlayers] = w->offset;
        p->spec_line[p->nlayers++] = w->line;
        return HK_OK;
    }
    if (strcmp(cmd, "compile") == 0) {
        if (!p->model_line)
            return mf_fail_line(err, HK_EFORMAT, w, "compile comes before 'model new'");
        if (p->compile_line)
            return mf_fail_line(err, HK_EFORMAT, w, "a second compile (the first is on line %d)", p->compile_line);
        if (hk_compile_parse(ws, 0, &p->optim, &p->loss, &bad, &e) != HK_OK)
            return mf_fail_line(err, HK_EFORMAT, w, "compile: %s", e.msg);
        p->compile_line = w->line;
        p->compile_off = w->offset;
        return HK_OK;
    }
    if (strcmp(cmd, "classes") == 0)
        return line_classes(p, ws, w, err);
    if (strncmp(cmd, "train_", 6) == 0)
        return mf_train_line(p, ws, w, err);
    if (strcmp(cmd, "rescale") == 0) {
        double v;
        if (p->rescale_line)
            return mf_fail_line(err, HK_EFORMAT, w, "a second rescale (the first is on line %d)", p->rescale_line);
        if (ws->count != 2 || !hk_parse_float(ws->w[1].text, &v) || !isfinite((float)v) || !((float)v > 0))
            return mf_fail_line(err, HK_EFORMAT, w, "expected 'rescale X' with a positive number X");
        p->meta.rescale = (float)v;
        p->rescale_line = w->line;
        return HK_OK;
    }
    if (strcmp(cmd, "threshold") == 0) {
        double v;
        if (p->threshold_line)
            return mf_fail_line(err, HK_EFORMAT, w, "a second threshold (the first is on line %d)", p->threshold_line);
        if (ws->count != 2 || !hk_parse_float(ws->w[1].text, &v) || !(v > 0 && v < 1))
            return mf_fail_line(err, HK_EFORMAT, w, "expected 'threshold X' with a number X between 0 and 1");
        p->meta.threshold = (float)v;
        p->threshold_line = w->line;
        return HK_OK;
    }
    if (strcmp(cmd, "optimizer_step") == 0) {
        if (p->step_line)
            return mf_fail_line(err, HK_EFORMAT, w, "a second optimizer_step (the first is on line %d)", p->step_line);
        if (ws->count != 2 || !hk_parse_u64(ws->w[1].text, &p->step))
            return mf_fail_line(err, HK_EFORMAT, w, "expected 'optimizer_step N' with a whole number N");
        p->step_line = w->line;
        return HK_OK;
    }
    return mf_fail_line(err, HK_EFORMAT, w,
                     "unknown command '%s'; a model file header holds only model new, layers (conv2d, maxpool, "
                     "dropout, flatten, dense, activation, add, ...), model freeze, compile, classes, rescale, threshold, meta, "
                     "script, "
                     "optimizer_step and train_* lines",
                     mf_excerpt(cmd, strlen(cmd), ex, sizeof ex));
}

/* Parse header text (hlen bytes, at file offset MF_PREFIX_BYTES) into *out (owned: mf_plan_free). */
enum hk_status mf_parse_header(const char *path, const unsigned char *text, size_t hlen, struct mf_plan **out,
                                   struct hk_error *err)
{
    *out = NULL;
    const unsigned char *nul = memchr(text, '\0', hlen);
    if (nul)
        return mf_fail_file(err, HK_EFORMAT, path, "header at offset %u: a NUL byte at offset %zu; expected text",
                         MF_PREFIX_BYTES, MF_PREFIX_BYTES + (size_t)(nul - text));
    size_t bad;
    if (!mf_utf8_valid(text, hlen, &bad))
        return mf_fail_file(err, HK_EFORMAT, path, "header at offset %u: invalid UTF-8 at offset %zu", MF_PREFIX_BYTES,
                         MF_PREFIX_BYTES + bad);
    if (hlen == 0)
        return mf_fail_file(err, HK_EFORMAT, path, "header at offset %u is empty; expected 'husky VERSION' and the "
                                                "model's commands",
                         MF_PREFIX_BYTES);
    struct mf_plan *p = calloc(1, sizeof *p);
    char *copy = malloc(hlen + 1);
    if (!p || !copy) {
        free(p);
        free(copy);
        return hk_fail(err, HK_ENOMEM, "out of memory reading the header of '%s'", path);
    }
    hk_model_meta_init(&p->meta);
    memcpy(copy, text, hlen);
    copy[hlen] = '\0';
    enum hk_status st = HK_OK;
    struct mf_where w = {path, 0, 0};
    char *line = copy;
    while (st == HK_OK && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        w.line++;
        w.offset = MF_PREFIX_BYTES + (size_t)(line - copy);
        if (strncmp(line, "script", 6) == 0 && (line[6] == ' ' || line[6] == '\0') && w.line > 1) {
            if (p->script_lines++)
                mf_buf_str(&p->script, "\n");
            mf_buf_str(&p->script, line[6] ? line + 7 : "");
            if (p->script.oom)
                st = mf_fail_line(err, HK_ENOMEM, &w, "out of memory for the script");
        } else if (strncmp(line, "meta", 4) == 0 && (line[4] == ' ' || line[4] == '\0') && w.line > 1) {
            st = line_meta(p, line[4] ? line + 5 : "", &w, err);
        } else {
            st = line_lexed(p, line, &w, err);
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(copy);
    if (st == HK_OK && !p->meta.husky_version)
        st = mf_fail_file(err, HK_EFORMAT, path, "header at offset %u: expected 'husky VERSION' on line 1",
                       MF_PREFIX_BYTES);
    if (st == HK_OK && !p->model_line)
        st = mf_fail_file(err, HK_EFORMAT, path, "header at offset %u has no 'model new input=HxWxC seed=N' line",
                       MF_PREFIX_BYTES);
    if (st == HK_OK && p->step_line && !p->compile_line)
        st = mf_fail_file(err, HK_EFORMAT, path, "header line %d: optimizer_step without a compile line", p->step_line);
    if (st == HK_OK)
        st = mf_train_finish(path, p, err);
    if (st == HK_OK && p->script_lines && !(p->meta.script = mf_dup_str((const char *)p->script.p)))
        st = hk_fail(err, HK_ENOMEM, "out of memory reading the header of '%s'", path);
    if (st != HK_OK) {
        mf_plan_free(p);
        return st;
    }
    *out = p;
    return HK_OK;
}

/* The plan's layers, named (name= or the canonical name) and connected in order, with the limits
 * checked after each and its tensors appended to t. */
static enum hk_status dry_layers(const char *path, const struct mf_plan *p, struct hk_layer *layers,
                                 struct mf_tensor *t, int *nt, size_t *total, struct hk_error *err)
{
    struct mf_where w = {path, 0, 0};
    int serial[HK_LAYER_NAME_SLOTS] = {0};
    for (int i = 0; i < p->nlayers; i++) {
        struct hk_layer *l = &layers[i];
        struct hk_error e;
        l->spec = p->specs[i];
        l->ops = hk_layer_ops_of(l->spec.kind);
        if (l->spec.name[0])
            memcpy(l->name, l->spec.name, sizeof l->name);
        else
            hk_layer_auto_name(l->name, &l->spec, serial, layers, i);
        w.line = p->spec_line[i];
        w.offset = p->spec_off[i];
        if (hk_graph_connect(layers, i, p->input, &e) != HK_OK)
            return mf_fail_line(err, HK_EFORMAT, &w, "%s", e.msg);
        if (hk_shape_size(l->out) > MF_MAX_OUTPUT_VALUES)
            return mf_fail_line(err, HK_ENOMEM, &w, "%s: output (%d,%d,%d) has more than 64 M values", l->name,
                                l->out.h, l->out.w, l->out.c);
        if (mf_layer_tensors(l, i, l->name, t, nt, &e) != HK_OK)
            return mf_fail_line(err, HK_EFORMAT, &w, "%s", e.msg);
        uint64_t sum = (uint64_t)*total + l->wcount;
        sum = sum < l->wcount || sum + l->bcount < sum ? UINT64_MAX : sum + l->bcount;
        if (sum > HK_MODEL_MAX_PARAMS)
            return mf_fail_line(err, HK_ENOMEM, &w, "%s: the model would have %llu parameters; the limit is %zu",
                                l->name, (unsigned long long)sum, HK_MODEL_MAX_PARAMS);
        *total = (size_t)sum;
    }
    return HK_OK;
}

/* Each model freeze line names layers of the plan; mark them frozen. */
static enum hk_status dry_freeze(const char *path, const struct mf_plan *p, struct hk_layer *layers,
                                 struct hk_error *err)
{
    for (int k = 0; k < p->nfreeze; k++) {
        struct mf_where w = {path, p->freeze_line[k], p->freeze_off[k]};
        const char *text = p->freeze[k], *dots = strstr(text, "..");
        size_t alen = dots ? (size_t)(dots - text) : strlen(text);
        const char *b = dots ? dots + 2 : text;
        int from = -1, to = -1;
        for (int i = 0; i < p->nlayers; i++) {
            if (strlen(layers[i].name) == alen && strncmp(layers[i].name, text, alen) == 0)
                from = i;
            if (strcmp(layers[i].name, b) == 0)
                to = i;
        }
        if (from < 0 || to < 0 || from > to)
            return mf_fail_line(err, HK_EFORMAT, &w, "model freeze %.70s: %s", text,
                                from < 0 || to < 0 ? "no such layer" : "the range is backwards");
        for (int i = from; i <= to; i++)
            layers[i].frozen = 1;
    }
    return HK_OK;
}

/* Check the plan's architecture without allocating it: shapes, limits and the list of tensors
 * the file must hold (t has room for MF_MAX_TENSORS_WANTED). */
enum hk_status mf_dry_run(const char *path, const struct mf_plan *p, struct mf_tensor *t, int *nt,
                          struct mf_counts *counts, struct hk_shape *output, struct hk_error *err)
{
    struct mf_where w = {path, p->model_line, p->model_off};
    struct hk_shape in = p->input;
    if (hk_shape_size(in) > MF_MAX_OUTPUT_VALUES)
        return mf_fail_line(err, HK_ENOMEM, &w, "input shape %dx%dx%d has more than 64 M values", in.h, in.w, in.c);
    size_t total = 0;
    *nt = 0;
    struct hk_layer *layers = calloc(p->nlayers ? (size_t)p->nlayers : 1, sizeof *layers);
    if (!layers)
        return hk_fail(err, HK_ENOMEM, "out of memory checking '%s'", path);
    enum hk_status st = dry_layers(path, p, layers, t, nt, &total, err);
    if (st == HK_OK)
        st = dry_freeze(path, p, layers, err);
    if (st == HK_OK && p->nlayers)
        in = layers[p->nlayers - 1].out;
    size_t frozen = 0, state = 0;
    for (int i = 0; st == HK_OK && i < p->nlayers; i++) {
        frozen += layers[i].frozen ? layers[i].wcount + layers[i].bcount : 0;
        state += layers[i].scount;
    }
    free(layers);
    if (st != HK_OK)
        return st;
    if (p->step_line) {
        struct hk_error e;
        if (mf_optim_tensors(total, t, nt, &e) != HK_OK)
            return mf_fail_file(err, HK_EFORMAT, path, "%s", e.msg);
    }
    if (p->train) {
        struct hk_error e;
        if (mf_history_tensors(p->train->nbatches, t, nt, &e) != HK_OK)
            return mf_fail_file(err, HK_EFORMAT, path, "%s", e.msg);
    }
    counts->params = total;
    counts->trainable = total - frozen;
    counts->non_trainable = frozen + state;
    *output = in;
    return HK_OK;
}
