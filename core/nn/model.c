/* model.c: the model, a graph of layers in script order (see graph.h): shape checking on every
 * change, the four arenas (parameters, gradients, two optimizer moments), the per-batch workspace,
 * and the passes over it. */
#include "model.h"

#include "graph.h"

#include "lexer.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct hk_model {
    struct hk_shape input;
    uint64_t seed;
    int count;
    struct hk_layer layers[HK_MODEL_MAX_LAYERS];
    int name_serial[HK_LAYER_NAME_SLOTS]; /* next Keras-style suffix per kind (and re_lu) */

    size_t nparams;
    float *params, *grads, *mom1, *mom2; /* one allocation each */
    size_t nstate;
    float *state;                        /* non-trainable state (batchnorm moving statistics) */

    int compiled;
    struct hk_optim optim;
    enum hk_loss loss;
    uint64_t step;

    hk_sync_fn sync;    /* data-parallel statistics (batchnorm), NULL alone */
    void *sync_user;
    double share;

    int ws_batch;       /* batch the workspace is sized for (0 = none) */
    void *workspace;    /* layer outputs, aux, two gradient buffers, a scratch per part, logits */
    int gbuf[HK_MODEL_MAX_LAYERS]; /* gradient buffer of each layer's output (hk_graph_grad_plan) */
    int ngbuf, ntemp;
    float *dbuf[HK_MODEL_MAX_LAYERS + 2]; /* ngbuf gradient buffers, then ntemp for adding into one */
    float *scratch[HK_TEAM_PARTS];
    float *logits;
};

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

static enum hk_status reserve(struct hk_model *m, int n, struct hk_error *err);

enum hk_status hk_model_sync_idle(struct hk_model *m, struct hk_error *err)
{
    if (!m->sync)
        return HK_OK;
    enum hk_status st = reserve(m, 1, err);
    if (st != HK_OK)
        return st;
    struct hk_pass p = {.training = 1, .seed = m->seed, .step = m->step, .sync = m->sync,
                        .sync_user = m->sync_user, .share = 0};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    for (int i = 0; i < m->count; i++)
        if (m->layers[i].ops->sync_idle)
            m->layers[i].ops->sync_idle(&m->layers[i], &p, 0);
    for (int i = m->count - 1; i >= 0; i--) /* as backward(): not the layers off the loss's path */
        if (m->layers[i].ops->sync_idle && m->gbuf[i] >= 0)
            m->layers[i].ops->sync_idle(&m->layers[i], &p, 1);
    return HK_OK;
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

static enum hk_status reserve(struct hk_model *m, int n, struct hk_error *err)
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

enum hk_status hk_model_forward(struct hk_model *m, const float *x, int n, int training, uint64_t sample0,
                                const float **out, struct hk_error *err)
{
    return hk_model_forward_from(m, 0, x, n, training, sample0, out, err);
}

enum hk_status hk_model_forward_from(struct hk_model *m, int first, const float *x, int n, int training,
                                     uint64_t sample0, const float **out, struct hk_error *err)
{
    if (first < 0 || (first > 0 && first >= m->count))
        return hk_fail(err, HK_EINVAL, "no layer %d to start a forward pass at (the model has %d)", first, m->count);
    for (int i = first; i < m->count && first > 0; i++)
        if (m->layers[i].input < first - 1 || (m->layers[i].input2 >= 0 && m->layers[i].input2 < first - 1))
            return hk_fail(err, HK_EINVAL, "%s reads a layer before %s; a pass cannot start after it",
                           m->layers[i].name, m->layers[first - 1].name);
    enum hk_status st = reserve(m, n, err);
    if (st != HK_OK)
        return st;
    if (first > 0) { /* x is layer first-1's output: the later layers read it where they read that layer */
        const struct hk_layer *before = &m->layers[first - 1];
        memcpy(before->y, x, (size_t)n * hk_shape_size(before->out) * sizeof *x);
    }
    struct hk_pass p = {.training = training, .seed = m->seed, .step = m->step, .sample0 = sample0,
                        .sync = training ? m->sync : NULL, .sync_user = m->sync_user, .share = m->share};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    const float *in = x;
    int lend = n < HK_TEAM_PARTS;
    if (lend)
        hk_team_lend_blas(1);
    for (int i = first; i < m->count; i++) {
        struct hk_layer *l = &m->layers[i];
        size_t width = hk_shape_size(l->out);
        p.x2 = l->input2 >= 0 ? m->layers[l->input2].y : NULL;
        l->ops->forward(l, l->input >= 0 ? m->layers[l->input].y : x, n, &p);
        if (i == m->count - 1)
            memcpy(m->logits, l->y, (size_t)n * width * sizeof *l->y);
        if (!hk_layer_fuses_act(l))
            hk_act_forward(l->spec.act, l->y, (size_t)n, width);
        in = l->y;
    }
    if (lend)
        hk_team_lend_blas(0);
    if (out)
        *out = in;
    return HK_OK;
}

static int count_correct(const float *logits, const int *labels, int n, int k)
{
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        int pred = 0;
        if (k == 1)
            pred = row[0] >= 0.0f; /* sigmoid(z) >= 0.5 */
        else
            for (int j = 1; j < k; j++)
                pred = row[j] > row[pred] ? j : pred;
        correct += pred == labels[i];
    }
    return correct;
}

static double l2_penalty(struct hk_model *m, int with_grad)
{
    double total = 0;
    for (int i = 0; i < m->count; i++) {
        struct hk_layer *l = &m->layers[i];
        if (l->spec.l2 <= 0 || !l->wcount || l->frozen)
            continue;
        double s = 0;
        for (size_t j = 0; j < l->wcount; j++) {
            s += (double)l->w[j] * l->w[j];
            if (with_grad)
                l->dw[j] += 2.0f * l->spec.l2 * l->w[j];
        }
        total += l->spec.l2 * s;
    }
    return total;
}

/* Backpropagate the loss gradient in the last layer's gradient buffer (dbuf[0], of its logits)
 * through the graph of the last forward pass of x: parameter gradients accumulate into the
 * gradient arena, and dinput (may be NULL) receives the gradient with respect to the input. A
 * layer's output gradient is complete once all its readers (all later) have run; the first of them
 * writes it, the others add into it. Layers whose output does not reach the loss are skipped, and
 * without dinput so are layers with nothing trainable at or above them (a frozen base). */
static void backward(struct hk_model *m, const float *x, int n, int training, uint64_t sample0, float *dinput)
{
    int up[HK_MODEL_MAX_LAYERS], written[HK_MODEL_MAX_LAYERS], input_written = 0;
    for (int i = 0; i < m->count; i++) {
        const struct hk_layer *l = &m->layers[i];
        up[i] = dinput || (l->wcount + l->bcount > 0 && !l->frozen) || (l->input >= 0 && up[l->input]) ||
                (l->input2 >= 0 && up[l->input2]);
        written[i] = i == m->count - 1;
    }
    struct hk_pass p = {.training = training, .seed = m->seed, .step = m->step, .sample0 = sample0,
                        .sync = training ? m->sync : NULL, .sync_user = m->sync_user, .share = m->share};
    memcpy(p.scratch, m->scratch, sizeof p.scratch);
    for (int i = m->count - 1; i >= 0; i--) {
        struct hk_layer *l = &m->layers[i];
        if (m->gbuf[i] < 0 || !up[i])
            continue;
        float *dy = m->dbuf[m->gbuf[i]], *target[2] = {NULL, NULL}, *sum[2] = {NULL, NULL};
        int in[2] = {l->input, l->input2}, add[2] = {0, 0};
        if (i != m->count - 1 && !hk_layer_fuses_act(l))
            hk_act_backward(l->spec.act, l->y, dy, (size_t)n, hk_shape_size(l->out));
        for (int s = 0; s < 2; s++) {
            if (in[s] < 0 && (s == 1 || !dinput))
                continue;
            if (in[s] >= 0 && !up[in[s]])
                continue;
            int *done = in[s] >= 0 ? &written[in[s]] : &input_written;
            sum[s] = in[s] >= 0 ? m->dbuf[m->gbuf[in[s]]] : dinput;
            add[s] = *done;
            target[s] = add[s] ? m->dbuf[m->ngbuf + s] : sum[s];
            *done = 1;
        }
        p.x2 = in[1] >= 0 ? m->layers[in[1]].y : NULL;
        p.dx2 = target[1];
        l->ops->backward(l, in[0] >= 0 ? m->layers[in[0]].y : x, dy, target[0], n, &p);
        if (l->frozen) /* a layer may skip dw when frozen; none may leave one behind */
            memset(l->dw, 0, (l->wcount + l->bcount) * sizeof *l->dw);
        for (int s = 0; s < 2; s++) {
            if (!add[s])
                continue;
            const float *part = target[s];
            size_t count = (size_t)n * hk_shape_size(in[s] >= 0 ? m->layers[in[s]].out : m->input);
            for (size_t j = 0; j < count; j++)
                sum[s][j] += part[j];
        }
    }
}

enum hk_status hk_model_gradients(struct hk_model *m, const float *x, const int *labels,
                                  const float *sample_weight, int n, uint64_t sample0,
                                  struct hk_step_result *res, struct hk_error *err)
{
    return hk_model_gradients_from(m, 0, x, labels, sample_weight, n, sample0, res, err);
}

enum hk_status hk_model_gradients_from(struct hk_model *m, int first, const float *x, const int *labels,
                                       const float *sample_weight, int n, uint64_t sample0,
                                       struct hk_step_result *res, struct hk_error *err)
{
    enum hk_status st = hk_model_check_compiled(m, err);
    if (st == HK_OK && first > 0 && !(first - 1 <= hk_model_cache_point(m)))
        st = hk_fail(err, HK_EINVAL, "training cannot start after %s: a layer up to it trains or draws dropout",
                     m->layers[first - 1].name);
    if (st == HK_OK)
        st = hk_model_forward_from(m, first, x, n, 1, sample0, NULL, err);
    if (st != HK_OK)
        return st;
    struct hk_layer *last = &m->layers[m->count - 1];
    int k = (int)hk_shape_size(last->out);
    res->loss = hk_loss_eval(m->loss, m->logits, labels, sample_weight, n, k, m->dbuf[m->gbuf[m->count - 1]]);
    res->correct = count_correct(m->logits, labels, n, k);
    memset(m->grads, 0, m->nparams * sizeof *m->grads);
    backward(m, x, n, 1, sample0, NULL);
    res->loss += l2_penalty(m, 1);
    return HK_OK;
}

static void optim_run(struct hk_model *m, size_t start, size_t end)
{
    if (end > start)
        hk_optim_step(&m->optim, m->step, m->params + start, m->grads + start, m->mom1 + start, m->mom2 + start,
                      end - start);
}

enum hk_status hk_model_input_gradient(struct hk_model *m, const float *x, const int *labels, int n, int margin,
                                       float *dx, float *out, double *loss, struct hk_error *err)
{
    const float *y;
    enum hk_status st = hk_model_check_compiled(m, err);
    if (st == HK_OK)
        st = hk_model_forward(m, x, n, 0, 0, &y, err);
    if (st != HK_OK)
        return st;
    int k = (int)hk_shape_size(hk_model_output(m));
    if (out)
        memcpy(out, y, (size_t)n * k * sizeof *out);
    double l = margin ? hk_loss_margin(m->logits, labels, n, k, m->dbuf[0])
                      : hk_loss_eval(m->loss, m->logits, labels, NULL, n, k, m->dbuf[0]);
    if (loss)
        *loss = l;
    backward(m, x, n, 0, 0, dx);
    return HK_OK;
}

void hk_model_update(struct hk_model *m)
{
    m->step++;
    /* one flat loop over each run of trainable layers (the arena is in layer order); frozen
     * layers' parameters and moments stay as they are */
    size_t start = 0, end = 0;
    for (int i = 0; i < m->count; i++) {
        const struct hk_layer *l = &m->layers[i];
        size_t off = (size_t)(l->w - m->params), cnt = l->wcount + l->bcount;
        if (!cnt)
            continue;
        if (l->frozen || off != end) {
            optim_run(m, start, end);
            start = end = l->frozen ? off + cnt : off;
        }
        if (!l->frozen)
            end = off + cnt;
    }
    optim_run(m, start, end);
}

enum hk_status hk_model_train_step(struct hk_model *m, const float *x, const int *labels,
                                   const float *sample_weight, int n, struct hk_step_result *res,
                                   struct hk_error *err)
{
    enum hk_status st = hk_model_gradients(m, x, labels, sample_weight, n, 0, res, err);
    if (st == HK_OK)
        hk_model_update(m);
    return st;
}

enum hk_status hk_model_predict(struct hk_model *m, const float *x, int n, int batch, float *probs,
                                struct hk_error *err)
{
    size_t in = hk_shape_size(m->input), k = hk_shape_size(hk_model_output(m));
    batch = batch > 0 ? batch : 32;
    for (int s = 0; s < n; s += batch) {
        int b = n - s < batch ? n - s : batch;
        const float *out;
        enum hk_status st = hk_model_forward(m, x + (size_t)s * in, b, 0, 0, &out, err);
        if (st != HK_OK)
            return st;
        memcpy(probs + (size_t)s * k, out, (size_t)b * k * sizeof *out);
    }
    return HK_OK;
}

enum hk_status hk_model_evaluate(struct hk_model *m, const float *x, const int *labels, int n, int batch,
                                 struct hk_step_result *res, float *probs, struct hk_error *err)
{
    return hk_model_evaluate_from(m, 0, x, labels, n, batch, res, probs, err);
}

enum hk_status hk_model_evaluate_from(struct hk_model *m, int first, const float *x, const int *labels, int n,
                                      int batch, struct hk_step_result *res, float *probs, struct hk_error *err)
{
    enum hk_status compiled = hk_model_check_compiled(m, err);
    if (compiled != HK_OK)
        return compiled;
    size_t in = first > 0 ? hk_shape_size(m->layers[first - 1].out) : hk_shape_size(m->input);
    int k = (int)hk_shape_size(hk_model_output(m));
    double total = 0;
    int correct = 0;
    batch = batch > 0 ? batch : 32;
    for (int s = 0; s < n; s += batch) {
        int b = n - s < batch ? n - s : batch;
        const float *out;
        enum hk_status st = hk_model_forward_from(m, first, x + (size_t)s * in, b, 0, 0, &out, err);
        if (st != HK_OK)
            return st;
        if (probs)
            memcpy(probs + (size_t)s * k, out, (size_t)b * k * sizeof *out);
        total += hk_loss_eval(m->loss, m->logits, labels + s, NULL, b, k, NULL) * b;
        correct += count_correct(m->logits, labels + s, b, k);
    }
    res->loss = n ? total / n : 0;
    res->correct = correct;
    return HK_OK;
}
