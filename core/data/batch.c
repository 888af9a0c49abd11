/* batch.c: pixel to tensor conversion for training, evaluation and prediction. */
#include "batch.h"

void hk_batch_from_pixels(float *x, const unsigned char *pix, int h, int w, float rescale)
{
    size_t plane = (size_t)h * w;
    for (size_t i = 0; i < plane; i++) {
        x[i] = pix[3 * i] * rescale;
        x[plane + i] = pix[3 * i + 1] * rescale;
        x[2 * plane + i] = pix[3 * i + 2] * rescale;
    }
}

void hk_batch_fill(float *x, const struct hk_dataset *ds, const uint32_t *idx, int n, float rescale,
                   const struct hk_augment *aug, uint64_t seed, uint64_t epoch, unsigned char *tmp)
{
    int h = ds->height, w = ds->width;
    size_t size = (size_t)h * w * 3;
    int warp = aug && hk_augment_active(aug);
    for (int i = 0; i < n; i++) {
        const unsigned char *pix = hk_dataset_image(ds, idx[i]);
        if (warp) {
            hk_augment_apply(aug, seed, epoch, idx[i], pix, tmp, (struct hk_size){.h = h, .w = w});
            pix = tmp;
        }
        hk_batch_from_pixels(x + (size_t)i * size, pix, h, w, rescale);
    }
}
