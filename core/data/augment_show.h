/* augment_show.h: a picture of what augmentation does: a grid of augmented training pictures,
 * each with its class label drawn under it, like the notebook cell that shows some images. */
#ifndef HK_AUGMENT_SHOW_H
#define HK_AUGMENT_SHOW_H

#include <stdint.h>

#include "augment.h"
#include "dataset.h"
#include "status.h"

#define HK_AUGMENT_SHOW_MAX 256  /* pictures in one grid */
#define HK_AUGMENT_SHOW_BORDER 2 /* px between and around the tiles */

/* Render n (1..HK_AUGMENT_SHOW_MAX) augmented pictures of ds into a new RGB8 picture (*out, owned,
 * *w x *h). The pictures are the first n of a shuffle of ds seeded by seed (when n exceeds the
 * set, the order repeats with the next epoch's draws); each is warped with the draw training
 * makes for it in epoch 0 with that seed (hk_augment_apply(a, seed, 0, index)), so the same seed
 * gives the same picture. cols = ceil(sqrt(n)); under each tile its class name (up to 24 characters,
 * longer ones cut with "..") in the built-in font, black on light grey, scale 2 for pictures at
 * least 96 wide; a cell is as wide as the picture or the longest label, the picture centred. */
enum hk_status hk_augment_show(const struct hk_dataset *ds, const struct hk_augment *a, uint64_t seed, int n,
                               unsigned char **out, int *w, int *h, struct hk_error *err);

#endif
