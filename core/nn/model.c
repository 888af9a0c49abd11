/* model.c: the model, a graph of layers in script order (see graph.h): shape checking on every
 * change, the four arenas (parameters, gradients, two optimizer moments), the state arena, freezing
 * and the per-batch workspace. The passes over it are in model_pass.c. */
#include "model.h"
#include "model_internal.h"

#include "graph.h"

#include "lexer.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>


struct hk_model *hk_model_new(struct hk_shape input, uint64_t seed, struct hk_error *err)
{
    if (input.c < 1 || input.h < 1 || input.w < 1 || hk_shape_size(input) > ((size_t)1 << 26)) {
        hk_fail(err, HK_EINVAL, "input shape %dx%dx%d is not usable (each side at least 1, at most 64 M values)",
                input.h, input.w, input.c);
        return NULL;
    }
    struct hk_model *m = calloc(1, sizeof *m);
    if (!m) {
        hk_fail(err, HK_ENOMEM, "out of memory creating a model");
        return NULL;
    }
    m->input = input;
    m->seed = seed;
    return m;
}

static void drop_workspace(struct hk_model *m)
{
    free(m->workspace);
    m->workspace = NULL;
    m->ws_batch = 0;
}

void hk_model_free(struct hk_model *m)
{
    if (!m)
        return;
    drop_workspace(m);
    free(m->params);
    free(m->grads);
    free(m->mom1);
    free(m->mom2);
    free(m->state);
    free(m);
}

struct hk_shape hk_model_input(const struct hk_model *m) { return m->input; }
uint64_t hk_model_seed(const struct hk_model *m) { return m->seed; }
int hk_model_count(const struct hk_model *m) { return m->count; }
size_t hk_model_param_count(const struct hk_model *m) { return m->nparams; }
float *hk_model_params(struct hk_model *m) { return m->params; }
float *hk_model_grads(struct hk_model *m) { return m->grads; }
size_t hk_model_state_count(const struct hk_model *m) { return m->nstate; }
float *hk_model_state(struct hk_model *m) { return m->state; }
uint64_t hk_model_optim_step(const struct hk_model *m) { return m->step; }

const struct hk_layer *hk_model_layer(const struct hk_model *m, int i)
{
    return i >= 0 && i < m->count ? &m->layers[i] : NULL;
}

int hk_model_find(const struct hk_model *m, const char *name)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->layers[i].name, name) == 0)
            return i;
    return -1;
}

struct hk_shape hk_model_output(const struct hk_model *m)
{
    return m->count ? m->layers[m->count - 1].out : m->input;
}

void hk_model_set_sync(struct hk_model *m, hk_sync_fn sync, void *user, double share)
{
    m->sync = sync;
    m->sync_user = user;
    m->share = share;
}

void hk_model_optim_state(struct hk_model *m, float **mom1, float **mom2, uint64_t **step)
{
    if (mom1)
        *mom1 = m->mom1;
    if (mom2)
        *mom2 = m->mom2;
    if (step)
        *step = &m->step;
}

static void init_layer(const struct hk_model *m, struct hk_layer *l)
{
    if (!l->ops->init)
        return;
    struct hk_rng rng;
    hk_rng_derive(&rng, m->seed, 0x696e6974 /* "init" */, (uint64_t)l->index, 0);
    l->ops->init(l, &rng);
}

static size_t layout(struct hk_model *m, struct hk_layer *layers, int count, int n, char *base);

static atomic_size_t memory_limit = HK_MODEL_DEFAULT_MEMORY;

size_t hk_model_memory_limit(void)
{
    return atomic_load(&memory_limit);
}

void hk_model_set_memory_limit(size_t bytes)
{
    atomic_store(&memory_limit, bytes);
}

/* Refuse layer l of a model over a limit, with what the model would need: need_at_least is
 * set when the need could only be estimated from below (parameters and this layer's output). */
static enum hk_status refuse(const struct hk_layer *l, size_t params, double need, int need_at_least,
                             const char *why, struct hk_error *err)
{
    char need_text[32];
    hk_format_bytes(need_text, sizeof need_text, need >= 1.8e19 ? SIZE_MAX : (size_t)need);
    return hk_fail(err, HK_ENOMEM, "%s: the model would need %s%s (%zu parameters with gradients and optimizer "
                   "state, and one picture's activations); %s",
                   l->name, need_at_least ? "at least " : "", need_text, params, why);
}

/* Infer the shapes of layers[0..count) in order, and check that each prefix of the model fits
 * the limits (parameters with gradients and optimizer moments, and one picture's activations)
 * before anything is allocated. On failure err names the layer and the memory it would need. */
static enum hk_status infer_all(struct hk_model *m, struct hk_layer *layers, int count, struct hk_error *err)
{
    size_t total = 0, limit = hk_model_memory_limit();
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = &layers[i];
        enum hk_status st = hk_graph_connect(layers, i, m->input, err);
        if (st != HK_OK)
            return st;
        total += l->wcount + l->bcount;
        /* the hard limits first: past them the exact layout could overflow */
        double floor = (double)total * 4 * sizeof(float) + (double)hk_shape_size(l->out) * 3 * sizeof(float);
        char why[160];
        if (hk_shape_size(l->out) > ((size_t)1 << 26)) {
            snprintf(why, sizeof why, "its output (%d,%d,%d) has %zu values per picture and husky's limit is 64 M",
                     l->out.h, l->out.w, l->out.c, hk_shape_size(l->out));
            return refuse(l, total, floor, 1, why, err);
        }
        if (total > HK_MODEL_MAX_PARAMS) {
            snprintf(why, sizeof why, "husky's limit is %zu parameters", HK_MODEL_MAX_PARAMS);
            return refuse(l, total, floor, 1, why, err);
        }
        size_t params = total * 4 * sizeof(float), acts = layout(m, layers, i + 1, 1, NULL);
        if (params > limit || acts > limit - params) {
            char lim[32];
            hk_format_bytes(lim, sizeof lim, limit);
            snprintf(why, sizeof why, "the memory limit is %s (raise it with: model limits memory=SIZE)", lim);
            return refuse(l, total, (double)params + (double)acts, 0, why, err);
        }
    }
    return HK_OK;
}

static void append_name(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);
    snprintf(list + len, cap - len, "%s%s", len ? ", " : "", name);
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* 64-byte aligned memory; from 4 MB on, in 2 MB transparent huge pages where the system allows
 * them (fewer TLB misses on the activations: measured +4% training images/s). */
static void *alloc_big(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 2 * huge)
        return aligned_alloc(64, align64(bytes ? bytes : 1));
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, bytes);
    if (p)
        madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

/* Make `layers` (already inferred) the model's layers: new arenas, kept weights where the layer
 * object (same name) keeps its parameter shapes, initialisation elsewhere. */
static enum hk_status adopt(struct hk_model *m, struct hk_layer *layers, int count, struct hk_model_change *chg,
                            struct hk_error *err)
{
    size_t n = 0, ns = 0;
    for (int i = 0; i < count; i++) {
        n += layers[i].wcount + layers[i].bcount;
        ns += layers[i].scount;
    }
    size_t bytes = (n ? n : 1) * sizeof(float);
    float *params = malloc(bytes), *grads = calloc(1, bytes), *mom1 = calloc(1, bytes), *mom2 = calloc(1, bytes);
    float *state = calloc(ns ? ns : 1, sizeof(float));
    if (!params || !grads || !mom1 || !mom2 || !state) {
        free(params);
        free(grads);
        free(mom1);
        free(mom2);
        free(state);
        char need[32];
        hk_format_bytes(need, sizeof need, bytes * 4);
        return hk_fail(err, HK_ENOMEM, "out of memory for %zu parameters (%s)", n, need);
    }
    if (chg)
        chg->reinitialised[0] = '\0';
    size_t off = 0, soff = 0;
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = &layers[i];
        const struct hk_layer *old = NULL;
        int j = hk_model_find(m, l->name);
        if (j >= 0)
            old = &m->layers[j];
        l->w = params + off;
        l->dw = grads + off;
        l->b = params + off + l->wcount;
        l->db = grads + off + l->wcount;
        l->state = state + soff;
        off += l->wcount + l->bcount;
        soff += l->scount;
        if (l->wcount + l->bcount + l->scount == 0)
            continue;
        if (old && hk_layer_same_params(old, l)) {
            memcpy(l->w, old->w, l->wcount * sizeof *l->w);
            memcpy(l->b, old->b, l->bcount * sizeof *l->b);
            memcpy(l->state, old->state, l->scount * sizeof *l->state);
        } else {
            init_layer(m, l);
            if (chg && old)
                append_name(chg->reinitialised, sizeof chg->reinitialised, l->name);
        }
    }
    drop_workspace(m);
    free(m->params);
    free(m->grads);
    free(m->mom1);
    free(m->mom2);
    free(m->state);
    m->params = params;
    m->grads = grads;
    m->mom1 = mom1;
    m->mom2 = mom2;
    m->nparams = n;
    m->state = state;
    m->nstate = ns;
    m->step = 0;
    memcpy(m->layers, layers, (size_t)count * sizeof *layers);
    m->count = count;
    return HK_OK;
}

static enum hk_status change(struct hk_model *m, struct hk_layer *layers, int count, struct hk_model_change *chg,
                             struct hk_error *err)
{
    enum hk_status st = infer_all(m, layers, count, err);
    if (st == HK_OK)
        st = adopt(m, layers, count, chg, err);
    free(layers);
    return st;
}

static struct hk_layer *copy_layers(const struct hk_model *m, struct hk_error *err)
{
    struct hk_layer *copy = malloc(sizeof m->layers);
    if (!copy)
        hk_fail(err, HK_ENOMEM, "out of memory");
    else
        memcpy(copy, m->layers, sizeof m->layers);
    return copy;
}

enum hk_status hk_model_insert(struct hk_model *m, int at, const struct hk_layer_spec *spec,
                               struct hk_model_change *chg, struct hk_error *err)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(spec->kind);
    if (!ops)
        return hk_fail(err, HK_EINVAL, "unknown layer kind %d", (int)spec->kind);
    if (at < 0 || at > m->count)
        return hk_fail(err, HK_EINVAL, "position %d is outside the model (0..%d)", at, m->count);
    if (m->count >= HK_MODEL_MAX_LAYERS)
        return hk_fail(err, HK_ENOMEM, "a model has at most %d layers", HK_MODEL_MAX_LAYERS);
    struct hk_layer *layers = copy_layers(m, err);
    if (!layers)
        return HK_ENOMEM;
    memmove(&layers[at + 1], &layers[at], (size_t)(m->count - at) * sizeof *layers);
    struct hk_layer *l = &layers[at];
    memset(l, 0, sizeof *l);
    l->spec = *spec;
    l->ops = ops;
    int serial[HK_LAYER_NAME_SLOTS];
    memcpy(serial, m->name_serial, sizeof serial);
    if (spec->name[0])
        snprintf(l->name, sizeof l->name, "%s", spec->name);
    else /* Keras-style: the kind's next free name (a name= may have taken one) */
        hk_layer_auto_name(l->name, spec, serial, m->layers, m->count);
    enum hk_status st = change(m, layers, m->count + 1, chg, err);
    if (st == HK_OK)
        memcpy(m->name_serial, serial, sizeof serial);
    return st;
}

enum hk_status hk_model_remove(struct hk_model *m, int at, struct hk_model_change *chg, struct hk_error *err)
{
    if (at < 0 || at >= m->count)
        return hk_fail(err, HK_EINVAL, "no layer at position %d (the model has %d)", at, m->count);
    const char *how;
    int reader = hk_graph_reader(m->layers, m->count, at, m->layers[at].name, &how);
    if (reader >= 0)
        return hk_fail(err, HK_EINVAL, "%s reads it (%s=%s); change or remove %s first", m->layers[reader].name, how,
                       m->layers[at].name, m->layers[reader].name);
    struct hk_layer *layers = copy_layers(m, err);
    if (!layers)
        return HK_ENOMEM;
    memmove(&layers[at], &layers[at + 1], (size_t)(m->count - at - 1) * sizeof *layers);
    return change(m, layers, m->count - 1, chg, err);
}

enum hk_status hk_model_replace(struct hk_model *m, int at, const struct hk_layer_spec *spec,
                                struct hk_model_change *chg, struct hk_error *err)
{
    if (at < 0 || at >= m->count)
        return hk_fail(err, HK_EINVAL, "no layer at position %d (the model has %d)", at, m->count);
    if (spec->kind != m->layers[at].spec.kind)
        return hk_fail(err, HK_EINVAL, "%s is a %s layer; remove it and insert a new one to change its kind",
                       m->layers[at].name, m->layers[at].ops->word);
    const struct hk_layer *old = &m->layers[at];
    const char *how;
    int reader = hk_graph_reader(m->layers, m->count, at, old->name, &how);
    if (spec->name[0] && strcmp(spec->name, old->name) != 0 && reader >= 0)
        return hk_fail(err, HK_EINVAL, "%s reads %s (%s=%s); a layer that others read keeps its name", m->layers[reader].name,
                       old->name, how, old->name);
    struct hk_layer *layers = copy_layers(m, err);
    if (!layers)
        return HK_ENOMEM;
    layers[at].spec = *spec;
    char keep[HK_LAYER_NAME_MAX];
    memcpy(keep, old->name, sizeof keep);
    if (spec->name[0]) { /* renamed: under its new name it keeps its weights */
        snprintf(layers[at].name, sizeof layers[at].name, "%s", spec->name);
        memcpy(m->layers[at].name, layers[at].name, sizeof keep);
    }
    /* a changed spec with the same parameter shapes (e.g. another activation) keeps its weights */
    enum hk_status st = change(m, layers, m->count, chg, err);
    if (st != HK_OK)
        memcpy(m->layers[at].name, keep, sizeof keep);
    return st;
}

enum hk_status hk_model_cut(struct hk_model *m, int last, struct hk_model_change *chg, struct hk_error *err)
{
    if (last < 0 || last >= m->count)
        return hk_fail(err, HK_EINVAL, "no layer at position %d (the model has %d)", last, m->count);
    for (int i = 0; i <= last; i++) { /* script order makes this impossible; the names are checked all the same */
        const struct hk_layer *l = &m->layers[i];
        if (l->input > last || l->input2 > last)
            return hk_fail(err, HK_EINVAL, "%s reads %s, which the cut drops", l->name,
                           m->layers[l->input > last ? l->input : l->input2].name);
    }
    struct hk_layer *layers = copy_layers(m, err);
    if (!layers)
        return HK_ENOMEM;
    return change(m, layers, last + 1, chg, err);
}

enum hk_status hk_model_set_input(struct hk_model *m, struct hk_shape input, struct hk_model_change *chg,
                                  struct hk_error *err)
{
    if (input.c < 1 || input.h < 1 || input.w < 1 || hk_shape_size(input) > ((size_t)1 << 26))
        return hk_fail(err, HK_EINVAL, "input shape %dx%dx%d is not usable (each side at least 1, at most 64 M values)",
                       input.h, input.w, input.c);
    struct hk_layer *layers = copy_layers(m, err);
    if (!layers)
        return HK_ENOMEM;
    struct hk_shape old = m->input;
    m->input = input;
    enum hk_status st = change(m, layers, m->count, chg, err);
    if (st != HK_OK)
        m->input = old;
    return st;
}

int hk_model_cache_point(const struct hk_model *m)
{
    int fixed = 0; /* layers[0..fixed) give the same output for the same input in training */
    while (fixed < m->count) {
        const struct hk_layer *l = &m->layers[fixed];
        if (l->spec.kind == HK_LAYER_DROPOUT || (!l->frozen && l->wcount + l->bcount + l->scount > 0))
            break;
        fixed++;
    }
    if (fixed >= m->count)
        fixed = m->count - 1; /* the last layer computes the loss: something must run after the point */
    int weights = -1; /* the first layer with weights: a point before it saves nothing */
    for (int i = 0; i < fixed && weights < 0; i++)
        if (m->layers[i].wcount + m->layers[i].bcount > 0)
            weights = i;
    for (int b = fixed - 1; b >= 0 && weights >= 0 && b >= weights; b--) {
        int ok = 1; /* every later layer reads b or a later layer, never an earlier one or the input */
        for (int i = b + 1; i < m->count && ok; i++)
            ok = m->layers[i].input >= b && (m->layers[i].input2 < 0 || m->layers[i].input2 >= b);
        if (ok)
            return b;
    }
    return -1;
}

enum hk_status hk_model_find_range(const struct hk_model *m, const char *text, int *from, int *to,
                                   struct hk_error *err)
{
    if (strcmp(text, "all") == 0) {
        if (!m->count)
            return hk_fail(err, HK_EINVAL, "the model has no layers");
        *from = 0;
        *to = m->count - 1;
        return HK_OK;
    }
    const char *dots = strstr(text, "..");
    char a[HK_LAYER_NAME_MAX], b[HK_LAYER_NAME_MAX];
    size_t alen = dots ? (size_t)(dots - text) : strlen(text);
    const char *btext = dots ? dots + 2 : text;
    if (alen >= sizeof a || strlen(btext) >= sizeof b)
        return hk_fail(err, HK_EINVAL, "'%.40s' is not a layer name (NAME, A..B or all)", text);
    memcpy(a, text, alen);
    a[alen] = '\0';
    snprintf(b, sizeof b, "%s", btext);
    *from = hk_model_find(m, a);
    *to = hk_model_find(m, b);
    if (*from < 0 || *to < 0)
        return hk_fail(err, HK_EINVAL, "no layer named '%s' (give NAME, A..B or all)", *from < 0 ? a : b);
    if (*from > *to)
        return hk_fail(err, HK_EINVAL, "%s (layer %d) comes after %s (layer %d); write the range as %s..%s", a, *from,
                       b, *to, b, a);
    return HK_OK;
}

int hk_model_is_graph(const struct hk_model *m)
{
    return hk_graph_is_graph(m->layers, m->count);
}

int hk_model_set_frozen(struct hk_model *m, int from, int to, int frozen)
{
    int with_weights = 0;
    for (int i = from < 0 ? 0 : from; i <= to && i < m->count; i++) {
        m->layers[i].frozen = frozen;
        with_weights += m->layers[i].wcount + m->layers[i].bcount > 0;
    }
    return with_weights;
}

void hk_model_param_split(const struct hk_model *m, size_t *trainable, size_t *non_trainable)
{
    size_t t = 0, nt = 0;
    for (int i = 0; i < m->count; i++) {
        const struct hk_layer *l = &m->layers[i];
        if (l->frozen)
            nt += l->wcount + l->bcount;
        else
            t += l->wcount + l->bcount;
        nt += l->scount;
    }
    *trainable = t;
    *non_trainable = nt;
}

void hk_model_reinit(struct hk_model *m)
{
    for (int i = 0; i < m->count; i++)
        init_layer(m, &m->layers[i]);
    memset(m->mom1, 0, m->nparams * sizeof *m->mom1);
    memset(m->mom2, 0, m->nparams * sizeof *m->mom2);
    m->step = 0;
}

/* Why the loss cannot be used with the model's last layer (activation, output units), written
 * after `before`, or HK_OK. */
static enum hk_status check_loss_fits(const struct hk_model *m, enum hk_loss loss, const char *before,
                                      struct hk_error *err)
{
    if (!m->count)
        return hk_fail(err, HK_EINVAL, "%sthe model has no layers", before);
    const struct hk_layer *last = &m->layers[m->count - 1];
    enum hk_act want = hk_loss_activation(loss);
    if (last->spec.act != want)
        return hk_fail(err, HK_EINVAL, "%s%s needs the last layer to use activation=%s, but %s uses %s", before,
                       hk_loss_name(loss), hk_act_name(want), last->name, hk_act_name(last->spec.act));
    if (loss == HK_LOSS_BCE && hk_shape_size(last->out) != 1)
        return hk_fail(err, HK_ESHAPE, "%sbinary_crossentropy needs 1 output unit, but %s has %zu", before,
                       last->name, hk_shape_size(last->out));
    if (loss == HK_LOSS_CCE && hk_shape_size(last->out) < 2)
        return hk_fail(err, HK_ESHAPE, "%scategorical_crossentropy needs at least 2 output units, but %s has %zu",
                       before, last->name, hk_shape_size(last->out));
    return HK_OK;
}

enum hk_status hk_model_check_compiled(const struct hk_model *m, struct hk_error *err)
{
    if (!m->compiled)
        return hk_fail(err, HK_EINVAL, "the model is not compiled; run compile first");
    enum hk_status st = check_loss_fits(m, m->loss, "the model changed after compile: ", err);
    if (st != HK_OK && err)
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg), "; compile again");
    return st;
}

enum hk_status hk_model_compile(struct hk_model *m, const struct hk_optim *opt, enum hk_loss loss,
                                struct hk_error *err)
{
    if (!m->count)
        return hk_fail(err, HK_EINVAL, "the model has no layers yet");
    enum hk_status st = check_loss_fits(m, loss, "", err);
    if (st != HK_OK)
        return st;
    if (!(opt->lr > 0))
        return hk_fail(err, HK_EINVAL, "learning rate must be positive, got %g", (double)opt->lr);
    m->optim = *opt;
    m->loss = loss;
    m->compiled = 1;
    memset(m->mom1, 0, m->nparams * sizeof *m->mom1);
    memset(m->mom2, 0, m->nparams * sizeof *m->mom2);
    m->step = 0;
    return HK_OK;
}

int hk_model_compiled(const struct hk_model *m, struct hk_optim *opt, enum hk_loss *loss)
{
    if (m->compiled && opt)
        *opt = m->optim;
    if (m->compiled && loss)
        *loss = m->loss;
    return m->compiled;
}

/* Layout of the workspace of layers[0..count) for batch n; with base != NULL (only for the
 * model's own layers) the views are set. */
static size_t layout(struct hk_model *m, struct hk_layer *layers, int count, int n, char *base)
{
    size_t off = 0, maxval = hk_shape_size(m->input), scratch = 0;
    for (int i = 0; i < count; i++) {
        struct hk_layer *l = &layers[i];
        size_t out = hk_shape_size(l->out);
        maxval = out > maxval ? out : maxval;
        if (base)
            l->y = (float *)(base + off);
        off += align64((size_t)n * out * sizeof(float));
        size_t aux = l->ops->aux_bytes ? l->ops->aux_bytes(l, n) : 0;
        if (base)
            l->aux = aux ? base + off : NULL;
        off += align64(aux);
        size_t s = l->ops->scratch_floats ? l->ops->scratch_floats(l) : 0;
        scratch = s > scratch ? s : scratch;
    }
    int gbuf[HK_MODEL_MAX_LAYERS], temps, nbuf = hk_graph_grad_plan(layers, count, gbuf, &temps);
    if (base) {
        memcpy(m->gbuf, gbuf, (size_t)count * sizeof *gbuf);
        m->ngbuf = nbuf;
        m->ntemp = temps;
    }
    for (int k = 0; k < nbuf + temps || k < 2; k++) {
        if (base)
            m->dbuf[k] = (float *)(base + off);
        off += align64((size_t)n * maxval * sizeof(float));
    }
    for (int k = 0; k < HK_TEAM_PARTS; k++) {
        if (base)
            m->scratch[k] = (float *)(base + off);
        off += align64(scratch * sizeof(float));
    }
    if (base)
        m->logits = (float *)(base + off);
    off += align64((size_t)n * hk_shape_size(count ? layers[count - 1].out : m->input) * sizeof(float));
    return off;
}

size_t hk_model_workspace_bytes(const struct hk_model *m, int n)
{
    return layout((struct hk_model *)m, (struct hk_layer *)m->layers, m->count, n, NULL);
}

size_t hk_model_memory_bytes(const struct hk_model *m, int n)
{
    return (m->nparams * 4 + m->nstate) * sizeof(float) + hk_model_workspace_bytes(m, n);
}

enum hk_status hk_model_check_batch(const struct hk_model *m, int n, struct hk_error *err)
{
    size_t params = m->nparams * 4 * sizeof(float), bytes = hk_model_workspace_bytes(m, n);
    size_t limit = hk_model_memory_limit();
    if (params <= limit && bytes <= limit - params)
        return HK_OK;
    char need[32], lim[32];
    hk_format_bytes(need, sizeof need, params + bytes);
    hk_format_bytes(lim, sizeof lim, limit);
    return hk_fail(err, HK_ENOMEM, "a batch of %d would need %s with the parameters; the memory limit is %s (use a "
                   "smaller batch, or raise it with: model limits memory=SIZE)", n, need, lim);
}

enum hk_status hk_model_reserve(struct hk_model *m, int n, struct hk_error *err)
{
    if (n <= m->ws_batch && m->workspace)
        return HK_OK;
    if (hk_model_check_batch(m, n, err) != HK_OK)
        return HK_ENOMEM;
    size_t bytes = layout(m, m->layers, m->count, n, NULL);
    void *ws = alloc_big(bytes);
    if (!ws) {
        char need[32];
        hk_format_bytes(need, sizeof need, bytes);
        return hk_fail(err, HK_ENOMEM, "out of memory for a batch of %d (%s of activations)", n, need);
    }
    free(m->workspace);
    m->workspace = ws;
    m->ws_batch = n;
    layout(m, m->layers, m->count, n, ws);
    return HK_OK;
}
