/* prefetch.h: batch assembly ahead of the compute: one helper thread (which never calls BLAS and
 * never touches weights) augments and converts the next training batch into a second buffer while
 * the compute worker runs the current one. What a batch holds depends only on (seed, epoch, the
 * epoch's order), never on timing: the helper runs hk_batch_fill exactly as the worker would. */
#ifndef HK_PREFETCH_H
#define HK_PREFETCH_H

#include <stdint.h>

#include "augment.h"
#include "dataset.h"
#include "status.h"

struct hk_prefetch;

/* Prepare to serve batches of up to `batch` pictures of ds (kept borrowed and unchanged until
 * hk_prefetch_free), pixels times rescale, augmented with *aug (copied) drawn from seed. When the
 * helper thread cannot be started, batches are filled on the caller's thread instead. Owned. */
enum hk_status hk_prefetch_new(const struct hk_dataset *ds, int batch, float rescale, const struct hk_augment *aug,
                               uint64_t seed, struct hk_prefetch **out, struct hk_error *err);

/* Stop and join the helper, free everything; NULL is a no-op. */
void hk_prefetch_free(struct hk_prefetch *p);

/* Data-parallel training: from now on fill only share `part` of `parts` of each batch (see
 * hk_prefetch_share). Call before the first hk_prefetch_epoch. */
void hk_prefetch_set_share(struct hk_prefetch *p, int part, int parts);

/* This process's share of batch b: returns how many pictures it holds and sets *first to the
 * position in the batch of the first of them: [n*part/parts, n*(part+1)/parts) of a batch of n. */
int hk_prefetch_share(const struct hk_prefetch *p, int b, int *first);

/* Start an epoch at batch `first` (0, or where a resumed run stopped): order holds ds->count picture
 * indices (copied), batch b is order[b*batch ...]. Waits for a batch of the previous epoch still
 * being filled, then lets the helper begin. */
void hk_prefetch_epoch(struct hk_prefetch *p, const uint32_t *order, uint64_t epoch, int first);

/* The network input of batch b of the current epoch (n x 3 x h x w floats; only this process's
 * share after hk_prefetch_set_share), waiting until it is ready. Borrowed until
 * hk_prefetch_release(p, b). Batches must be taken in order first, first + 1, ... and each
 * released before the next one is taken. */
const float *hk_prefetch_get(struct hk_prefetch *p, int b);

/* Hand batch b's buffer back so the helper can fill batch b + 2 into it. */
void hk_prefetch_release(struct hk_prefetch *p, int b);

/* Seconds the caller has spent waiting in hk_prefetch_get (filling in it, without a helper). */
double hk_prefetch_wait_seconds(const struct hk_prefetch *p);

#endif
