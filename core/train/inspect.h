/* inspect.h: pictures of what a network sees: a layer's activation maps for one image as a grid
 * of tiles, and the kernels of a convolution layer as a grid of small tiles. Pure functions:
 * ask for the output size first, then render into a caller-owned RGB8 buffer (HWC). */
#ifndef HK_INSPECT_H
#define HK_INSPECT_H

#include "status.h"

#define HK_INSPECT_BORDER 2           /* px of dark border around and between tiles */
#define HK_INSPECT_MIN_TILE 64        /* activation maps are upscaled to at least this */
#define HK_INSPECT_FILTER_TILE 32     /* kernels are upscaled to at least this */
#define HK_INSPECT_UNIT_TILE 16       /* one unit of a flat (dense) layer */
#define HK_INSPECT_STRIP_COLS 32      /* units per row of a flat layer's strip */
#define HK_INSPECT_MAX_PIXELS ((long)1 << 26)

/* Geometry of a grid image. All zero when the arguments are invalid or the image would be larger
 * than HK_INSPECT_MAX_PIXELS. */
struct hk_inspect_size {
    int width, height;  /* of the whole image, in pixels */
    int tiles;          /* tiles drawn */
    int cols, rows;     /* of the grid */
    int tile_w, tile_h; /* of one tile, in pixels */
};

/* Size of the grid for one image's activations of c channels of h x w.
 * Spatial maps (h or w > 1): the picture plus one tile per channel, cols = ceil(sqrt(c + 1)).
 * Flat layers (h = w = 1): a strip of c unit tiles, HK_INSPECT_STRIP_COLS per row, no picture. */
struct hk_inspect_size hk_inspect_grid_size(int c, int h, int w);

/* Render the activations act (c x h x w floats, CHW) into dst (size.width * size.height * 3
 * bytes). pic (pic_w x pic_h RGB8, HWC; NULL: a grey tile) is drawn first, resized to the tile.
 * Each channel is scaled from its own min..max to 0..255 (a constant map is 128); a flat layer
 * is scaled by the min..max over all units. Nearest-neighbour upscaling. HK_EINVAL for a bad
 * shape, HK_ENOMEM when the picture tile cannot be allocated. */
enum hk_status hk_inspect_grid(unsigned char *dst, const float *act, int c, int h, int w, const unsigned char *pic,
                               int pic_w, int pic_h, struct hk_error *err);

/* Size of the grid for f kernels of c input channels of kh x kw: cols = ceil(sqrt(f)). */
struct hk_inspect_size hk_inspect_filters_size(int f, int c, int kh, int kw);

/* Render kernels (f x c x kh x kw floats) into dst. With c == 3 each filter is a colour tile
 * (R, G, B from the input channels, scaled by the min..max over the filter); otherwise the
 * filter's channels are averaged and drawn in grey, scaled by their min..max. */
enum hk_status hk_inspect_filters(unsigned char *dst, const float *kernel, int f, int c, int kh, int kw,
                                  struct hk_error *err);

#endif
