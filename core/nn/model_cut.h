/* model_cut.h: keep a model's layers up to one (transfer learning: a pretrained backbone without
 * its head), optionally for another input size. */
#ifndef HK_MODEL_CUT_H
#define HK_MODEL_CUT_H

#include "model.h"

/* A new model (owned: hk_model_free) holding layers 0..last of m with their specs, names,
 * connections, weights, batch-norm state and frozen flags, for inputs of shape input (m's own
 * when input.c is 0), with m's seed; not compiled. Every shape is checked again for the new
 * input; a layer whose parameter count would change (a dense after a flatten) is refused with
 * HK_ESHAPE naming it. m is only read. */
enum hk_status hk_model_cut(const struct hk_model *m, int last, struct hk_shape input, struct hk_model **out,
                            struct hk_error *err);

#endif
