/* image_check.h: the size limits, and structural checks of image files before stb_image decodes
 * them, for the gaps in Debian 12's stb_image 2.27 that fuzzing and valgrind found (internal to
 * core/data; each function's comment in image_check.c says what it guards against). */
#ifndef HK_IMAGE_CHECK_H
#define HK_IMAGE_CHECK_H

#include <stddef.h>

#include "image.h"

/* Why a JPEG's Huffman or quantization tables are unsafe to decode, or NULL. */
const char *hk_jpeg_tables_problem(const unsigned char *b, size_t n);

/* Whether a w x h picture of format (a name for messages) is within lim and HK_IMAGE_MAX_SIDE;
 * otherwise HK_ENOMEM "too large: WxH pixels (limit width=N)" (or height, pixels), or HK_EFORMAT
 * for a side of 0 or less. */
enum hk_status hk_image_check_size(const char *format, int w, int h, const struct hk_image_limits *lim,
                                   struct hk_error *err);

/* Whether an uncompressed BMP holds all the pixel rows its header claims. */
int hk_bmp_complete(const unsigned char *b, size_t n);

/* Why a palette BMP must not be decoded (a pixel names a colour stb_image never reads), or NULL. */
const char *hk_bmp_palette_problem(const unsigned char *b, size_t n);

/* Whether a GIF's first picture is all in the file. */
int hk_gif_first_frame_complete(const unsigned char *b, size_t n);

#endif
