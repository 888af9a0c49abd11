/* import_layers.c: one Keras layer config read into one husky layer command ("conv2d 32 3x3
 * strides=2x2 padding=valid bias=no"): Conv2D, DepthwiseConv2D, Dense, BatchNormalization, ReLU,
 * Activation, ZeroPadding2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Add, Dropout,
 * Flatten and Rescaling; anything else (Lambda: code) is refused with the layer's name. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "import_internal.h"

void tj_put(struct tj_ctx *c, const char *fmt, ...)
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
        tj_put(c, " %s=%s", key, num);
    else
        tj_put(c, " %s", num);
}

int tj_get_pair(const json_t *config, const char *key, int def, int out[2])
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

const char *tj_get_str(const json_t *config, const char *key, const char *def)
{
    const json_t *v = json_object_get(config, key);
    return json_is_string(v) ? json_string_value(v) : v && !json_is_null(v) ? "" : def;
}

int tj_get_bool(const json_t *config, const char *key, int def)
{
    const json_t *v = json_object_get(config, key);
    if (!v || json_is_null(v))
        return def;
    return json_is_true(v) ? 1 : json_is_false(v) ? 0 : -1;
}

double tj_get_num(const json_t *config, const char *key, double def)
{
    const json_t *v = json_object_get(config, key);
    if (!v)
        return def;
    return json_is_number(v) ? json_number_value(v) : (double)NAN;
}

/* Options every convolution-like layer shares: data_format, dilation, padding, strides. */
static enum hk_status put_window(struct tj_ctx *c, const struct tj_layer *l, int with_dilation)
{
    const json_t *cfg = l->config;
    int strides[2], dil[2];
    const char *fmt = tj_get_str(cfg, "data_format", "channels_last"), *pad = tj_get_str(cfg, "padding", "valid");
    if (strcmp(fmt, "channels_last") != 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "data_format '%.40s'; husky imports channels_last models", fmt);
    if (with_dilation && (!tj_get_pair(cfg, "dilation_rate", 1, dil) || dil[0] != 1 || dil[1] != 1))
        return tj_layer_fail(c, l, HK_EFORMAT, "dilation_rate other than 1 is not supported");
    if (strcmp(pad, "same") != 0 && strcmp(pad, "valid") != 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "padding '%.40s' (same or valid)", pad);
    if (!tj_get_pair(cfg, "strides", 0, strides))
        return tj_layer_fail(c, l, HK_EFORMAT, "strides must be 1 to 4096");
    if (strides[0])
        tj_put(c, " strides=%dx%d", strides[0], strides[1]);
    tj_put(c, " padding=%s", pad);
    return HK_OK;
}

/* Activation option of Conv2D, DepthwiseConv2D and Dense ("linear" = none). */
static void put_activation(struct tj_ctx *c, const struct tj_layer *l)
{
    const char *act = tj_get_str(l->config, "activation", "linear");
    if (strcmp(act, "linear") != 0)
        tj_put(c, " activation=%s", act[0] ? act : "?");
}

static enum hk_status map_conv(struct tj_ctx *c, const struct tj_layer *l, int depthwise)
{
    const json_t *cfg = l->config;
    int k[2], bias = tj_get_bool(cfg, "use_bias", 1);
    if (!tj_get_pair(cfg, "kernel_size", 0, k) || !k[0])
        return tj_layer_fail(c, l, HK_EFORMAT, "kernel_size must be 1 to 4096");
    if (bias < 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "use_bias must be true or false");
    if (depthwise) {
        const json_t *dm = json_object_get(cfg, "depth_multiplier");
        if (dm && (!json_is_integer(dm) || json_integer_value(dm) != 1))
            return tj_layer_fail(c, l, HK_EFORMAT, "depth_multiplier other than 1 is not supported");
        tj_put(c, "depthwise %dx%d", k[0], k[1]);
    } else {
        const json_t *f = json_object_get(cfg, "filters"), *g = json_object_get(cfg, "groups");
        if (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 65536)
            return tj_layer_fail(c, l, HK_EFORMAT, "filters must be a whole number from 1 to 65536");
        if (g && (!json_is_integer(g) || json_integer_value(g) != 1))
            return tj_layer_fail(c, l, HK_EFORMAT, "grouped convolution (groups other than 1) is not supported");
        tj_put(c, "conv2d %d %dx%d", (int)json_integer_value(f), k[0], k[1]);
    }
    enum hk_status st = put_window(c, l, 1);
    if (st != HK_OK)
        return st;
    if (!bias)
        tj_put(c, " bias=no");
    put_activation(c, l);
    return HK_OK;
}

static enum hk_status map_pool(struct tj_ctx *c, const struct tj_layer *l, const char *word)
{
    int k[2];
    if (!tj_get_pair(l->config, "pool_size", 2, k))
        return tj_layer_fail(c, l, HK_EFORMAT, "pool_size must be 1 to 4096");
    tj_put(c, "%s %dx%d", word, k[0], k[1]);
    return put_window(c, l, 0);
}

static enum hk_status map_dense(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *u = json_object_get(l->config, "units");
    int bias = tj_get_bool(l->config, "use_bias", 1);
    if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > 1 << 24)
        return tj_layer_fail(c, l, HK_EFORMAT, "units must be a whole number from 1 to %d", 1 << 24);
    if (bias != 1)
        return tj_layer_fail(c, l, HK_EFORMAT, "a Dense layer without a bias is not supported");
    tj_put(c, "dense %d", (int)json_integer_value(u));
    put_activation(c, l);
    return HK_OK;
}

static enum hk_status map_batchnorm(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *axis = json_object_get(l->config, "axis");
    if (json_is_array(axis) && json_array_size(axis) == 1)
        axis = json_array_get(axis, 0);
    if (axis && (!json_is_integer(axis) || (json_integer_value(axis) != -1 && json_integer_value(axis) != 3)))
        return tj_layer_fail(c, l, HK_EFORMAT, "normalises an axis other than the channels (-1 or 3)");
    double mom = tj_get_num(l->config, "momentum", 0.99), eps = tj_get_num(l->config, "epsilon", 0.001);
    if (!(mom >= 0 && mom < 1) || !(eps > 0 && eps < 1))
        return tj_layer_fail(c, l, HK_EFORMAT, "momentum must be in [0, 1) and epsilon in (0, 1)");
    if (tj_get_bool(l->config, "center", 1) < 0 || tj_get_bool(l->config, "scale", 1) < 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "center and scale must be true or false");
    tj_put(c, "batchnorm");
    put_float(c, "momentum", mom);
    put_float(c, "epsilon", eps);
    return HK_OK;
}

static enum hk_status map_relu(struct tj_ctx *c, const struct tj_layer *l)
{
    const json_t *mv = json_object_get(l->config, "max_value");
    double slope = tj_get_num(l->config, "negative_slope", 0), thr = tj_get_num(l->config, "threshold", 0);
    if (slope != 0 || thr != 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "a ReLU with a negative slope or threshold is not supported");
    if (!mv || json_is_null(mv))
        tj_put(c, "activation relu");
    else if (json_is_number(mv) && json_number_value(mv) == 6)
        tj_put(c, "activation relu6");
    else
        return tj_layer_fail(c, l, HK_EFORMAT, "a ReLU capped at a value other than 6 is not supported");
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
                    return tj_layer_fail(c, l, HK_EFORMAT, "padding must be [[top, bottom], [left, right]] of 0 to 4096");
                v[2 * i + j] = (int)json_integer_value(x);
            }
        }
    } else if (tj_get_pair(l->config, "padding", 1, pair)) {
        v[0] = v[1] = pair[0];
        v[2] = v[3] = pair[1];
    } else {
        return tj_layer_fail(c, l, HK_EFORMAT, "padding must be N, [H, W] or [[top, bottom], [left, right]]");
    }
    if (strcmp(tj_get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
        return tj_layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
    tj_put(c, "zeropad %d,%d,%d,%d", v[0], v[1], v[2], v[3]);
    return HK_OK;
}

/* The husky command for Keras layer l (without name= and input=) into c->line. */
enum hk_status tj_map_layer(struct tj_ctx *c, const struct tj_layer *l)
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
        const char *act = tj_get_str(l->config, "activation", "");
        tj_put(c, "activation %s", act[0] ? act : "?");
        return HK_OK;
    }
    if (!strcmp(cls, "Dropout")) {
        double r = tj_get_num(l->config, "rate", NAN);
        const json_t *ns = json_object_get(l->config, "noise_shape");
        if (!(r >= 0 && r < 1))
            return tj_layer_fail(c, l, HK_EFORMAT, "rate must be in [0, 1)");
        if (ns && !json_is_null(ns))
            return tj_layer_fail(c, l, HK_EFORMAT, "a noise_shape is not supported");
        tj_put(c, "dropout");
        put_float(c, NULL, r);
        return HK_OK;
    }
    if (!strcmp(cls, "Flatten")) {
        if (strcmp(tj_get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
            return tj_layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
        tj_put(c, "flatten");
        return HK_OK;
    }
    if (!strcmp(cls, "GlobalAveragePooling2D")) {
        if (tj_get_bool(l->config, "keepdims", 0) != 0)
            return tj_layer_fail(c, l, HK_EFORMAT, "keepdims=true is not supported");
        if (strcmp(tj_get_str(l->config, "data_format", "channels_last"), "channels_last") != 0)
            return tj_layer_fail(c, l, HK_EFORMAT, "husky imports channels_last models");
        tj_put(c, "global_avgpool");
        return HK_OK;
    }
    if (!strcmp(cls, "Add")) {
        tj_put(c, "add");
        return HK_OK;
    }
    if (!strcmp(cls, "Rescaling")) {
        double scale = tj_get_num(l->config, "scale", NAN), offset = tj_get_num(l->config, "offset", 0);
        if (!isfinite(scale) || !isfinite(offset))
            return tj_layer_fail(c, l, HK_EFORMAT, "scale and offset must be numbers");
        tj_put(c, "rescaling");
        put_float(c, NULL, scale);
        if (offset != 0)
            put_float(c, "offset", offset);
        return HK_OK;
    }
    if (!strcmp(cls, "Lambda"))
        return tj_layer_fail(c, l, HK_EFORMAT, "a Lambda layer holds code; husky imports data only and refuses it");
    return tj_layer_fail(c, l, HK_EFORMAT, "unknown layer class; husky maps Conv2D, DepthwiseConv2D, "
                                        "BatchNormalization, ReLU, Activation, ZeroPadding2D, MaxPooling2D, "
                                        "AveragePooling2D, GlobalAveragePooling2D, Add, Dense, Dropout, Flatten and "
                                        "Rescaling");
}
