/* model_spec.h: the `model new` command (the input shape and the seed), one parser for the shell
 * and for model file headers, and its writer. */
#ifndef HK_MODEL_SPEC_H
#define HK_MODEL_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "layer.h"
#include "lexer.h"
#include "status.h"

#define HK_MODEL_SPEC_MAX_CHANNELS 4 /* input channels a model may take (pictures have 3) */

struct hk_model_spec {
    struct hk_shape input;  /* from input=HxWxC, or input=HxW with 3 channels */
    uint64_t seed;          /* from seed=N, when has_seed */
    int has_seed;
};

/* Parse the options of `model new` in words[first..count): input=HxWxC (or HxW: 3 channels;
 * C from 1 to HK_MODEL_SPEC_MAX_CHANNELS) and seed=N (below 2^64), each at most once; seed= is
 * required when need_seed (model files record it). On error *bad is the offending word (count
 * when something is missing) and err says what was expected; *out is then unspecified. */
enum hk_status hk_model_spec_parse(const struct hk_words *words, int first, int need_seed, struct hk_model_spec *out,
                                   int *bad, struct hk_error *err);

/* Write "model new input=HxWxC seed=N" (NUL-terminated, truncated to cap). */
void hk_model_spec_format(const struct hk_model_spec *spec, char *buf, size_t cap);

#endif
