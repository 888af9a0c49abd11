/* import_json.c: model.json parsed inside limits, the weights manifest checked entry by entry
 * before any weight is read, and the dequantisation of stored values. */
#include "import_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum hk_status tj_fail(struct hk_error *err, enum hk_status st, const char *name, const char *fmt, ...)
{
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hk_fail(err, st, "%.60s: %s", name, msg);
}

/* The deepest nesting of [ and { outside strings, stopping as soon as it passes the limit. */
static enum hk_status check_depth(const char *name, const char *text, size_t n, struct hk_error *err)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > HK_IMPORT_MAX_DEPTH)
                return tj_fail(err, HK_EFORMAT, name, "byte %zu: JSON nested more than %d levels deep", i,
                               HK_IMPORT_MAX_DEPTH);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return HK_OK;
}

enum hk_status tj_parse(const char *name, const char *text, size_t n, json_t **root, struct hk_error *err)
{
    *root = NULL;
    if (n > HK_IMPORT_MAX_JSON_BYTES)
        return tj_fail(err, HK_ENOMEM, name, "%zu bytes of JSON; the limit is %zu", n, HK_IMPORT_MAX_JSON_BYTES);
    enum hk_status st = check_depth(name, text, n, err);
    if (st != HK_OK)
        return st;
    json_error_t je;
    *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!*root)
        return tj_fail(err, HK_EFORMAT, name, "line %d column %d: %s", je.line, je.column, je.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return tj_fail(err, HK_EFORMAT, name, "expected a JSON object at the top (a TensorFlow.js model.json)");
    }
    return HK_OK;
}

void tj_manifest_free(struct tj_manifest *m)
{
    free(m->t);
    free(m->group_bytes);
    free(m->group_paths);
    memset(m, 0, sizeof *m);
}

static const struct {
    const char *name;
    enum tj_store store;
    int bytes;
} stores[] = {{"float32", TJ_FLOAT32, 4}, {"uint8", TJ_UINT8, 1}, {"uint16", TJ_UINT16, 2}, {"float16", TJ_FLOAT16, 2}};

/* One manifest entry into t. */
static enum hk_status read_entry(const char *name, const json_t *e, struct tj_tensor *t, struct hk_error *err)
{
    const char *tname = json_string_value(json_object_get(e, "name"));
    if (!json_is_object(e) || !tname || !tname[0] || strlen(tname) > 200)
        return tj_fail(err, HK_EFORMAT, name, "a weightsManifest entry has no name (or one over 200 bytes)");
    t->name = tname;
    const char *dtype = json_string_value(json_object_get(e, "dtype"));
    if (!dtype || strcmp(dtype, "float32") != 0)
        return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': dtype '%.40s'; husky imports float32 weights "
                                              "(stored as float32, float16, uint8 or uint16)",
                       tname, dtype ? dtype : "(none)");
    const json_t *q = json_object_get(e, "quantization");
    const char *qtype = "float32";
    if (q) {
        qtype = json_string_value(json_object_get(q, "dtype"));
        if (!json_is_object(q) || !qtype)
            return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': quantization without a dtype", tname);
    }
    int bytes = 0;
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
        if (strcmp(qtype, stores[k].name) == 0 && (q || k == 0)) {
            t->store = stores[k].store;
            bytes = stores[k].bytes;
        }
    if (!bytes || (q && t->store == TJ_FLOAT32))
        return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': unknown quantization dtype '%.40s' (uint8, uint16 "
                                              "or float16)",
                       tname, qtype);
    if (t->store == TJ_UINT8 || t->store == TJ_UINT16) {
        const json_t *mn = json_object_get(q, "min"), *sc = json_object_get(q, "scale");
        if (!json_is_number(mn) || !json_is_number(sc) || !isfinite(json_number_value(mn)) ||
            !isfinite(json_number_value(sc)))
            return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': %s quantization needs numbers min and scale",
                           tname, qtype);
        t->min = json_number_value(mn);
        t->scale = json_number_value(sc);
    }
    const json_t *shape = json_object_get(e, "shape");
    if (!json_is_array(shape) || json_array_size(shape) > 4)
        return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': shape must be a list of at most 4 sizes", tname);
    t->rank = (int)json_array_size(shape);
    t->count = 1;
    for (int d = 0; d < t->rank; d++) {
        const json_t *v = json_array_get(shape, (size_t)d);
        json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
        if (x < 1 || x > INT32_MAX)
            return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s': shape entry %d is not a size from 1 to %d",
                           tname, d, INT32_MAX);
        t->dims[d] = (int)x;
        t->count *= (uint64_t)x; /* at most 4 factors below 2^31 each: checked below before a 5th */
        if (t->count > HK_MODEL_MAX_PARAMS)
            return tj_fail(err, HK_ENOMEM, name, "tensor '%.80s' claims at least %llu values (%llu bytes as "
                                                 "float32); the limit is %zu values",
                           tname, (unsigned long long)t->count, (unsigned long long)t->count * 4,
                           HK_MODEL_MAX_PARAMS);
    }
    t->bytes = t->count * (uint64_t)bytes;
    return HK_OK;
}

enum hk_status tj_manifest_read(const char *name, const json_t *root, struct tj_manifest *m, struct hk_error *err)
{
    memset(m, 0, sizeof *m);
    const json_t *groups = json_object_get(root, "weightsManifest");
    if (!json_is_array(groups))
        return tj_fail(err, HK_EFORMAT, name, "no weightsManifest list (is this a TensorFlow.js layers model?)");
    size_t ng = json_array_size(groups), nt = 0, nshards = 0;
    for (size_t g = 0; g < ng; g++) {
        const json_t *grp = json_array_get(groups, g), *w = json_object_get(grp, "weights"),
                     *paths = json_object_get(grp, "paths");
        if (!json_is_array(w) || !json_is_array(paths))
            return tj_fail(err, HK_EFORMAT, name, "weightsManifest group %zu needs lists 'paths' and 'weights'", g);
        nt += json_array_size(w);
        nshards += json_array_size(paths);
        if (nt > HK_IMPORT_MAX_TENSORS || nshards > HK_IMPORT_MAX_SHARDS)
            return tj_fail(err, HK_ENOMEM, name, "the weights manifest lists over %d tensors or %d weight files",
                           HK_IMPORT_MAX_TENSORS, HK_IMPORT_MAX_SHARDS);
    }
    m->t = calloc(nt ? nt : 1, sizeof *m->t);
    m->group_bytes = calloc(ng ? ng : 1, sizeof *m->group_bytes);
    m->group_paths = calloc(ng ? ng : 1, sizeof *m->group_paths);
    if (!m->t || !m->group_bytes || !m->group_paths) {
        tj_manifest_free(m);
        return tj_fail(err, HK_ENOMEM, name, "out of memory");
    }
    m->ngroups = (int)ng;
    for (size_t g = 0; g < ng; g++) {
        const json_t *grp = json_array_get(groups, g), *w = json_object_get(grp, "weights");
        m->group_paths[g] = json_object_get(grp, "paths");
        for (size_t i = 0; i < json_array_size(w); i++) {
            struct tj_tensor *t = &m->t[m->n];
            enum hk_status st = read_entry(name, json_array_get(w, i), t, err);
            if (st != HK_OK) {
                tj_manifest_free(m);
                return st;
            }
            const char *tname = t->name; /* borrowed from the document: outlives m->t */
            for (int k = 0; k < m->n; k++)
                if (strcmp(m->t[k].name, tname) == 0) {
                    tj_manifest_free(m);
                    return tj_fail(err, HK_EFORMAT, name, "tensor '%.80s' is listed twice in the weights manifest",
                                   tname);
                }
            t->offset = m->total;
            m->total += t->bytes;
            m->group_bytes[g] += t->bytes;
            m->n++;
            if (m->total > HK_IMPORT_MAX_WEIGHT_BYTES) {
                tj_manifest_free(m);
                return tj_fail(err, HK_ENOMEM, name, "the weights manifest claims over %llu bytes (at tensor "
                                                     "'%.80s'); the limit is %llu",
                               (unsigned long long)HK_IMPORT_MAX_WEIGHT_BYTES, tname,
                               (unsigned long long)HK_IMPORT_MAX_WEIGHT_BYTES);
            }
        }
    }
    return HK_OK;
}

struct tj_tensor *tj_manifest_find(struct tj_manifest *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return &m->t[i];
    return NULL;
}

/* IEEE 754 half to float. */
static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, frac = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)frac, -24);
    else if (exp == 31)
        v = frac ? NAN : INFINITY;
    else
        v = ldexpf((float)(frac | 1024), exp - 25);
    return sign ? -v : v;
}

float tj_value(const struct tj_tensor *t, const unsigned char *weights, uint64_t i)
{
    const unsigned char *p = weights + t->offset;
    switch (t->store) {
    case TJ_UINT8:
        return (float)(p[i] * t->scale + t->min);
    case TJ_UINT16:
        return (float)((p[2 * i] | p[2 * i + 1] << 8) * t->scale + t->min);
    case TJ_FLOAT16:
        return half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    case TJ_FLOAT32:
    default: {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                     (uint32_t)p[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    }
}

void tj_dtypes(const struct tj_manifest *m, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
        for (int i = 0; i < m->n; i++)
            if (m->t[i].store == stores[k].store) {
                int w = snprintf(buf + o, cap - o, "%s%s", o ? "," : "", stores[k].name);
                if (w > 0 && (size_t)w < cap - o)
                    o += (size_t)w;
                break;
            }
}
