/* import_topology.c: a TensorFlow.js model.json's modelTopology (Keras's model config) read into
 * the list of Keras layers: Sequential, Model or Functional, each layer's class, config, checked
 * name and inbound layers (one call, one or two inputs, Keras 2 form), one input and one output;
 * and the husky model made from the input layer's batch_input_shape. */
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 31 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

int tj_find_layer(const struct tj_ctx *c, const char *name, int before)
{
    for (int i = 0; i < before; i++)
        if (strcmp(c->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* The inbound layer names of a functional model's layer (Keras 2 form: [[[name, 0, 0, {}], ...]]). */
static enum hk_status read_inbound(struct tj_ctx *c, struct tj_layer *l, const json_t *e)
{
    const json_t *nodes = json_object_get(e, "inbound_nodes");
    if (!json_is_array(nodes))
        return tj_layer_fail(c, l, HK_EFORMAT, "no inbound_nodes list");
    if (json_array_size(nodes) == 0)
        return HK_OK;
    if (json_array_size(nodes) > 1)
        return tj_layer_fail(c, l, HK_EFORMAT, "is called more than once (shared layers are not supported)");
    const json_t *node = json_array_get(nodes, 0);
    if (!json_is_array(node) || json_array_size(node) < 1 || json_array_size(node) > 2)
        return tj_layer_fail(c, l, HK_EFORMAT, "inbound_nodes must hold one node of 1 or 2 inputs in the Keras 2 form "
                                            "[[[\"name\", 0, 0, {}]]]");
    for (size_t k = 0; k < json_array_size(node); k++) {
        const json_t *ref = json_array_get(node, k);
        const char *from = json_string_value(json_array_get(ref, 0));
        const json_t *ni = json_array_get(ref, 1), *ti = json_array_get(ref, 2);
        if (!json_is_array(ref) || !from || !json_is_integer(ni) || !json_is_integer(ti))
            return tj_layer_fail(c, l, HK_EFORMAT, "an inbound node is not [\"name\", 0, 0, {}]");
        if (json_integer_value(ni) != 0 || json_integer_value(ti) != 0)
            return tj_layer_fail(c, l, HK_EFORMAT, "reads output %d of node %d of '%.64s'; husky layers have one",
                              (int)json_integer_value(ti), (int)json_integer_value(ni), from);
        l->in[l->nin++] = from;
    }
    return HK_OK;
}

enum hk_status tj_read_topology(struct tj_ctx *c, const json_t *root)
{
    const json_t *topo = json_object_get(root, "modelTopology");
    if (!json_is_object(topo))
        return tj_fail(c->err, HK_EFORMAT, c->file, "no modelTopology object (is this a TensorFlow.js layers "
                                                    "model? graph models are not supported)");
    if (json_is_object(json_object_get(topo, "model_config")))
        topo = json_object_get(topo, "model_config");
    const char *cls = tj_get_str(topo, "class_name", "");
    const json_t *cfg = json_object_get(topo, "config");
    int sequential = strcmp(cls, "Sequential") == 0;
    if (!sequential && strcmp(cls, "Model") != 0 && strcmp(cls, "Functional") != 0)
        return tj_fail(c->err, HK_EFORMAT, c->file, "model class '%.40s'; husky imports Sequential, Model and "
                                                    "Functional models",
                       cls);
    const json_t *layers = json_is_array(cfg) ? cfg : json_object_get(cfg, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0)
        return tj_fail(c->err, HK_EFORMAT, c->file, "the model config has no list of layers");
    size_t n = json_array_size(layers);
    if (n > HK_MODEL_MAX_LAYERS + 1)
        return tj_fail(c->err, HK_ENOMEM, c->file, "%zu layers; husky models hold at most %d", n,
                       HK_MODEL_MAX_LAYERS);
    if (!(c->layers = calloc(n, sizeof *c->layers)))
        return tj_fail(c->err, HK_ENOMEM, c->file, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(layers, i);
        struct tj_layer *l = &c->layers[i];
        l->husky = -1;
        l->config = json_object_get(e, "config");
        l->cls = tj_get_str(e, "class_name", "");
        l->name = tj_get_str(e, "name", tj_get_str(l->config, "name", ""));
        if (!json_is_object(e) || !json_is_object(l->config) || !l->cls[0])
            return tj_fail(c->err, HK_EFORMAT, c->file, "layer %zu has no class_name and config object", i);
        if (!valid_name(l->name))
            return tj_fail(c->err, HK_EFORMAT, c->file, "layer %zu (%.40s): name '%.64s' is not 1 to 31 of "
                                                        "A-Z a-z 0-9 _ . - starting with a letter or _",
                           i, l->cls, l->name);
        if (tj_find_layer(c, l->name, (int)i) >= 0)
            return tj_fail(c->err, HK_EFORMAT, c->file, "two layers are called '%.64s'", l->name);
        c->nlayers = (int)i + 1;
        if (sequential) {
            if (i > 0)
                l->in[l->nin++] = c->layers[i - 1].name;
        } else {
            enum hk_status st = read_inbound(c, l, e);
            if (st != HK_OK)
                return st;
        }
    }
    if (!sequential) {
        const json_t *ins = json_object_get(cfg, "input_layers"), *outs = json_object_get(cfg, "output_layers");
        const char *out = json_string_value(json_array_get(json_array_get(outs, 0), 0));
        if (json_array_size(ins) != 1 || json_array_size(outs) != 1 || !out)
            return tj_fail(c->err, HK_EFORMAT, c->file, "husky imports models with one input and one output "
                                                        "(input_layers and output_layers)");
        if (strcmp(out, c->layers[n - 1].name) != 0)
            return tj_fail(c->err, HK_EFORMAT, c->file, "the output layer '%.64s' is not the last layer listed",
                           out);
    }
    return HK_OK;
}

enum hk_status tj_make_model(struct tj_ctx *c, const struct tj_layer *l, uint64_t seed)
{
    const json_t *s = json_object_get(l->config, "batch_input_shape");
    if (!s)
        s = json_object_get(l->config, "batch_shape");
    int d[3];
    if (!json_is_array(s) || json_array_size(s) != 4 || !json_is_null(json_array_get(s, 0)))
        return tj_layer_fail(c, l, HK_EFORMAT, "needs batch_input_shape [null, height, width, channels]");
    for (int i = 0; i < 3; i++) {
        const json_t *x = json_array_get(s, (size_t)i + 1);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 16384)
            return tj_layer_fail(c, l, HK_EFORMAT, "batch_input_shape sizes must be 1 to 16384");
        d[i] = (int)json_integer_value(x);
    }
    if (d[2] > 4)
        return tj_layer_fail(c, l, HK_EFORMAT, "%d input channels; husky models take 1 to 4", d[2]);
    struct hk_error e;
    if (!(c->m = hk_model_new((struct hk_shape){d[2], d[0], d[1]}, seed, &e)))
        return tj_layer_fail(c, l, e.status, "%s", e.msg);
    return HK_OK;
}
