/* import_internal.h: internal to the TensorFlow.js importer's files (import_*.c; names start with
 * tj_): the import's context, one Keras layer as the topology lists it, and the calls between
 *   import_tfjs.c      building: the husky layers in order, connections, freezing, then weights;
 *                      the import from memory
 *   import_topology.c  modelTopology: the layer list, names, inbound nodes, the input shape
 *   import_layers.c    reading a Keras layer config and writing its husky layer command
 *   import_weights.c   the manifest tensors each layer holds, claimed and converted from Keras
 *                      layouts to husky's
 *   import_files.c     model.json and its weight shards read from files within the limits
 * (import_json.c parses the JSON and the weights manifest and dequantises values.) */
#ifndef HK_IMPORT_INTERNAL_H
#define HK_IMPORT_INTERNAL_H

#include "import_json.h"
#include "lexer.h"

/* import_tfjs.h's, not included: import_tfjs.c and .h are one node of the include graph
 * (tests/lint/include_cycles.py), which this header would close into a cycle */
struct hk_import_info;

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

/* import_tfjs.c */
/* err = "FILE: layer 'NAME' (CLASS): <fmt>"; returns st. */
enum hk_status tj_layer_fail(struct tj_ctx *c, const struct tj_layer *l, enum hk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Everything after the JSON is parsed and the weights are in memory: topology, layers, weights.
 * On success *out is the model and info (may be NULL) filled. */
enum hk_status tj_run(struct tj_ctx *c, const json_t *root, uint64_t seed, struct hk_model **out,
                      struct hk_import_info *info);
/* Free a context (calloc'ed) with its manifest and layers; NULL is a no-op. */
void tj_ctx_free(struct tj_ctx *c);

/* import_topology.c */
/* Read root's modelTopology into c->layers (Sequential, Model or Functional; checked names and
 * inbound nodes). */
enum hk_status tj_read_topology(struct tj_ctx *c, const json_t *root);
/* Index of the Keras layer called name among the first `before`, or -1. */
int tj_find_layer(const struct tj_ctx *c, const char *name, int before);
/* c->m, new, with the input of l's batch_input_shape (an InputLayer or a Sequential first layer). */
enum hk_status tj_make_model(struct tj_ctx *c, const struct tj_layer *l, uint64_t seed);

/* import_layers.c */
/* Append to the command line being built. */
void tj_put(struct tj_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* config[key] as two positive ints: an int n means (n, n), a list [a, b] means (a, b). Absent:
 * def. Returns 0 when malformed. */
int tj_get_pair(const json_t *config, const char *key, int def, int out[2]);
/* config[key] as a string: def when absent or null, "" when not a string. */
const char *tj_get_str(const json_t *config, const char *key, const char *def);
/* config[key] is absent, null or false (def 0) / true (def 1) as expected; -1 when not a boolean. */
int tj_get_bool(const json_t *config, const char *key, int def);
/* A number, or def when absent; NAN when not a number. */
double tj_get_num(const json_t *config, const char *key, double def);
/* Start c->line with the husky command for Keras layer l (its options; not input=, from= or
 * name=), or say why l cannot be imported. */
enum hk_status tj_map_layer(struct tj_ctx *c, const struct tj_layer *l);

/* import_weights.c */
struct tj_want {
    const char *suffix;
    int rank;
    int dims[4];
};

/* The tensors Keras layer l holds given its input shape, in Keras's order and layouts (at most 4). */
int tj_wanted(const struct tj_layer *l, struct hk_shape in, struct tj_want w[4]);
/* The manifest tensor "<layer>/<suffix>" with exactly the wanted shape (marked used), or an error. */
enum hk_status tj_claim(struct tj_ctx *c, const struct tj_layer *l, const struct tj_want *w, struct tj_tensor **out,
                        struct hk_error *err);
/* Copy the claimed tensors t[0..n) of Keras layer l into husky layer h. */
enum hk_status tj_fill(struct tj_ctx *c, const struct tj_layer *l, const struct hk_layer *h,
                       struct tj_tensor *const *t, int n);

#endif
