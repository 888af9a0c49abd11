/* augment_show.c: the grid of augmented pictures with their labels (augment show). */
#include "augment_show.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"
#include "rng.h"

#define SHOW_STREAM 0x73686f77u /* "show" */
#define LABEL_PAD 3             /* px above and below the label text */
#define LABEL_MAX 24            /* characters of a class name shown; longer ones end in ".." */

enum hk_status hk_augment_show(const struct hk_dataset *ds, const struct hk_augment *a, uint64_t seed, int n,
                               unsigned char **out, int *w, int *h, struct hk_error *err)
{
    *out = NULL;
    *w = *h = 0;
    if (!ds || !ds->count)
        return hk_fail(err, HK_EINVAL, "no training pictures to show; load them with: data train FOLDER");
    if (n < 1 || n > HK_AUGMENT_SHOW_MAX)
        return hk_fail(err, HK_EINVAL, "augment show: N must be from 1 to %d, got %d", HK_AUGMENT_SHOW_MAX, n);
    if (ds->count > UINT32_MAX)
        return hk_fail(err, HK_EINVAL, "augment show: too many pictures");
    enum hk_status st = hk_augment_check(a, err);
    if (st != HK_OK)
        return st;

    int tw = ds->width, th = ds->height;
    int scale = tw >= 96 ? 2 : 1;
    int label_h = HK_FONT_HEIGHT * scale + 2 * LABEL_PAD;
    /* a cell is as wide as the picture or the longest label, the picture centred in it */
    int cw = tw;
    for (int c = 0; c < ds->class_count; c++) {
        size_t len = strlen(ds->class_names[c]);
        int lw = (int)(len < LABEL_MAX ? len : LABEL_MAX) * (HK_FONT_WIDTH + 1) * scale - scale + 4;
        cw = lw > cw ? lw : cw;
    }
    int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
    int b = HK_AUGMENT_SHOW_BORDER;
    long gw = (long)cols * (cw + b) + b, gh = (long)rows * (th + label_h + b) + b;
    if (gw * gh > (1L << 28))
        return hk_fail(err, HK_EINVAL, "augment show: a %ldx%ld grid is too large; show fewer pictures", gw, gh);

    size_t count = ds->count, tile = (size_t)tw * (size_t)th * 3;
    unsigned char *img = malloc((size_t)gw * (size_t)gh * 3), *warped = malloc(tile);
    uint32_t *order = malloc(count * sizeof *order);
    if (!img || !warped || !order) {
        free(img), free(warped), free(order);
        return hk_fail(err, HK_ENOMEM, "out of memory for a %ldx%ld grid", gw, gh);
    }
    memset(img, 48, (size_t)gw * (size_t)gh * 3);
    struct hk_rng rng;
    hk_rng_derive(&rng, seed, 0, SHOW_STREAM, 0);
    for (size_t i = 0; i < count; i++)
        order[i] = (uint32_t)i;
    hk_rng_shuffle(&rng, order, count);

    static const unsigned char ink[3] = {0, 0, 0};
    for (int k = 0; k < n; k++) {
        uint32_t idx = order[(size_t)k % count];
        hk_augment_apply(a, seed, (uint64_t)k / count, idx, hk_dataset_image(ds, idx), warped,
                         (struct hk_size){.h = th, .w = tw});
        int x0 = b + (k % cols) * (cw + b), y0 = b + (k / cols) * (th + label_h + b), px = x0 + (cw - tw) / 2;
        for (int y = 0; y < th; y++)
            memcpy(img + 3 * ((size_t)(y0 + y) * (size_t)gw + (size_t)px), warped + (size_t)y * tw * 3,
                   (size_t)tw * 3);
        for (int y = y0 + th; y < y0 + th + label_h; y++)
            memset(img + 3 * ((size_t)y * (size_t)gw + (size_t)x0), 232, (size_t)cw * 3);

        char label[LABEL_MAX + 1];
        snprintf(label, sizeof label, "%s", ds->class_names[ds->labels[idx]]);
        if (strlen(ds->class_names[ds->labels[idx]]) > LABEL_MAX)
            label[LABEL_MAX - 1] = label[LABEL_MAX - 2] = '.';
        int lx = x0 + (cw - hk_font_text_width(label, scale)) / 2;
        hk_font_draw(img, (int)gw, (int)gh, lx, y0 + th + LABEL_PAD, label, scale, ink);
    }
    free(warped);
    free(order);
    *out = img;
    *w = (int)gw;
    *h = (int)gh;
    return HK_OK;
}
