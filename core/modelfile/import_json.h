/* import_json.h: internal to import_*.c: model.json parsed inside limits (jansson), the weights
 * manifest as a checked list of tensors, and reading one logical value of a stored tensor.
 * Names start with tj_. */
#ifndef HK_IMPORT_JSON_H
#define HK_IMPORT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "import_limits.h"
#include "model.h"

enum tj_store { TJ_FLOAT32, TJ_UINT8, TJ_UINT16, TJ_FLOAT16 };

/* One tensor of the manifest. */
struct tj_tensor {
    const char *name;   /* borrowed from the JSON document: "Conv1/kernel" */
    int rank;           /* 0..4 */
    int dims[4];
    uint64_t count;     /* values */
    uint64_t offset;    /* byte offset in the concatenated weights */
    uint64_t bytes;
    enum tj_store store;
    double min, scale;  /* quantised: value = min + scale * q */
    int used;           /* claimed by a layer */
};

/* The weights manifest: tensors in order, the groups' shard file names and byte counts. */
struct tj_manifest {
    struct tj_tensor *t; /* owned */
    int n;
    uint64_t total;      /* bytes of all tensors */
    int ngroups;
    uint64_t *group_bytes;    /* owned, per group */
    const json_t **group_paths; /* owned array of borrowed JSON arrays of file names */
};

/* err = "NAME: <fmt>"; returns st. */
enum hk_status tj_fail(struct hk_error *err, enum hk_status st, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse n bytes of JSON text: the nesting depth is checked first (HK_IMPORT_MAX_DEPTH), then jansson
 * parses it (duplicate keys refused). *root is owned (json_decref). */
enum hk_status tj_parse(const char *name, const char *text, size_t n, json_t **root, struct hk_error *err);

/* Read root's "weightsManifest" into m (owned: tj_manifest_free), checking every entry: dtype,
 * quantisation, rank, shape and byte counts (overflow-checked, under the limits). */
enum hk_status tj_manifest_read(const char *name, const json_t *root, struct tj_manifest *m, struct hk_error *err);

void tj_manifest_free(struct tj_manifest *m);

/* The tensor named `name`, or NULL. */
struct tj_tensor *tj_manifest_find(struct tj_manifest *m, const char *name);

/* Value i (row-major over the tensor's own shape) of tensor t in weights: as TensorFlow.js
 * dequantises it (in double, then rounded to float). */
float tj_value(const struct tj_tensor *t, const unsigned char *weights, uint64_t i);

/* The stored types present, comma-separated, into buf. */
void tj_dtypes(const struct tj_manifest *m, char *buf, size_t cap);

#endif
