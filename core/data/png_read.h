/* png_read.h: PNG decoding with libpng, CRCs checked (internal to core/data: hk_image_decode
 * calls it for bytes that start with the PNG signature). */
#ifndef HK_PNG_READ_H
#define HK_PNG_READ_H

#include <stddef.h>

#include "image_limits.h"

/* Decode PNG bytes into RGB8 as hk_image_decode does (limits lim, never NULL, checked after IHDR):
 * on success *rgb is owned, (*w)*(*h)*3 bytes. A chunk with a wrong CRC is HK_EFORMAT "corrupt
 * PNG: bad CRC in chunk NAME". */
enum hk_status hk_png_decode(const unsigned char *bytes, size_t n, const struct hk_image_limits *lim,
                             unsigned char **rgb, int *w, int *h, struct hk_error *err);

#endif
