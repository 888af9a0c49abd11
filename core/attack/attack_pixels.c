/* attack_pixels.c: the black-box pixel attack of the Husky AI series: only the model's output is
 * read, one query per candidate picture, and single-pixel changes are kept greedily while they
 * raise the score. */
#include "attack.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "rng.h"

enum hk_status hk_attack_pixels_run(struct hk_worker *wk, struct hk_model *m, float rescale, unsigned char *pix,
                                    int target, long budget, uint64_t seed, long *queries, double *score,
                                    int *success, struct hk_error *err)
{
    struct hk_shape in = hk_model_input(m);
    size_t size = hk_shape_size(in), npix = (size_t)in.h * in.w;
    int k = (int)hk_shape_size(hk_model_output(m)), classes = k == 1 ? 2 : k;
    if (target >= classes || target < -1)
        return hk_fail(err, HK_EINVAL, "no class %d; the classes are 0 to %d", target, classes - 1);
    float *x = malloc(HK_ATTACK_CHUNK * size * sizeof *x), *probs = malloc(HK_ATTACK_CHUNK * (size_t)k * sizeof *probs);
    unsigned char *cand = malloc(HK_ATTACK_CHUNK * npix * 3);
    uint32_t *where = malloc(HK_ATTACK_CHUNK * sizeof *where);
    enum hk_status st = HK_OK;
    *queries = 0;
    *success = 0;
    if (!x || !probs || !cand || !where) {
        st = hk_fail(err, HK_ENOMEM, "out of memory for the pixel attack");
        goto out;
    }
    hk_batch_from_pixels(x, pix, in.h, in.w, rescale);
    st = hk_attack_predict(wk, m, x, 1, probs, err);
    if (st != HK_OK)
        goto out;
    int first = hk_attack_predicted(probs, k);
    double cur = target >= 0 ? hk_attack_prob(probs, k, target) : 1.0 - hk_attack_prob(probs, k, first);
    *queries = 1;
    *score = cur;
    if (target >= 0 && first == target) {
        *success = 1;
        goto out;
    }
    struct hk_rng rng;
    hk_rng_derive(&rng, seed, 0x706978656c73 /* "pixels" */, 0, 0);
    while (*queries < budget) {
        int b = budget - *queries < HK_ATTACK_CHUNK ? (int)(budget - *queries) : HK_ATTACK_CHUNK;
        for (int j = 0; j < b; j++) {
            unsigned char *c = cand + (size_t)j * npix * 3;
            memcpy(c, pix, npix * 3);
            where[j] = hk_rng_below(&rng, (uint32_t)npix);
            uint32_t corner = hk_rng_below(&rng, 8);
            for (int ch = 0; ch < 3; ch++)
                c[(size_t)where[j] * 3 + ch] = (corner >> ch) & 1 ? 255 : 0;
            hk_batch_from_pixels(x + (size_t)j * size, c, in.h, in.w, rescale);
        }
        st = hk_attack_predict(wk, m, x, b, probs, err);
        if (st != HK_OK)
            goto out;
        int best = -1;
        double best_v = cur;
        for (int j = 0; j < b; j++) {
            const float *row = probs + (size_t)j * k;
            int pred = hk_attack_predicted(row, k);
            double v = target >= 0 ? hk_attack_prob(row, k, target) : 1.0 - hk_attack_prob(row, k, first);
            if ((target >= 0 && pred == target) || (target < 0 && pred != first)) {
                /* the first success ends the attack: the queries after it were never needed */
                memcpy(pix, cand + (size_t)j * npix * 3, npix * 3);
                *queries += j + 1;
                *score = v;
                *success = 1;
                goto out;
            }
            if (v > best_v) {
                best_v = v;
                best = j;
            }
        }
        *queries += b;
        if (best >= 0) {
            memcpy(pix, cand + (size_t)best * npix * 3, npix * 3);
            cur = best_v;
            *score = cur;
        }
    }
out:
    free(x);
    free(probs);
    free(cand);
    free(where);
    return st;
}
