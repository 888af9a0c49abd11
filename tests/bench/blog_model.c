/* blog_model.c: building the blog network through the core API (shared by the benchmarks). */
#include "blog_model.h"

struct hk_model *blog_model_build(uint64_t seed, struct hk_error *err)
{
    struct hk_model *m = hk_model_new((struct hk_shape){3, 128, 128}, seed, err);
    if (!m)
        return NULL;
    const struct hk_layer_spec conv = {.kind = HK_LAYER_CONV2D, .kh = 3, .kw = 3, .act = HK_ACT_RELU};
    const struct hk_layer_spec pool = {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2};
    const struct hk_layer_spec drop = {.kind = HK_LAYER_DROPOUT, .rate = 0.4f};
    struct hk_layer_spec specs[12];
    int n = 0;
    for (int f = 32; f <= 128; f *= 2) {
        specs[n] = conv;
        specs[n++].units = f;
        specs[n++] = pool;
        specs[n++] = drop;
    }
    specs[n++] = (struct hk_layer_spec){.kind = HK_LAYER_FLATTEN};
    specs[n++] = (struct hk_layer_spec){.kind = HK_LAYER_DENSE, .units = 128, .act = HK_ACT_RELU};
    specs[n++] = (struct hk_layer_spec){.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID};
    struct hk_optim opt = hk_optim_default(HK_OPTIM_ADAM);
    opt.lr = 0.0005f;
    for (int i = 0; i < n; i++)
        if (hk_model_insert(m, hk_model_count(m), &specs[i], NULL, err) != HK_OK)
            goto fail;
    if (hk_model_compile(m, &opt, HK_LOSS_BCE, err) != HK_OK)
        goto fail;
    if (hk_model_param_count(m) != BLOG_MODEL_PARAMS) {
        hk_fail(err, HK_ESHAPE, "%zu parameters, expected %u", hk_model_param_count(m), BLOG_MODEL_PARAMS);
        goto fail;
    }
    return m;
fail:
    hk_model_free(m);
    return NULL;
}
