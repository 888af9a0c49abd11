/* import_tfjs.c: a TensorFlow.js layers model onto husky: each Keras layer becomes one husky layer
 * command replayed through the language's parser, then the manifest's tensors fill the weights in
 * husky's layouts. Reading the files (with their size checks) is at the bottom. */
#include "import_tfjs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import_json.h"
#include "layer_spec.h"
#include "lexer.h"

#define TJ_MAX_LINE 1024

/* One Keras layer as the topology lists it. */
struct tj_layer {
    const char *name;
    const char *cls;
    const json_t *config;
    const char *in[2]; /* inbound layer names (Add has two) */
    int nin;
    int husky;         /* index of the husky layer built from it; -1 for the InputLayer */
};

struct tj_ctx {
    const char *file;          /* for messages */
    struct tj_manifest man;
    const unsigned char *weights;
    struct hk_model *m;
    struct tj_layer *layers;   /* owned */
    int nlayers;
    const char *input_name;    /* the InputLayer's name, or NULL */
    int frozen;                /* layers frozen because Keras marks them trainable: false */
    struct hk_error *err;
    struct hk_words words;
    char line[TJ_MAX_LINE];
    size_t len;
};

/* err = "FILE: layer 'NAME' (CLASS): <fmt>"; returns st. */
static enum hk_status layer_fail(struct tj_ctx *c, const struct tj_layer *l, enum hk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum hk_status layer_fail(struct tj_ctx *c, const struct tj_layer *l, enum hk_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hk_fail(c->err, st, "%.60s: layer '%.64s' (%.40s): %s", c->file, l->name, l->cls, msg);
}

/* ---- reading configs ---- */

/* Append to the command line being built. */
static void put(struct tj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct tj_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(c->line + c->len, sizeof c->line - c->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        c->len = c->len + (size_t)w < sizeof c->line ? c->len + (size_t)w : sizeof c->line - 1;
}

/* " key=v" (or " v" when key is NULL), v as the shortest text that reads back as the same float. */
static void put_float(struct tj_ctx *c, const char *key, double v)
{
    char num[40];
    hk_format_float(num, sizeof num, (float)v);
    if (key)
        put(c, " %s=%s", key, num);
    else
        put(c, " %s", num);
}

/* config[key] as two positive ints: an int n means (n, n), a list [a, b] means (a, b). Absent:
 * def. Returns 0 when malformed. */
static int get_pair(const json_t *config, const char *key, int def, int out[2])
{
    const json_t *v = json_object_get(config, key);
    if (!v || json_is_null(v)) {
        out[0] = out[1] = def;
        return 1;
    }
    if (json_is_integer(v)) {
        out[0] = out[1] = (int)json_integer_value(v);
        return json_integer_value(v) >= 1 && json_integer_value(v) <= 4096;
    }
    if (!json_is_array(v) || json_array_size(v) != 2)
        return 0;
    for (int i = 0; i < 2; i++) {
        const json_t *x = json_array_get(v, (size_t)i);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 4096)
            return 0;
        out[i] = (int)json_integer_value(x);
    }
    return 1;
}

static const char *get_str(const json_t *config, const char *key, const char *def)
{
    const json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : v && !json_is_null(v) ? "" : def;
}

/* config[key] is absent, null or false (def 0) / true (def 1) as expected. */
static int get_bool(const json_t *config, const char *key, int def)
{
    const json_t *v = json_object_get(config, key);
    if (!v || json_is_null(v))
        return def;
    return json_is_true(v) ? 1 : json_is_false(v) ? 0 : -1;
}

/* A number, or def when absent; NAN when not a number. */
static double get_num(const json_t *config, const char *key, double def)
{
    const json_t *v = json_object_get(config, key);
    if (!v)
        return def;
    return json_is_number(v) ? json_number_value(v) : (double)NAN;
}

/* ---- the layers ---- */

/* Options every convolution-like layer shares: data_format, dilation, padding, strides. */
static enum hk_status put_window(struct tj_ctx *c, const struct tj_layer *l, int with_dilation)
{
    const json_t *cfg = l->config;
    int strides[2], dil[2];
    const char *fmt = get_str(cfg, "data_format", "channels_last"), *pad = get_str(cfg, "padding", "valid");
    if (strcmp(fmt, "channels_last") != 0)
        return layer_fail(c, l, HK_EFORMAT, "data_format '%.40s'; husky imports channels_last models", fmt);
    if (with_dilation && (!get_pair(cfg, "dilation_rate", 1, dil) || dil[0] != 1 || dil[1] != 1))
        return layer_fail(c, l, HK_EFORMAT, "dilation_rate other than 1 is not supported");
    if (strcmp(pad, "same") != 0 && strcmp(pad, "valid") != 0)
        return layer_fail(c, l, HK_EFORMAT, "padding '%.40s' (same or valid)", pad);
    if (!get_pair(cfg, "strides", 0, strides))
        return layer_fail(c, l, HK_EFORMAT, "strides must be 1 to 4096");
    if (strides[0])
        put(c, " strides=%dx%d", strides[0], strides[1]);
    put(c, " padding=%s", pad);
    return HK_OK;
}

/* Activation option of Conv2D, DepthwiseConv2D and Dense ("linear" = none). */
static void put_activation(struct tj_ctx *c, const struct tj_layer *l)
{
    const char *act = get_str(l->config, "activation", "linear");
    if (strcmp(act, "linear") != 0)
        put(c, " activation=%s", act[0] ? act : "?");
}

static enum hk_status map_conv(struct tj_ctx *c, const struct tj_layer *l, int depthwise)
{
    const json_t *cfg = l->config;
    int k[2], bias = get_bool(cfg, "use_bias", 1);
    if (!get_pair(cfg, "kernel_size", 0, k) || !k[0])
        return layer_fail(c, l, HK_EFORMAT, "kernel_size must be 1 to 4096");
    if (bias < 0)
        return layer_fail(c, l, HK_EFORMAT, "use_bias must be true or false");
    if (depthwise) {
        const json_t *dm = json_object_get(cfg, "depth_multiplier");
        if (dm && (!json_is_integer(dm) || json_integer_value(dm) != 1))
            return layer_fail(c, l, HK_EFORMAT, "depth_multiplier other than 1 is not supported");
        put(c, "depthwise %dx%d", k[0], k[1]);
    } else {
        const json_t *f = json_object_get(cfg, "filters"), *g = json_object_get(cfg, "groups");
        if (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 65536)
            return layer_fail(c, l, HK_EFORMAT, "filters must be a whole number from 1 to 65536");
        if (g && (!json_is_integer(g) || json_integer_value(g) != 1))
            return layer_fail(c, l, HK_EFORMAT, "grouped convolution (groups other than 1) is not supported");
        put(c, "conv2d %d %dx%d", (int)json_integer_value(f), k[0], k[1]);
    }
    enum hk_status st = put_window(c, l, 1);
    if (st != HK_OK)
        return st;
    if (!bias)
        put(c, " bias=no");
    put_activation(c, l);
    return HK_OK;
}

static enum hk_status map_pool(struct tj_ctx *c, const struct tj_layer *l, const char *word)
{
    int k[2];
    if (!get_pair(l->config, "pool_size", 2, k))
        return layer_fail(c, l, HK_EFORMAT, "pool_size must be 1 to 4096");
    put(c, "%s %dx%d", word, k[0], k[1]);
    return put_window(c, l, 0);
}

static enum hk_status map_dense(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *u = json_object_get(l->config, "units");
    int bias = get_bool(l->config, "use_bias", 1);
    if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > 1 << 24)
        return layer_fail(c, l, HK_EFORMAT, "units must be a whole number from 1 to %d", 1 << 24);
    if (bias != 1)
        return layer_fail(c, l, HK_EFORMAT, "a Dense layer without a bias is not supported");
    put(c, "dense %d", (int)json_integer_value(u));
    put_activation(c, l);
    return HK_OK;
}

static enum hk_status map_batchnorm(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *axis = json_object_get(l->config, "axis");
    if (json_is_array(axis) && json_array_size(axis) == 1)
        axis = json_array_get(axis, 0);
    if (axis && (!json_is_integer(axis) || (json_integer_value(axis) != -1 && json_integer_value(axis) != 3)))
        return layer_fail(c, l, HK_EFORMAT, "normalises an axis other than the channels (-1 or 3)");
    double mom = get_num(l->config, "momentum", 0.99), eps = get_num(l->config, "epsilon", 0.001);
    if (!(mom >= 0 && mom < 1) || !(eps > 0 && eps < 1))
        return layer_fail(c, l, HK_EFORMAT, "momentum must be in [0, 1) and epsilon in (0, 1)");
    if (get_bool(l->config, "center", 1) < 0 || get_bool(l->config, "scale", 1) < 0)
        return layer_fail(c, l, HK_EFORMAT, "center and scale must be true or false");
    put(c, "batchnorm");
    put_float(c, "momentum", mom);
    put_float(c, "epsilon", eps);
    return HK_OK;
}

static enum hk_status map_relu(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *mv = json_object_get(l->config, "max_value");
    double slope = get_num(l->config, "negative_slope", 0), thr = get_num(l->config, "threshold", 0);
    if (slope != 0 || thr != 0)
        return layer_fail(c, l, HK_EFORMAT, "a ReLU with a negative slope or threshold is not supported");
    if (!mv || json_is_null(mv))
        put(c, "activation relu");
    else if (json_is_number(mv) && json_number_value(mv) == 6)
        put(c, "activation relu6");
    else
        return layer_fail(c, l, HK_EFORMAT, "a ReLU capped at a value other than 6 is not supported");
    return HK_OK;
}

static enum hk_status map_zeropad(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *p = json_object_get(l->config, "padding");
    int v[4];
    int pair[2];
    if (json_is_array(p) && json_array_size(p) == 2 && json_is_array(json_array_get(p, 0))) {
        for (int i = 0; i < 2; i++) {
            const json_t *q = json_array_get(p, (size_t)i);
            for (int j = 0; j < 2; j++) {
                const json_t *x = json_array_get(q, (size_t)j);
                if (!json_is_array(q) || json_array_size(q) != 2 || !json_is_integer(x) ||
                    json_integer_value(x) < 0 || json_integer_value(x) > 4096)
                    return layer_fail(c, l, HK_EFORMAT, "padding must be [[top, bottom], [left, right]] of 0 to 4096");
                v[2 * i + j] = (int)json_integer_value(x);
            }
        }
    } else if (get_pair(l->config, "padding", 1, pair)) {
        v[0] = v[1] = pair[0];
        v[2] = v[3] = pair[1];
    } else {
        return layer_fail(c, l, HK_EFORMAT, "padding must be N, [H, W] or [[top, bottom], [left, right]]");
    }
    if (strcmp(get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
        return layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
    put(c, "zeropad %d,%d,%d,%d", v[0], v[1], v[2], v[3]);
    return HK_OK;
}

/* The husky command for Keras layer l (without name= and input=) into c->line. */
static enum hk_status map_layer(struct tj_ctx *c, const struct tj_layer *l)
{
    const char *cls = l->cls;
    c->len = 0;
    c->line[0] = '\0';
    if (!strcmp(cls, "Conv2D"))
        return map_conv(c, l, 0);
    if (!strcmp(cls, "DepthwiseConv2D"))
        return map_conv(c, l, 1);
    if (!strcmp(cls, "Dense"))
        return map_dense(c, l);
    if (!strcmp(cls, "BatchNormalization"))
        return map_batchnorm(c, l);
    if (!strcmp(cls, "ReLU"))
        return map_relu(c, l);
    if (!strcmp(cls, "ZeroPadding2D"))
        return map_zeropad(c, l);
    if (!strcmp(cls, "MaxPooling2D"))
        return map_pool(c, l, "maxpool");
    if (!strcmp(cls, "AveragePooling2D"))
        return map_pool(c, l, "avgpool");
    if (!strcmp(cls, "Activation")) {
        const char *act = get_str(l->config, "activation", "");
        put(c, "activation %s", act[0] ? act : "?");
        return HK_OK;
    }
    if (!strcmp(cls, "Dropout")) {
        double r = get_num(l->config, "rate", NAN);
        const json_t *ns = json_object_get(l->config, "noise_shape");
        if (!(r >= 0 && r < 1))
            return layer_fail(c, l, HK_EFORMAT, "rate must be in [0, 1)");
        if (ns && !json_is_null(ns))
            return layer_fail(c, l, HK_EFORMAT, "a noise_shape is not supported");
        put(c, "dropout");
        put_float(c, NULL, r);
        return HK_OK;
    }
    if (!strcmp(cls, "Flatten")) {
        if (strcmp(get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
            return layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
        put(c, "flatten");
        return HK_OK;
    }
    if (!strcmp(cls, "GlobalAveragePooling2D")) {
        if (get_bool(l->config, "keepdims", 0) != 0)
            return layer_fail(c, l, HK_EFORMAT, "keepdims=true is not supported");
        if (strcmp(get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
            return layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
        put(c, "global_avgpool");
        return HK_OK;
    }
    if (!strcmp(cls, "Add")) {
        put(c, "add");
        return HK_OK;
    }
    if (!strcmp(cls, "Lambda"))
        return layer_fail(c, l, HK_EFORMAT, "a Lambda layer holds code; husky imports data only and refuses it");
    return layer_fail(c, l, HK_EFORMAT, "unknown layer class; husky maps Conv2D, DepthwiseConv2D, "
                                        "BatchNormalization, ReLU, Activation, ZeroPadding2D, MaxPooling2D, "
                                        "AveragePooling2D, GlobalAveragePooling2D, Add, Dense, Dropout and Flatten");
}

/* ---- the topology ---- */

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

/* Index of the Keras layer called name among the first `before`, or -1. */
static int find_layer(const struct tj_ctx *c, const char *name, int before)
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
        return layer_fail(c, l, HK_EFORMAT, "no inbound_nodes list");
    if (json_array_size(nodes) == 0)
        return HK_OK;
    if (json_array_size(nodes) > 1)
        return layer_fail(c, l, HK_EFORMAT, "is called more than once (shared layers are not supported)");
    const json_t *node = json_array_get(nodes, 0);
    if (!json_is_array(node) || json_array_size(node) < 1 || json_array_size(node) > 2)
        return layer_fail(c, l, HK_EFORMAT, "inbound_nodes must hold one node of 1 or 2 inputs in the Keras 2 form "
                                            "[[[\"name\", 0, 0, {}]]]");
    for (size_t k = 0; k < json_array_size(node); k++) {
        const json_t *ref = json_array_get(node, k);
        const char *from = json_string_value(json_array_get(ref, 0));
        const json_t *ni = json_array_get(ref, 1), *ti = json_array_get(ref, 2);
        if (!json_is_array(ref) || !from || !json_is_integer(ni) || !json_is_integer(ti))
            return layer_fail(c, l, HK_EFORMAT, "an inbound node is not [\"name\", 0, 0, {}]");
        if (json_integer_value(ni) != 0 || json_integer_value(ti) != 0)
            return layer_fail(c, l, HK_EFORMAT, "reads output %d of node %d of '%.64s'; husky layers have one",
                              (int)json_integer_value(ti), (int)json_integer_value(ni), from);
        l->in[l->nin++] = from;
    }
    return HK_OK;
}

static enum hk_status read_topology(struct tj_ctx *c, const json_t *root)
{
    const json_t *topo = json_object_get(root, "modelTopology");
    if (!json_is_object(topo))
        return tj_fail(c->err, HK_EFORMAT, c->file, "no modelTopology object (is this a TensorFlow.js layers "
                                                    "model? graph models are not supported)");
    if (json_is_object(json_object_get(topo, "model_config")))
        topo = json_object_get(topo, "model_config");
    const char *cls = get_str(topo, "class_name", "");
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
        l->cls = get_str(e, "class_name", "");
        l->name = get_str(e, "name", get_str(l->config, "name", ""));
        if (!json_is_object(e) || !json_is_object(l->config) || !l->cls[0])
            return tj_fail(c->err, HK_EFORMAT, c->file, "layer %zu has no class_name and config object", i);
        if (!valid_name(l->name))
            return tj_fail(c->err, HK_EFORMAT, c->file, "layer %zu (%.40s): name '%.64s' is not 1 to 31 of "
                                                        "A-Z a-z 0-9 _ . - starting with a letter or _",
                           i, l->cls, l->name);
        if (find_layer(c, l->name, (int)i) >= 0)
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

/* The model's input from an InputLayer's (or a Sequential first layer's) batch_input_shape. */
static enum hk_status make_model(struct tj_ctx *c, const struct tj_layer *l, uint64_t seed)
{
    const json_t *s = json_object_get(l->config, "batch_input_shape");
    if (!s)
        s = json_object_get(l->config, "batch_shape");
    int d[3];
    if (!json_is_array(s) || json_array_size(s) != 4 || !json_is_null(json_array_get(s, 0)))
        return layer_fail(c, l, HK_EFORMAT, "needs batch_input_shape [null, height, width, channels]");
    for (int i = 0; i < 3; i++) {
        const json_t *x = json_array_get(s, (size_t)i + 1);
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 16384)
            return layer_fail(c, l, HK_EFORMAT, "batch_input_shape sizes must be 1 to 16384");
        d[i] = (int)json_integer_value(x);
    }
    if (d[2] > 4)
        return layer_fail(c, l, HK_EFORMAT, "%d input channels; husky models take 1 to 4", d[2]);
    struct hk_error e;
    if (!(c->m = hk_model_new((struct hk_shape){d[2], d[0], d[1]}, seed, &e)))
        return layer_fail(c, l, e.status, "%s", e.msg);
    return HK_OK;
}

/* ---- weights ---- */

struct tj_want {
    const char *suffix;
    int rank;
    int dims[4];
};

/* The tensors Keras layer l holds given its input shape, in Keras's order and layouts. */
static int wanted(const struct tj_layer *l, struct hk_shape in, struct tj_want w[4])
{
    int k[2] = {0, 0}, n = 0, bias = get_bool(l->config, "use_bias", 1) == 1;
    get_pair(l->config, "kernel_size", 0, k);
    if (!strcmp(l->cls, "Conv2D")) {
        int f = (int)json_integer_value(json_object_get(l->config, "filters"));
        w[n++] = (struct tj_want){"kernel", 4, {k[0], k[1], in.c, f}};
        if (bias)
            w[n++] = (struct tj_want){"bias", 1, {f}};
    } else if (!strcmp(l->cls, "DepthwiseConv2D")) {
        w[n++] = (struct tj_want){"depthwise_kernel", 4, {k[0], k[1], in.c, 1}};
        if (bias)
            w[n++] = (struct tj_want){"bias", 1, {in.c}};
    } else if (!strcmp(l->cls, "Dense")) {
        int u = (int)json_integer_value(json_object_get(l->config, "units"));
        w[n++] = (struct tj_want){"kernel", 2, {(int)hk_shape_size(in), u}};
        w[n++] = (struct tj_want){"bias", 1, {u}};
    } else if (!strcmp(l->cls, "BatchNormalization")) {
        if (get_bool(l->config, "scale", 1))
            w[n++] = (struct tj_want){"gamma", 1, {in.c}};
        if (get_bool(l->config, "center", 1))
            w[n++] = (struct tj_want){"beta", 1, {in.c}};
        w[n++] = (struct tj_want){"moving_mean", 1, {in.c}};
        w[n++] = (struct tj_want){"moving_variance", 1, {in.c}};
    }
    return n;
}

static void format_dims(char *buf, size_t cap, int rank, const int *dims)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int d = 0; d < rank && o < cap; d++) {
        int w = snprintf(buf + o, cap - o, "%s%d", d ? "," : "[", dims[d]);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o < cap)
        snprintf(buf + o, cap - o, "%s", rank ? "]" : "[]");
}

/* The manifest tensor "<layer>/<suffix>" with exactly the wanted shape (marked used), or an error. */
static enum hk_status claim(struct tj_ctx *c, const struct tj_layer *l, const struct tj_want *w,
                           struct tj_tensor **out, struct hk_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", l->name, w->suffix);
    struct tj_tensor *t = tj_manifest_find(&c->man, name);
    if (!t || t->used)
        return layer_fail(c, l, HK_EFORMAT, "the weights manifest has no tensor '%s'", name);
    if (t->rank != w->rank || memcmp(t->dims, w->dims, (size_t)w->rank * sizeof *w->dims) != 0) {
        char have[64], want[64];
        format_dims(have, sizeof have, t->rank, t->dims);
        format_dims(want, sizeof want, w->rank, w->dims);
        return layer_fail(c, l, HK_ESHAPE, "tensor '%s' has shape %s; the layer needs %s", name, have, want);
    }
    (void)err;
    t->used = 1;
    *out = t;
    return HK_OK;
}

/* Where a Dense layer's rows come from: when it reads (through dropouts and activations) a flatten
 * of a map, Keras flattened it H, W, C and husky C, H, W; *map is that map, else h = w = 1. */
static struct hk_shape flattened_map(struct hk_model *m, const struct hk_layer *dense)
{
    int i = dense->input;
    while (i >= 0) {
        const struct hk_layer *x = hk_model_layer(m, i);
        if (x->spec.kind == HK_LAYER_FLATTEN)
            return x->in;
        if (x->spec.kind != HK_LAYER_DROPOUT && x->spec.kind != HK_LAYER_ACTIVATION)
            break;
        i = x->input;
    }
    return (struct hk_shape){0, 1, 1};
}

/* Copy the claimed tensors t[0..n) of Keras layer l into husky layer h. */
static enum hk_status fill(struct tj_ctx *c, const struct tj_layer *l, const struct hk_layer *h,
                           struct tj_tensor *const *t, int n)
{
    const unsigned char *W = c->weights;
    if (!strcmp(l->cls, "Conv2D")) {
        int O = h->out.c, I = h->in.c, KH = h->spec.kh, KW = h->spec.kw;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++)
                for (int y = 0; y < KH; y++)
                    for (int x = 0; x < KW; x++)
                        h->w[(((size_t)o * I + i) * KH + y) * KW + x] =
                            tj_value(t[0], W, (((uint64_t)y * KW + x) * I + i) * O + o);
        for (int o = 0; n > 1 && o < O; o++)
            h->b[o] = tj_value(t[1], W, (uint64_t)o);
        return HK_OK;
    }
    if (!strcmp(l->cls, "Dense")) {
        struct hk_shape map = flattened_map(c->m, h);
        size_t rows = hk_shape_size(h->in), U = (size_t)h->out.c, plane = (size_t)map.h * map.w;
        for (size_t r = 0; r < rows; r++) {
            size_t hr = r; /* Keras row (y * W + x) * C + ch -> husky row ch * H * W + y * W + x */
            if (plane > 1)
                hr = (r % (size_t)map.c) * plane + r / (size_t)map.c;
            for (size_t u = 0; u < U; u++)
                h->w[hr * U + u] = tj_value(t[0], W, (uint64_t)(r * U + u));
        }
        for (size_t u = 0; u < U; u++)
            h->b[u] = tj_value(t[1], W, (uint64_t)u);
        return HK_OK;
    }
    if (!strcmp(l->cls, "DepthwiseConv2D")) {
        int C = h->in.c, KH = h->spec.kh, KW = h->spec.kw;
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < KW; x++)
                    h->w[((size_t)ch * KH + y) * KW + x] = tj_value(t[0], W, ((uint64_t)y * KW + x) * C + ch);
        for (int ch = 0; n > 1 && ch < C; ch++)
            h->b[ch] = tj_value(t[1], W, (uint64_t)ch);
        return HK_OK;
    }
    if (!strcmp(l->cls, "BatchNormalization")) {
        /* gamma -> w, beta -> b, moving mean and variance -> state[0..C) and [C..2C); a layer
         * without scale or center keeps gamma 1 and beta 0 */
        size_t C = (size_t)h->in.c;
        for (size_t ch = 0; ch < C; ch++) {
            h->w[ch] = 1;
            h->b[ch] = 0;
        }
        for (int k = 0; k < n; k++) {
            const char *suffix = strrchr(t[k]->name, '/') + 1;
            float *dst = !strcmp(suffix, "gamma") ? h->w
                         : !strcmp(suffix, "beta") ? h->b
                         : !strcmp(suffix, "moving_mean") ? h->state
                                                           : h->state + C;
            for (size_t ch = 0; ch < C; ch++)
                dst[ch] = tj_value(t[k], W, (uint64_t)ch);
        }
        return HK_OK;
    }
    return layer_fail(c, l, HK_EFORMAT, "husky has no way to load this layer's weights");
}

/* ---- building ---- */

/* Lex and parse c->line as a layer command and append it to the model. */
static enum hk_status build(struct tj_ctx *c, const struct tj_layer *l)
{
    struct hk_layer_spec spec;
    struct hk_error e;
    int col, bad;
    if (c->len + 1 >= sizeof c->line)
        return layer_fail(c, l, HK_EFORMAT, "its husky command is over %d bytes", TJ_MAX_LINE);
    if (hk_lex(c->line, &c->words, &col, &e) != HK_OK || hk_layer_spec_parse(&c->words, 0, &spec, &bad, &e) != HK_OK)
        return layer_fail(c, l, HK_EFORMAT, "husky cannot build '%.160s': %s", c->line, e.msg);
    if (hk_model_insert(c->m, hk_model_count(c->m), &spec, NULL, &e) != HK_OK)
        return layer_fail(c, l, e.status, "'%.160s': %s", c->line, e.msg);
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
                return layer_fail(c, l, HK_EFORMAT, "an InputLayer that is not the first layer");
            if ((st = make_model(c, l, seed)) != HK_OK)
                return st;
            c->input_name = prev = l->name;
            continue;
        }
        if (!c->m && (st = make_model(c, l, seed)) != HK_OK)
            return st;
        if ((st = map_layer(c, l)) != HK_OK)
            return st;
        int is_add = !strcmp(l->cls, "Add");
        if (l->nin != (is_add ? 2 : prev ? 1 : 0))
            return layer_fail(c, l, HK_EFORMAT, "has %d inputs; husky's %s takes %s", l->nin, is_add ? "add" : "layer",
                              is_add ? "exactly 2" : "1");
        struct hk_shape in = hk_model_input(c->m);
        for (int k = 0; k < l->nin; k++) {
            int j = find_layer(c, l->in[k], i);
            if (j < 0)
                return layer_fail(c, l, HK_EFORMAT, "reads '%.64s', which is not a layer listed before it", l->in[k]);
            if (c->layers[j].husky < 0 && strcmp(l->in[k], prev) != 0)
                return layer_fail(c, l, HK_EFORMAT, "reads the model input but is not the first layer; husky "
                                                    "cannot import that connection");
            if (c->layers[j].husky >= 0)
                in = hk_model_layer(c->m, c->layers[j].husky)->out;
        }
        if (is_add) {
            if (!strcmp(l->in[1], prev))
                put(c, " from=%s", l->in[0]);
            else if (!strcmp(l->in[0], prev))
                put(c, " from=%s", l->in[1]);
            else
                put(c, " from=%s,%s", l->in[0], l->in[1]);
        } else if (l->nin && strcmp(l->in[0], prev) != 0) {
            put(c, " input=%s", l->in[0]);
        }
        put(c, " name=%s", l->name);
        struct tj_want w[4];
        int nw = wanted(l, in, w);
        for (int k = 0; k < nw; k++)
            if ((st = claim(c, l, &w[k], &claimed[i][k], c->err)) != HK_OK)
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
        int trainable = get_bool(c->layers[i].config, "trainable", 1);
        if (trainable < 0)
            return layer_fail(c, &c->layers[i], HK_EFORMAT, "trainable must be true or false");
        if (!trainable && c->layers[i].husky >= 0) {
            hk_model_set_frozen(c->m, c->layers[i].husky, c->layers[i].husky, 1);
            c->frozen++;
        }
    }
    for (int i = 0; i < c->nlayers; i++)
        if (nclaimed[i] && (st = fill(c, &c->layers[i], hk_model_layer(c->m, c->layers[i].husky), claimed[i],
                                      nclaimed[i])) != HK_OK)
            return st;
    return HK_OK;
}

/* Everything after the JSON is parsed and the weights are in memory. */
static enum hk_status run(struct tj_ctx *c, const json_t *root, uint64_t seed, struct hk_model **out,
                          struct hk_import_info *info)
{
    enum hk_status st = read_topology(c, root);
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

static void ctx_free(struct tj_ctx *c)
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
        st = run(c, root, seed, out, info);
    json_decref(root);
    ctx_free(c);
    return st;
}

/* ---- files ---- */

/* Open a regular file for reading (without blocking on a FIFO) and give its size. */
static enum hk_status open_regular(const char *path, const char *shown, int *fd, uint64_t *size,
                                   struct hk_error *err)
{
    char why[128];
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (*fd < 0 || fstat(*fd, &st) != 0) {
        int e = errno;
        if (*fd >= 0)
            close(*fd);
        return hk_fail(err, HK_EIO, "cannot read '%.200s': %s", shown, hk_os_error(e, why, sizeof why));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return hk_fail(err, HK_EIO, "'%.200s' is not a regular file", shown);
    }
    *size = (uint64_t)st.st_size;
    return HK_OK;
}

/* Read exactly n bytes of fd into buf; a file that changed size is an error. Closes fd. */
static enum hk_status read_exact(int fd, const char *shown, unsigned char *buf, uint64_t n, struct hk_error *err)
{
    uint64_t got = 0;
    char why[128], extra;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got > (1u << 30) ? (1u << 30) : (size_t)(n - got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return r < 0 ? hk_fail(err, HK_EIO, "cannot read '%.200s': %s", shown, hk_os_error(e, why, sizeof why))
                         : hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", shown);
        }
        got += (uint64_t)r;
    }
    ssize_t r = read(fd, &extra, 1);
    close(fd);
    if (r != 0)
        return hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", shown);
    return HK_OK;
}

/* path's folder joined with a weight file name that must be a plain name in it. */
static enum hk_status shard_path(const char *json_path, const char *file, const char *shard, char *out, size_t cap,
                                 struct hk_error *err)
{
    if (!shard[0] || strchr(shard, '/') || strchr(shard, '\\') || !strcmp(shard, ".") || !strcmp(shard, ".."))
        return tj_fail(err, HK_EFORMAT, file, "weight file '%.80s' must be a plain file name next to the model "
                                              "JSON",
                       shard);
    const char *slash = strrchr(json_path, '/');
    int dir = slash ? (int)(slash - json_path) + 1 : 0;
    if (snprintf(out, cap, "%.*s%s", dir, json_path, shard) >= (int)cap)
        return tj_fail(err, HK_EFORMAT, file, "the path of weight file '%.80s' is too long", shard);
    return HK_OK;
}

/* Check each group's weight files against its tensors' bytes, then read them all into *out. */
static enum hk_status read_shards(const char *json_path, const char *file, const struct tj_manifest *m,
                                  unsigned char **out, struct hk_error *err)
{
    char path[4096];
    enum hk_status st;
    *out = NULL;
    for (int g = 0; g < m->ngroups; g++) {
        uint64_t have = 0;
        const json_t *paths = m->group_paths[g];
        for (size_t k = 0; k < json_array_size(paths); k++) {
            const char *s = json_string_value(json_array_get(paths, k));
            int fd;
            uint64_t size;
            if (!s)
                return tj_fail(err, HK_EFORMAT, file, "weightsManifest group %d: paths must be file names", g + 1);
            if ((st = shard_path(json_path, file, s, path, sizeof path, err)) != HK_OK ||
                (st = open_regular(path, path, &fd, &size, err)) != HK_OK)
                return st;
            close(fd);
            have += size > HK_IMPORT_MAX_WEIGHT_BYTES ? HK_IMPORT_MAX_WEIGHT_BYTES + 1 : size;
        }
        if (have != m->group_bytes[g])
            return tj_fail(err, HK_EFORMAT, file, "the weight files of group %d (%.80s%s) hold %llu bytes; the "
                                                  "manifest's tensors need %llu (a truncated download, or weights "
                                                  "that do not belong to this model)",
                           g + 1, json_string_value(json_array_get(paths, 0)) ? json_string_value(json_array_get(paths, 0)) : "none",
                           json_array_size(paths) > 1 ? ", ..." : "", (unsigned long long)have,
                           (unsigned long long)m->group_bytes[g]);
    }
    if (!(*out = malloc(m->total ? (size_t)m->total : 1)))
        return tj_fail(err, HK_ENOMEM, file, "out of memory for %llu bytes of weights", (unsigned long long)m->total);
    uint64_t at = 0;
    for (int g = 0; g < m->ngroups; g++) {
        const json_t *paths = m->group_paths[g];
        for (size_t k = 0; k < json_array_size(paths); k++) {
            int fd;
            uint64_t size;
            shard_path(json_path, file, json_string_value(json_array_get(paths, k)), path, sizeof path, err);
            if ((st = open_regular(path, path, &fd, &size, err)) != HK_OK)
                break;
            if (size > m->total - at) {
                close(fd);
                st = hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", path);
                break;
            }
            if ((st = read_exact(fd, path, *out + at, size, err)) != HK_OK)
                break;
            at += size;
        }
        if (st != HK_OK)
            break;
    }
    if (st == HK_OK && at != m->total)
        st = tj_fail(err, HK_EFORMAT, file, "the weight files changed while they were read");
    if (st != HK_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

enum hk_status hk_import_tfjs(const char *path, uint64_t seed, struct hk_model **out, struct hk_import_info *info,
                              struct hk_error *err)
{
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    const char *slash = strrchr(path, '/'), *file = slash ? slash + 1 : path;
    int fd;
    uint64_t size;
    enum hk_status st = open_regular(path, path, &fd, &size, err);
    if (st != HK_OK)
        return st;
    if (size > HK_IMPORT_MAX_JSON_BYTES) {
        close(fd);
        return tj_fail(err, HK_ENOMEM, file, "%llu bytes; the limit for a model JSON is %zu",
                       (unsigned long long)size, HK_IMPORT_MAX_JSON_BYTES);
    }
    char *text = malloc((size_t)size + 1);
    if (!text) {
        close(fd);
        return tj_fail(err, HK_ENOMEM, file, "out of memory");
    }
    if ((st = read_exact(fd, path, (unsigned char *)text, size, err)) != HK_OK) {
        free(text);
        return st;
    }
    struct tj_ctx *c = calloc(1, sizeof *c);
    json_t *root = NULL;
    unsigned char *weights = NULL;
    if (!c)
        st = tj_fail(err, HK_ENOMEM, file, "out of memory");
    if (st == HK_OK) {
        c->file = file;
        c->err = err;
        st = tj_parse(file, text, (size_t)size, &root, err);
    }
    free(text);
    if (st == HK_OK)
        st = tj_manifest_read(file, root, &c->man, err);
    if (st == HK_OK)
        st = read_shards(path, file, &c->man, &weights, err);
    if (st == HK_OK) {
        c->weights = weights;
        st = run(c, root, seed, out, info);
    }
    free(weights);
    json_decref(root);
    ctx_free(c);
    return st;
}
