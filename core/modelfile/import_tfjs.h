/* import_tfjs.h: import a TensorFlow.js layers model (model.json with its Keras topology and
 * weights manifest, plus the binary weight shards next to it) as a husky model.
 *
 * Only data is read: each Keras layer is mapped onto a husky layer command ("conv2d 32 3x3
 * strides=2x2 padding=valid bias=no name=Conv1") that is replayed through the language's layer
 * parser, so an import can only build what the shell could build; layers that would run code
 * (Lambda, custom classes) or that husky lacks are refused with the layer's name. Weights are
 * float32 or quantised per tensor (uint8/uint16 as min + scale * q, or float16) and are converted
 * from Keras layouts (Conv2D HWIO, DepthwiseConv2D HWC1, Dense after Flatten in HWC order) to
 * husky's. Layers Keras marks trainable: false are frozen, as Keras would keep them. Every size is checked before anything large is allocated: the JSON file, its nesting
 * depth, the tensor count, each tensor's bytes and their sum against the shards' sizes. */
#ifndef HK_IMPORT_TFJS_H
#define HK_IMPORT_TFJS_H

#include <stddef.h>
#include <stdint.h>

#include "import_limits.h"
#include "model.h"
#include "status.h"


/* What an import read. */
struct hk_import_info {
    int layers;             /* husky layers built */
    int frozen;             /* of them frozen (model freeze) because Keras marks them trainable: false */
    int tensors;            /* weight tensors in the manifest (all used) */
    uint64_t weight_bytes;  /* bytes of weight data (all shards) */
    char dtypes[64];        /* stored types seen, comma-separated: "uint8", "float32,float16" */
};

/* Import path (a model.json) and the shards its manifest names, which must be plain file names in
 * the same folder. On success *out is a new, uncompiled model with the given seed (owned:
 * hk_model_free) and info (may be NULL) says what was read. On failure *out is NULL and err says
 * what and where ("model.json: layer 'lambda_1' (Lambda): ..."): HK_EIO (cannot read), HK_EFORMAT
 * (malformed or unsupported content), HK_ENOMEM (over a limit or out of memory), HK_ESHAPE (a
 * tensor's shape does not fit its layer). */
enum hk_status hk_import_tfjs(const char *path, uint64_t seed, struct hk_model **out, struct hk_import_info *info,
                              struct hk_error *err);

/* The same from memory: json (n bytes, model.json's text) and weights (wbytes: every group's
 * shards concatenated in manifest order, as TensorFlow.js reads them); name is used in messages. */
enum hk_status hk_import_tfjs_memory(const char *name, const char *json, size_t n, const unsigned char *weights,
                                     size_t wbytes, uint64_t seed, struct hk_model **out,
                                     struct hk_import_info *info, struct hk_error *err);

#endif
