/* image.h: hostile-input-safe image intake (size checks, then stb_image), resizing, PNG output. */
#ifndef HK_IMAGE_H
#define HK_IMAGE_H

#include <stddef.h>

#include "image_limits.h"
#include "status.h"

/* A picture's size in pixels. The one order everywhere is height then width (as in HxW, Keras's
 * (rows, cols) and struct hk_shape); pass it as a struct, built with designated initializers
 * ({.h = H, .w = W}), so that width and height cannot be swapped by position. */
struct hk_size {
    int h, w;
};

/* Decode JPEG, PNG, BMP or GIF (first frame) bytes into RGB8.
 * The format is chosen by magic bytes; size and pixel budget are checked with stbi_info first.
 * On success *rgb is an owned buffer of (*w)*(*h)*3 bytes (free with free()).
 * On failure err says why in a few words ("truncated JPEG", "not an image", "too large: ..."). */
enum hk_status hk_image_decode(const unsigned char *bytes, size_t n, const struct hk_image_limits *lim,
                               unsigned char **rgb, int *w, int *h, struct hk_error *err);

/* Read a file (checking its size against lim first) and decode it as hk_image_decode does. */
enum hk_status hk_image_load(const char *path, const struct hk_image_limits *lim, unsigned char **rgb,
                             int *w, int *h, struct hk_error *err);

/* Resize RGB8 src (sw x sh) into dst (dw x dh), antialiased bilinear (triangle filter). */
void hk_image_resize(unsigned char *dst, int dw, int dh, const unsigned char *src, int sw, int sh);

/* Load a file and resize it to size RGB8 into dst (size.h*size.w*3 bytes, caller-owned). */
enum hk_status hk_image_load_resized(const char *path, const struct hk_image_limits *lim, unsigned char *dst,
                                     struct hk_size size, struct hk_error *err);

/* hk_image_load_resized that also hashes the file: whenever the file's bytes were read (also
 * when decoding them then failed), digest receives their SHA-256 and *hashed is 1; otherwise
 * *hashed is 0. digest and hashed may both be NULL. */
enum hk_status hk_image_load_resized_digest(const char *path, const struct hk_image_limits *lim, unsigned char *dst,
                                            struct hk_size size, unsigned char digest[32], int *hashed,
                                            struct hk_error *err);

/* Write 8-bit pixels (channels 1 = grey, 3 = RGB) as a PNG, atomically: a temporary file in the
 * same folder, synced, then renamed over path. */
enum hk_status hk_png_write(const char *path, const unsigned char *pixels, int w, int h, int channels,
                            struct hk_error *err);

#endif
