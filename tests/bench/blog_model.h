/* blog_model.h: the Husky AI blog network for the benchmarks: 128x128x3 -> conv 32/64/128 3x3
 * relu, each with 2x2 max pooling and dropout 0.4 -> flatten -> dense 128 relu -> dense 1 sigmoid
 * (3,304,769 parameters), compiled with Adam at 0.0005 and binary cross-entropy. */
#ifndef HK_BENCH_BLOG_MODEL_H
#define HK_BENCH_BLOG_MODEL_H

#include <stdint.h>

#include "model.h"

#define BLOG_MODEL_PARAMS 3304769u

/* The compiled network initialised from seed; NULL with err set on failure. Owned. */
struct hk_model *blog_model_build(uint64_t seed, struct hk_error *err);

#endif
