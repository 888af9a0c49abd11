/* import_tfjs.c: a TensorFlow.js layers model onto husky: after the topology is read
 * (import_topology.c), each Keras layer becomes one husky layer command (import_layers.c) with its
 * connections and name, replayed through the language's parser; then the manifest's tensors fill
 * the weights in husky's layouts (import_weights.c) and layers Keras marks trainable: false are
 * frozen. Reading the files is import_files.c; this file also imports from memory. */
#include "import_tfjs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"
#include "layer_spec.h"

enum hk_status tj_layer_fail(struct tj_ctx *c, const struct tj_layer *l, enum hk_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hk_fail(c->err, st, "%.60s: layer '%.64s' (%.40s): %s", c->file, l->name, l->cls, msg);
}

/* Lex and parse c->line as a layer command and append it to the model. */
static enum hk_status build(struct tj_ctx *c, const struct tj_layer *l)
{
    struct hk_layer_spec spec;
    struct hk_error e;
    int col, bad;
    if (c->len + 1 >= sizeof c->line)
        return tj_layer_fail(c, l, HK_EFORMAT, "its husky command is over %d bytes", TJ_MAX_LINE);
    if (hk_lex(c->line, &c->words, &col, &e) != HK_OK || hk_layer_spec_parse(&c->words, 0, &spec, &bad, &e) != HK_OK)
        return tj_layer_fail(c, l, HK_EFORMAT, "husky cannot build '%.160s': %s", c->line, e.msg);
    if (hk_model_insert(c->m, hk_model_count(c->m), &spec, NULL, &e) != HK_OK)
        return tj_layer_fail(c, l, e.status, "'%.160s': %s", c->line, e.msg);
    return HK_OK;
}

/* The husky layers for the Keras layers, in order, then their weights. */
static enum hk_status build_all(struct tj_ctx *c, uint64_t seed)
{
    enum hk_status st;
    struct tj_tensor *claimed[HK_MODEL_MAX_LAYERS + 1][4];
    int nclaimed[HK_MODEL_MAX_LAYERS + 1] = {0};
    const char *prev = NULL; /* the Keras name of the last layer built (or the InputLayer) */
    for (int i = 0; i < c->nlayers; i++) {
        struct tj_layer *l = &c->layers[i];
        if (!strcmp(l->cls, "InputLayer")) {
            if (i != 0)
                return tj_layer_fail(c, l, HK_EFORMAT, "an InputLayer that is not the first layer");
            if ((st = tj_make_model(c, l, seed)) != HK_OK)
                return st;
            c->input_name = prev = l->name;
            continue;
        }
        if (!c->m && (st = tj_make_model(c, l, seed)) != HK_OK)
            return st;
        if ((st = tj_map_layer(c, l)) != HK_OK)
            return st;
        int is_add = !strcmp(l->cls, "Add");
        if (l->nin != (is_add ? 2 : prev ? 1 : 0))
            return tj_layer_fail(c, l, HK_EFORMAT, "has %d inputs; husky's %s takes %s", l->nin, is_add ? "add" : "layer",
                              is_add ? "exactly 2" : "1");
        struct hk_shape in = hk_model_input(c->m);
        for (int k = 0; k < l->nin; k++) {
            int j = tj_find_layer(c, l->in[k], i);
            if (j < 0)
                return tj_layer_fail(c, l, HK_EFORMAT, "reads '%.64s', which is not a layer listed before it", l->in[k]);
            if (c->layers[j].husky < 0 && strcmp(l->in[k], prev) != 0)
                return tj_layer_fail(c, l, HK_EFORMAT, "reads the model input but is not the first layer; husky "
                                                    "cannot import that connection");
            if (c->layers[j].husky >= 0)
                in = hk_model_layer(c->m, c->layers[j].husky)->out;
        }
        if (is_add) {
            if (!strcmp(l->in[1], prev))
                tj_put(c, " from=%s", l->in[0]);
            else if (!strcmp(l->in[0], prev))
                tj_put(c, " from=%s", l->in[1]);
            else
                tj_put(c, " from=%s,%s", l->in[0], l->in[1]);
        } else if (l->nin && strcmp(l->in[0], prev) != 0) {
            tj_put(c, " input=%s", l->in[0]);
        }
        tj_put(c, " name=%s", l->name);
        struct tj_want w[4];
        int nw = tj_wanted(l, in, w);
        for (int k = 0; k < nw; k++)
            if ((st = tj_claim(c, l, &w[k], &claimed[i][k], c->err)) != HK_OK)
                return st;
        nclaimed[i] = nw;
        if ((st = build(c, l)) != HK_OK)
            return st;
        l->husky = hk_model_count(c->m) - 1;
        prev = l->name;
    }
    if (!c->m)
        return tj_fail(c->err, HK_EFORMAT, c->file, "the model has no layers");
    for (int i = 0; i < c->man.n; i++)
        if (!c->man.t[i].used)
            return tj_fail(c->err, HK_EFORMAT, c->file, "tensor '%.80s' in the weights manifest belongs to no layer",
                           c->man.t[i].name);
    for (int i = 0; i < c->nlayers; i++) {
        int trainable = tj_get_bool(c->layers[i].config, "trainable", 1);
        if (trainable < 0)
            return tj_layer_fail(c, &c->layers[i], HK_EFORMAT, "trainable must be true or false");
        if (!trainable && c->layers[i].husky >= 0) {
            hk_model_set_frozen(c->m, c->layers[i].husky, c->layers[i].husky, 1);
            c->frozen++;
        }
    }
    for (int i = 0; i < c->nlayers; i++)
        if (nclaimed[i] && (st = tj_fill(c, &c->layers[i], hk_model_layer(c->m, c->layers[i].husky), claimed[i],
                                      nclaimed[i])) != HK_OK)
            return st;
    return HK_OK;
}

enum hk_status tj_run(struct tj_ctx *c, const json_t *root, uint64_t seed, struct hk_model **out,
                      struct hk_import_info *info)
{
    enum hk_status st = tj_read_topology(c, root);
    if (st == HK_OK)
        st = build_all(c, seed);
    if (st != HK_OK) {
        hk_model_free(c->m);
        c->m = NULL;
        return st;
    }
    *out = c->m;
    if (info) {
        info->layers = hk_model_count(c->m);
        info->tensors = c->man.n;
        info->frozen = c->frozen;
        info->weight_bytes = c->man.total;
        tj_dtypes(&c->man, info->dtypes, sizeof info->dtypes);
    }
    return HK_OK;
}

void tj_ctx_free(struct tj_ctx *c)
{
    if (!c)
        return;
    tj_manifest_free(&c->man);
    free(c->layers);
    free(c);
}

enum hk_status hk_import_tfjs_memory(const char *name, const char *json, size_t n, const unsigned char *weights,
                                     size_t wbytes, uint64_t seed, struct hk_model **out,
                                     struct hk_import_info *info, struct hk_error *err)
{
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    struct tj_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return tj_fail(err, HK_ENOMEM, name, "out of memory");
    c->file = name;
    c->err = err;
    c->weights = weights;
    json_t *root = NULL;
    enum hk_status st = tj_parse(name, json, n, &root, err);
    if (st == HK_OK)
        st = tj_manifest_read(name, root, &c->man, err);
    if (st == HK_OK && c->man.total != wbytes)
        st = tj_fail(err, HK_EFORMAT, name, "the weights hold %zu bytes; the manifest's tensors need %llu", wbytes,
                     (unsigned long long)c->man.total);
    if (st == HK_OK)
        st = tj_run(c, root, seed, out, info);
    json_decref(root);
    tj_ctx_free(c);
    return st;
}
