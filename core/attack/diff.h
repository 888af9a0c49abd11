/* diff.h: comparing the weights of two models tensor by tensor, to find tampering such as the Husky
 * AI series' one-number backdoor (the last dense bias set to 100). */
#ifndef HK_DIFF_H
#define HK_DIFF_H

#include <stddef.h>

#include "model.h"
#include "status.h"

/* One tensor of a layer: its kernel, bias or state (batchnorm moving statistics). */
struct hk_tensor_diff {
    char name[64];      /* as the model file names it: "dense_1/bias" */
    int layer;          /* index of the layer */
    size_t count;       /* values */
    size_t differ;      /* values whose bits differ */
    size_t at;          /* index of the largest change (when differ > 0) */
    float before, after; /* the values there */
    double largest;     /* |after - before| there (inf or nan when one side is not finite) */
};

/* Compare a and b, which must have the same layers (count, kinds, names, tensor sizes; else
 * HK_ESHAPE naming the first difference): diffs (max entries, may be NULL when max is 0) receives
 * the tensors that differ, in layer order; *ndiff how many differ, *ntensors how many there are. */
enum hk_status hk_model_diff(const struct hk_model *a, const struct hk_model *b, struct hk_tensor_diff *diffs,
                             int max, int *ndiff, int *ntensors, struct hk_error *err);

#endif
