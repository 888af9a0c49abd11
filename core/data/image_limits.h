/* image_limits.h: the limits every image decoder applies before it decodes a pixel (file size,
 * width, height, pixel count), their defaults and their one check. */
#ifndef HK_IMAGE_LIMITS_H
#define HK_IMAGE_LIMITS_H

#include <stddef.h>

#include "status.h"

/* No side may be longer than this, whatever the limits say (the decoder's own ceiling). */
#define HK_IMAGE_MAX_SIDE 16384

/* Limits checked before any pixel is decoded; a refusal names the limit as data limits writes it
 * ("too large: 9000x20 pixels (limit width=8192)"). */
struct hk_image_limits {
    size_t max_file_bytes; /* default 10 MB */
    int max_width;         /* default 8192 */
    int max_height;        /* default 8192 */
    size_t max_pixels;     /* default 40 M pixels (width x height) */
};

/* The defaults above. */
struct hk_image_limits hk_image_limits_default(void);

/* Whether a w x h picture of format (a name for messages) is within lim and HK_IMAGE_MAX_SIDE;
 * otherwise HK_ENOMEM "too large: WxH pixels (limit width=N)" (or height, pixels), or HK_EFORMAT
 * for a side of 0 or less. */
enum hk_status hk_image_check_size(const char *format, int w, int h, const struct hk_image_limits *lim,
                                   struct hk_error *err);

#endif
