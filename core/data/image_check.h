/* image_check.h: structural checks of image files before stb_image decodes them, for the gaps
 * in Debian 12's stb_image 2.27 that fuzzing and valgrind found (internal to image.c; each
 * function's comment in image_check.c says what it guards against). */
#ifndef HK_IMAGE_CHECK_H
#define HK_IMAGE_CHECK_H

#include <stddef.h>

/* Why a JPEG's Huffman or quantization tables are unsafe to decode, or NULL. */
const char *hk_jpeg_tables_problem(const unsigned char *b, size_t n);

/* Whether an uncompressed BMP holds all the pixel rows its header claims. */
int hk_bmp_complete(const unsigned char *b, size_t n);

/* Why a palette BMP must not be decoded (a pixel names a colour stb_image never reads), or NULL. */
const char *hk_bmp_palette_problem(const unsigned char *b, size_t n);

/* Whether a GIF's first picture is all in the file. */
int hk_gif_first_frame_complete(const unsigned char *b, size_t n);

#endif
