/* model_spec.c: the `model new` command, parsed and written (see model_spec.h). */
#include "model_spec.h"

#include <stdio.h>
#include <string.h>

enum hk_status hk_model_spec_parse(const struct hk_words *words, int first, int need_seed, struct hk_model_spec *out,
                                   int *bad, struct hk_error *err)
{
    int have_input = 0;
    memset(out, 0, sizeof *out);
    for (int i = first; i < words->count; i++) {
        const struct hk_word *x = &words->w[i];
        *bad = i;
        if (x->key && !strcmp(x->key, "input") && !have_input) {
            int dims[3] = {0, 0, 3}, n = hk_parse_dims(x->value, dims);
            if (n < 2 || dims[2] > HK_MODEL_SPEC_MAX_CHANNELS)
                return hk_fail(err, HK_EINVAL, "input must look like 128x128x3 (height x width x channels), got '%s'",
                               x->value);
            out->input = (struct hk_shape){dims[2], dims[0], dims[1]};
            have_input = 1;
        } else if (x->key && !strcmp(x->key, "seed") && !out->has_seed) {
            if (!hk_parse_u64(x->value, &out->seed))
                return hk_fail(err, HK_EINVAL, "seed must be a whole number below 2^64, got '%s'", x->value);
            out->has_seed = 1;
        } else if (x->key && (!strcmp(x->key, "input") || !strcmp(x->key, "seed"))) {
            return hk_fail(err, HK_EINVAL, "%s= is given twice", x->key);
        } else {
            return hk_fail(err, HK_EINVAL, "unexpected '%s'; expected model new input=HxWxC%s", x->text,
                           need_seed ? " seed=N" : " [seed=N]");
        }
    }
    *bad = words->count;
    if (!have_input)
        return hk_fail(err, HK_EINVAL, "missing input=HxWxC, e.g. model new input=128x128x3");
    if (need_seed && !out->has_seed)
        return hk_fail(err, HK_EINVAL, "missing seed=N");
    return HK_OK;
}

void hk_model_spec_format(const struct hk_model_spec *spec, char *buf, size_t cap)
{
    snprintf(buf, cap, "model new input=%dx%dx%d seed=%llu", spec->input.h, spec->input.w, spec->input.c,
             (unsigned long long)spec->seed);
}
