/* batch.h: turning cached 8-bit pictures into float network input (HWC uint8 -> CHW float,
 * times the rescale factor), with optional augmentation on the way. */
#ifndef HK_BATCH_H
#define HK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "dataset.h"

/* One picture (h x w x 3, HWC) into x (3 x h x w, CHW): x = pixel * rescale. */
void hk_batch_from_pixels(float *x, const unsigned char *pix, int h, int w, float rescale);

/* Images idx[0..n) of ds into x (n x 3 x h x w). With aug != NULL and active, each image is first
 * warped with the draw for (seed, epoch, idx[i]); tmp must then hold h*w*3 bytes. */
void hk_batch_fill(float *x, const struct hk_dataset *ds, const uint32_t *idx, int n, float rescale,
                   const struct hk_augment *aug, uint64_t seed, uint64_t epoch, unsigned char *tmp);

#endif
