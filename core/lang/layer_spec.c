/* layer_spec.c: parsing and formatting of layer commands. */
#include "layer_spec.h"

#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const no_opts[] = {NULL};
/* options every layer takes: its name and where it reads from */
static const char *const graph_opts[] = {"name", "input", NULL};

enum hk_layer_kind hk_layer_kind_find(const char *word)
{
    for (int k = 0; k < HK_LAYER_KIND_COUNT; k++)
        if (strcmp(hk_layer_ops_of((enum hk_layer_kind)k)->word, word) == 0)
            return (enum hk_layer_kind)k;
    if (strcmp(word, "maxpool2d") == 0)
        return HK_LAYER_MAXPOOL2D;
    if (strcmp(word, "avgpool2d") == 0)
        return HK_LAYER_AVGPOOL2D;
    return HK_LAYER_KIND_COUNT;
}

const char *const *hk_layer_spec_options(enum hk_layer_kind kind)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(kind);
    return ops && ops->options ? ops->options : no_opts;
}

const char *hk_layer_spec_help(enum hk_layer_kind kind)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(kind);
    return ops ? ops->help : "";
}

const char *hk_layer_spec_usage(enum hk_layer_kind kind)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(kind);
    return ops ? ops->usage : "";
}

static enum hk_status parse_act(const char *text, enum hk_act *act, struct hk_error *err)
{
    *act = hk_act_find(text);
    if (*act != HK_ACT_COUNT)
        return HK_OK;
    const char *names[HK_ACT_COUNT + 1];
    for (int i = 0; i < HK_ACT_COUNT; i++)
        names[i] = hk_act_name((enum hk_act)i);
    names[HK_ACT_COUNT] = NULL;
    const char *near = hk_closest(text, names);
    return hk_fail(err, HK_EINVAL, "unknown activation '%s'%s%s%s (one of %s)", text, near ? "; did you mean '" : "",
                   near ? near : "", near ? "'?" : "", hk_act_list());
}

/* "P" (all four sides) or "T,B,L,R" into pad[4]; each from 0 to 4096. */
static enum hk_status parse_pad(const char *text, int pad[4], struct hk_error *err)
{
    char part[4][16];
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 4 || len == 0 || len >= sizeof part[0])
            n = 5;
        if (n == 5)
            break;
        memcpy(part[n], p, len);
        part[n++][len] = 0;
        if (!comma)
            break;
        p = comma + 1;
    }
    int v[4];
    int ok = n == 1 || n == 4;
    for (int i = 0; ok && i < n; i++)
        ok = hk_parse_int(part[i], &v[i]) && v[i] >= 0 && v[i] <= 4096;
    if (!ok)
        return hk_fail(err, HK_EINVAL, "padding must be P or T,B,L,R (whole numbers from 0 to 4096), got '%s'", text);
    for (int i = 0; i < 4; i++)
        pad[i] = v[n == 1 ? 0 : i];
    return HK_OK;
}

static enum hk_status parse_positional(struct hk_layer_spec *s, int pos, const char *text, struct hk_error *err)
{
    int dims[3];
    double v;
    switch (s->kind) {
    case HK_LAYER_CONV2D:
        if (pos == 0) {
            if (!hk_parse_int(text, &s->units) || s->units < 1 || s->units > 65536)
                return hk_fail(err, HK_EINVAL, "filters must be a whole number from 1 to 65536, got '%s'", text);
        } else if (hk_parse_dims(text, dims) != 2 && hk_parse_dims(text, dims) != 1) {
            return hk_fail(err, HK_EINVAL, "kernel size must look like 3x3, got '%s'", text);
        } else {
            s->kh = dims[0];
            s->kw = dims[1];
        }
        return HK_OK;
    case HK_LAYER_DEPTHWISE:
        if (hk_parse_dims(text, dims) != 2 && hk_parse_dims(text, dims) != 1)
            return hk_fail(err, HK_EINVAL, "kernel size must look like 3x3, got '%s'", text);
        s->kh = dims[0];
        s->kw = dims[1];
        return HK_OK;
    case HK_LAYER_ZEROPAD:
        return parse_pad(text, s->pad, err);
    case HK_LAYER_MAXPOOL2D:
    case HK_LAYER_AVGPOOL2D:
        if (hk_parse_dims(text, dims) != 2 && hk_parse_dims(text, dims) != 1)
            return hk_fail(err, HK_EINVAL, "pool size must look like 2x2, got '%s'", text);
        s->kh = dims[0];
        s->kw = dims[1];
        return HK_OK;
    case HK_LAYER_DROPOUT:
        if (!hk_parse_float(text, &v) || v < 0 || v >= 1)
            return hk_fail(err, HK_EINVAL, "dropout rate must be a number in [0, 1), got '%s'", text);
        s->rate = (float)v;
        return HK_OK;
    case HK_LAYER_DENSE:
        if (!hk_parse_int(text, &s->units) || s->units < 1 || s->units > 100000000)
            return hk_fail(err, HK_EINVAL, "units must be a whole number from 1 up, got '%s'", text);
        return HK_OK;
    case HK_LAYER_ACTIVATION:
        return parse_act(text, &s->act, err);
    case HK_LAYER_RESCALING:
        if (!hk_parse_float(text, &v) || !isfinite(v))
            return hk_fail(err, HK_EINVAL, "scale must be a number (or a fraction like 1/127.5), got '%s'", text);
        s->scale = (float)v;
        return HK_OK;
    case HK_LAYER_FLATTEN:
    case HK_LAYER_BATCHNORM:
    case HK_LAYER_GLOBAL_AVGPOOL:
    case HK_LAYER_ADD:
    case HK_LAYER_KIND_COUNT:
        break;
    }
    return hk_fail(err, HK_EINVAL, "unexpected argument '%s'", text);
}

static enum hk_status parse_option(struct hk_layer_spec *s, const char *key, const char *value,
                                   struct hk_error *err)
{
    int dims[3];
    double v;
    if (strcmp(key, "activation") == 0)
        return parse_act(value, &s->act, err);
    if (strcmp(key, "strides") == 0) {
        int n = hk_parse_dims(value, dims);
        if (n != 1 && n != 2)
            return hk_fail(err, HK_EINVAL, "strides must look like 2 or 2x2, got '%s'", value);
        s->sh = dims[0];
        s->sw = dims[1];
        return HK_OK;
    }
    if (strcmp(key, "padding") == 0) {
        if (strcmp(value, "same") && strcmp(value, "valid"))
            return hk_fail(err, HK_EINVAL, "padding must be valid or same, got '%s'", value);
        s->same = strcmp(value, "same") == 0;
        return HK_OK;
    }
    if (strcmp(key, "name") == 0 || strcmp(key, "input") == 0) {
        if (!hk_layer_name_valid(value))
            return hk_fail(err, HK_EINVAL, "%s=%.40s: a layer name is 1 to %d of letters, digits, '_', '.' and '-', "
                           "starting with a letter or '_'", key, value, HK_LAYER_NAME_MAX - 1);
        snprintf(key[0] == 'n' ? s->name : s->input, HK_LAYER_NAME_MAX, "%s", value);
        return HK_OK;
    }
    if (strcmp(key, "from") == 0) {
        const char *comma = strchr(value, ',');
        size_t alen = comma ? (size_t)(comma - value) : strlen(value);
        char a[HK_LAYER_NAME_MAX] = "", b[HK_LAYER_NAME_MAX] = "";
        if (alen < sizeof a) {
            memcpy(a, value, alen);
            a[alen] = '\0';
        }
        if (comma && strlen(comma + 1) < sizeof b)
            snprintf(b, sizeof b, "%s", comma + 1);
        if (!hk_layer_name_valid(a) || (comma && !hk_layer_name_valid(b)))
            return hk_fail(err, HK_EINVAL, "from= takes one layer name or two (from=A,B), got '%.80s'", value);
        memcpy(s->from[0], a, sizeof a);
        memcpy(s->from[1], b, sizeof b);
        return HK_OK;
    }
    if (strcmp(key, "bias") == 0) {
        if (strcmp(value, "yes") && strcmp(value, "no"))
            return hk_fail(err, HK_EINVAL, "bias must be yes or no, got '%s'", value);
        s->nobias = strcmp(value, "no") == 0;
        return HK_OK;
    }
    if (strcmp(key, "momentum") == 0) {
        if (!hk_parse_float(value, &v) || v < 0 || v > 1)
            return hk_fail(err, HK_EINVAL, "momentum must be a number in [0, 1], got '%s'", value);
        s->momentum = (float)v;
        return HK_OK;
    }
    if (strcmp(key, "epsilon") == 0) {
        if (!hk_parse_float(value, &v) || !(v > 0) || v > 1)
            return hk_fail(err, HK_EINVAL, "epsilon must be a number in (0, 1], got '%s'", value);
        s->epsilon = (float)v;
        return HK_OK;
    }
    if (strcmp(key, "offset") == 0) {
        if (!hk_parse_float(value, &v) || !isfinite(v))
            return hk_fail(err, HK_EINVAL, "offset must be a number, got '%s'", value);
        s->offset = (float)v;
        return HK_OK;
    }
    if (strcmp(key, "l2") == 0) {
        if (!hk_parse_float(value, &v) || v < 0)
            return hk_fail(err, HK_EINVAL, "l2 must be a number >= 0, got '%s'", value);
        s->l2 = (float)v;
        return HK_OK;
    }
    return hk_fail(err, HK_EINVAL, "unknown option '%s'", key);
}

enum hk_status hk_layer_spec_parse_args(const struct hk_words *words, int first, int update,
                                        struct hk_layer_spec *spec, int *bad, struct hk_error *err)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(spec->kind);
    const char *const *opts = hk_layer_spec_options(spec->kind);
    int pos = 0;
    *bad = first;
    for (int i = first; i < words->count; i++) {
        const struct hk_word *w = &words->w[i];
        enum hk_status st;
        *bad = i;
        if (w->key) {
            int known = 0;
            for (int k = 0; opts[k]; k++)
                known |= strcmp(opts[k], w->key) == 0;
            for (int k = 0; graph_opts[k]; k++)
                known |= strcmp(graph_opts[k], w->key) == 0;
            if (!known) {
                const char *near = hk_closest(w->key, opts);
                if (near)
                    return hk_fail(err, HK_EINVAL, "unknown option '%s'; did you mean '%s'?", w->key, near);
                return hk_fail(err, HK_EINVAL, "unknown option '%s'; usage: %s", w->key, ops->usage);
            }
            st = parse_option(spec, w->key, w->value, err);
        } else if (pos >= ops->positional) {
            st = hk_fail(err, HK_EINVAL, "unexpected argument '%s'; usage: %s", w->text, ops->usage);
        } else {
            st = parse_positional(spec, pos++, w->text, err);
        }
        if (st != HK_OK)
            return st;
    }
    if (!update && pos < ops->required) {
        *bad = words->count;
        return hk_fail(err, HK_EINVAL, "missing argument; usage: %s", ops->usage);
    }
    return HK_OK;
}

enum hk_status hk_layer_spec_parse(const struct hk_words *words, int first, struct hk_layer_spec *spec, int *bad,
                                   struct hk_error *err)
{
    *bad = first;
    enum hk_layer_kind kind = hk_layer_kind_find(words->w[first].text);
    if (kind == HK_LAYER_KIND_COUNT)
        return hk_fail(err, HK_EINVAL, "'%s' is not a layer", words->w[first].text);
    memset(spec, 0, sizeof *spec);
    spec->kind = kind;
    if (kind == HK_LAYER_MAXPOOL2D || kind == HK_LAYER_AVGPOOL2D)
        spec->kh = spec->kw = 2;
    if (kind == HK_LAYER_BATCHNORM) {
        spec->momentum = HK_BATCHNORM_MOMENTUM;
        spec->epsilon = HK_BATCHNORM_EPSILON;
    }
    return hk_layer_spec_parse_args(words, first + 1, 0, spec, bad, err);
}

void hk_layer_spec_format(const struct hk_layer_spec *s, char *buf, size_t cap)
{
    const char *word = hk_layer_ops_of(s->kind)->word;
    int n = 0;
    switch (s->kind) {
    case HK_LAYER_CONV2D:
        n = snprintf(buf, cap, "%s %d %dx%d", word, s->units, s->kh, s->kw);
        break;
    case HK_LAYER_MAXPOOL2D:
    case HK_LAYER_AVGPOOL2D:
    case HK_LAYER_DEPTHWISE:
        n = snprintf(buf, cap, "%s %dx%d", word, s->kh, s->kw);
        break;
    case HK_LAYER_ZEROPAD:
        if (s->pad[0] == s->pad[1] && s->pad[0] == s->pad[2] && s->pad[0] == s->pad[3])
            n = snprintf(buf, cap, "%s %d", word, s->pad[0]);
        else
            n = snprintf(buf, cap, "%s %d,%d,%d,%d", word, s->pad[0], s->pad[1], s->pad[2], s->pad[3]);
        break;
    case HK_LAYER_BATCHNORM:
        n = snprintf(buf, cap, "%s", word);
        if (s->momentum != HK_BATCHNORM_MOMENTUM && (size_t)n + 10 < cap) {
            n += snprintf(buf + n, cap - (size_t)n, " momentum=");
            n += hk_format_float(buf + n, cap - (size_t)n, s->momentum);
        }
        if (s->epsilon != HK_BATCHNORM_EPSILON && s->epsilon > 0 && (size_t)n + 9 < cap) {
            n += snprintf(buf + n, cap - (size_t)n, " epsilon=");
            n += hk_format_float(buf + n, cap - (size_t)n, s->epsilon);
        }
        break;
    case HK_LAYER_DROPOUT:
        n = snprintf(buf, cap, "%s ", word);
        n += hk_format_float(buf + n, cap - (size_t)n, s->rate);
        break;
    case HK_LAYER_DENSE:
        n = snprintf(buf, cap, "%s %d", word, s->units);
        break;
    case HK_LAYER_ACTIVATION:
        n = snprintf(buf, cap, "%s %s", word, hk_act_name(s->act));
        break;
    case HK_LAYER_RESCALING:
        n = snprintf(buf, cap, "%s ", word);
        n += hk_format_float(buf + n, cap - (size_t)n, s->scale);
        if (s->offset != 0 && (size_t)n + 8 < cap) {
            n += snprintf(buf + n, cap - (size_t)n, " offset=");
            n += hk_format_float(buf + n, cap - (size_t)n, s->offset);
        }
        break;
    case HK_LAYER_FLATTEN:
    case HK_LAYER_GLOBAL_AVGPOOL:
    case HK_LAYER_ADD:
    case HK_LAYER_KIND_COUNT:
        n = snprintf(buf, cap, "%s", word);
        break;
    }
    int conv = s->kind == HK_LAYER_CONV2D || s->kind == HK_LAYER_DEPTHWISE;
    int pool = s->kind == HK_LAYER_MAXPOOL2D || s->kind == HK_LAYER_AVGPOOL2D;
    int strided = conv ? (s->sh > 1 || s->sw > 1) : pool && (s->sh != s->kh || s->sw != s->kw);
    if (strided && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " strides=%dx%d", s->sh, s->sw);
    if ((conv || pool) && s->same && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " padding=same");
    if (conv && s->nobias && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " bias=no");
    if ((conv || s->kind == HK_LAYER_DENSE) && s->act != HK_ACT_LINEAR && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " activation=%s", hk_act_name(s->act));
    if (s->l2 > 0 && (size_t)n + 4 < cap) {
        n += snprintf(buf + n, cap - (size_t)n, " l2=");
        n += hk_format_float(buf + n, cap - (size_t)n, s->l2);
    }
    if (s->from[0][0] && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " from=%s%s%s", s->from[0], s->from[1][0] ? "," : "", s->from[1]);
    if (s->input[0] && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " input=%s", s->input);
    if (s->name[0] && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " name=%s", s->name);
}
