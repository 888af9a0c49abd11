/* feature_cache.h: a frozen backbone's features, computed once per picture. When a model's first
 * layers give the same output for the same input in every training pass (frozen, no dropout: see
 * hk_model_cache_point) and the pictures are not augmented, the output of the last such layer is
 * kept for each picture the first time a pass computes it; later passes start after that layer
 * (hk_model_gradients_from), so their cost is the head's only. This is the cache Keras users build
 * by hand (predict the base once, train the head on its outputs). */
#ifndef HK_FEATURE_CACHE_H
#define HK_FEATURE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "status.h"

struct hk_feature_cache;

/* A cache for `count` pictures of model m at its cache point, for batches of up to `batch`. *out
 * is NULL (and HK_OK returned) when m has no cache point or the cache would not fit in `budget`
 * bytes (*need then receives the bytes it would take; 0 when there is no point). Owned. */
enum hk_status hk_fcache_new(const struct hk_model *m, size_t count, int batch, size_t budget,
                             struct hk_feature_cache **out, size_t *need, struct hk_error *err);

/* What the features of a cache depend on, as one number: the input shape, the cache point, the
 * configuration, connections, weights and state of every layer up to it, and the pictures (ds's
 * per-picture pixel hashes) with the rescale factor. A cache made under the same key holds the
 * features the model would compute now, so it can serve a later run (a head trained in phases). */
uint64_t hk_fcache_key(const struct hk_model *m, const struct hk_dataset *ds, float rescale);

/* Set and read the key a cache was made under (0 = none). */
void hk_fcache_set_key(struct hk_feature_cache *fc, uint64_t key);
uint64_t hk_fcache_get_key(const struct hk_feature_cache *fc);

/* Free; NULL is a no-op. */
void hk_fcache_free(struct hk_feature_cache *fc);

/* The layer whose outputs are kept; passes from the cache start at the next one. */
int hk_fcache_point(const struct hk_feature_cache *fc);

/* The features of pictures idx[0..n) as one batch (borrowed until the next call), or NULL when
 * one of them has not been computed yet (or memory for a batch larger than any before ran out). */
const float *hk_fcache_get(struct hk_feature_cache *fc, const uint32_t *idx, int n);

/* Keep the features of pictures idx[0..n) from the last forward pass of m (its cache point
 * layer's outputs for that batch). */
void hk_fcache_put(struct hk_feature_cache *fc, const struct hk_model *m, const uint32_t *idx, int n);

/* Bytes held. */
size_t hk_fcache_bytes(const struct hk_feature_cache *fc);

#endif
