/* model_cut.c: a model's first layers as a new model, optionally for another input size: the
 * transfer-learning cut (keep a pretrained network up to a layer, then add a new head). Built
 * through the public model API: each kept layer's spec is inserted again, then its weights, its
 * batch-norm state and its frozen flag are copied. */
#include "model_cut.h"

#include <string.h>

enum hk_status hk_model_cut(const struct hk_model *m, int last, struct hk_shape input, struct hk_model **out,
                            struct hk_error *err)
{
    *out = NULL;
    if (last < 0 || last >= hk_model_count(m))
        return hk_fail(err, HK_EINVAL, "no layer %d to cut after; the model has layers 0 to %d", last,
                       hk_model_count(m) - 1);
    if (input.c == 0)
        input = hk_model_input(m);
    struct hk_model *c = hk_model_new(input, hk_model_seed(m), err);
    if (!c)
        return err ? err->status : HK_ENOMEM;
    for (int i = 0; i <= last; i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        enum hk_status st = hk_model_insert(c, i, &l->spec, NULL, err);
        if (st != HK_OK) {
            hk_model_free(c);
            return st;
        }
    }
    for (int i = 0; i <= last; i++) {
        const struct hk_layer *from = hk_model_layer(m, i), *to = hk_model_layer(c, i);
        if (from->wcount != to->wcount || from->bcount != to->bcount || from->scount != to->scount) {
            hk_fail(err, HK_ESHAPE, "%s has %zu parameters for input %dx%dx%d but %zu for %dx%dx%d; its weights "
                                    "cannot move to the new input size (cut before it)",
                    from->name, from->wcount + from->bcount, hk_model_input(m).h, hk_model_input(m).w,
                    hk_model_input(m).c, to->wcount + to->bcount, input.h, input.w, input.c);
            hk_model_free(c);
            return HK_ESHAPE;
        }
        if (from->wcount)
            memcpy(to->w, from->w, from->wcount * sizeof *to->w);
        if (from->bcount)
            memcpy(to->b, from->b, from->bcount * sizeof *to->b);
        if (from->scount)
            memcpy(to->state, from->state, from->scount * sizeof *to->state);
        if (from->frozen)
            hk_model_set_frozen(c, i, i, 1);
    }
    *out = c;
    return HK_OK;
}
