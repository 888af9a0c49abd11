/* augment.h: Keras ImageDataGenerator-parity data augmentation for RGB8 images, done as ONE
 * affine warp per image (rotation, shift, shear, zoom; bilinear; fill nearest/constant/reflect/
 * wrap), followed by flips and a brightness factor fused into the same pass. Every random choice
 * comes from a generator derived from (seed, epoch, image index), so thread count and timing never
 * change a run.
 *
 * Geometry follows keras_preprocessing apply_affine_transform with scipy.ndimage.affine_transform
 * (order=1), in Keras' (row, col) convention: the matrix rotation @ shift @ shear @ zoom is applied
 * about the centre (h/2 - 0.5, w/2 - 0.5) and maps OUTPUT pixel coordinates to INPUT coordinates.
 * So tx (drawn from height_shift) moves along rows, ty (from width_shift) along columns, zx scales
 * rows and zy columns; a positive tx shows content from further down, i.e. the picture moves up. */
#ifndef HK_AUGMENT_H
#define HK_AUGMENT_H

#include <stdint.h>

#include "image.h"
#include "status.h"

/* What the warp samples where it falls outside the input. */
enum hk_fill {
    HK_FILL_NEAREST,  /* clamp to the edge:            a a a | a b c d | d d d */
    HK_FILL_CONSTANT, /* cval outside [0, n-1]:        k k k | a b c d | k k k */
    HK_FILL_REFLECT,  /* half-sample symmetric:        c b a | a b c d | d c b */
    HK_FILL_WRAP,     /* periodic, x mod n:            b c d | a b c d | a b c */
    HK_FILL_COUNT
};

/* The augmentation options (a public value struct; start from hk_augment_default()). */
struct hk_augment {
    float rotation_range; /* degrees; angle uniform in [-r, r]; 0 = off */
    float width_shift;    /* < 1: fraction of the width, >= 1: pixels; uniform in [-v, v]; 0 = off */
    float height_shift;   /* the same for the height */
    float shear_range;    /* shear angle in degrees (Keras 2 semantics); uniform in [-s, s] */
    float zoom_lo;        /* zx and zy drawn independently, uniform in [zoom_lo, zoom_hi]; */
    float zoom_hi;        /* Keras zoom_range=z is [1-z, 1+z]; 1, 1 = off */
    int horizontal_flip;  /* non-zero: mirror left-right with probability 0.5 */
    int vertical_flip;    /* non-zero: mirror top-bottom with probability 0.5 */
    float brightness_lo;  /* factor uniform in [lo, hi], multiplies the pixel values (clipped */
    float brightness_hi;  /* to 0..255); 0, 0 = off */
    enum hk_fill fill;    /* fill mode, default nearest */
    int cval;             /* 0..255, the value for HK_FILL_CONSTANT */
};

/* One image's sampled parameters. */
struct hk_warp {
    float theta_deg;  /* rotation, degrees */
    float tx;         /* shift along rows, pixels (Keras' tx, from height_shift) */
    float ty;         /* shift along columns, pixels (Keras' ty, from width_shift) */
    float shear_deg;  /* shear angle, degrees */
    float zx;         /* zoom of the row coordinate (1 = none) */
    float zy;         /* zoom of the column coordinate (1 = none) */
    int flip_h;       /* mirror columns after the warp */
    int flip_v;       /* mirror rows after the warp */
    float brightness; /* multiply by this after the warp (1 = none) */
};

/* Everything off, fill nearest, cval 0. */
struct hk_augment hk_augment_default(void);

/* Non-zero when any transform is on (a warp that is not the identity can happen). */
int hk_augment_active(const struct hk_augment *a);

/* Check the options (non-negative ranges, 0 < zoom_lo <= zoom_hi, 0 <= brightness_lo <=
 * brightness_hi, both brightness bounds zero or both positive, a known fill, cval in 0..255).
 * Returns HK_OK, or HK_EINVAL with err (may be NULL) naming the option and its value. */
enum hk_status hk_augment_check(const struct hk_augment *a, struct hk_error *err);

/* Name of a fill mode as commands write it ("reflect"); NULL for an invalid value. */
const char *hk_augment_fill_name(enum hk_fill fill);

/* Look a fill-mode name up; HK_FILL_COUNT when unknown. */
enum hk_fill hk_augment_fill_find(const char *name);

/* The flips as commands and model files write them: "none", "horizontal", "vertical" or "both". */
const char *hk_augment_flip_name(const struct hk_augment *a);

/* Set a's flips from one of those names; 0 (a unchanged) when the name is not one. */
int hk_augment_flip_set(struct hk_augment *a, const char *name);

/* The warp that changes nothing (zoom 1, brightness 1, everything else 0). */
struct hk_warp hk_augment_warp_identity(void);

/* Sample one image's parameters from hk_rng_derive(seed, epoch, index, 0x617567 "aug"). All nine
 * draws happen in a fixed order (theta, tx, ty, shear, zx, zy, flip_h, flip_v, brightness) whether
 * or not a transform is on, so turning one option on never changes what the others draw.
 * width and height (pixels) turn fractional shifts into pixels as Keras does (tx from height_shift
 * times the height, ty from width_shift times the width). a is only read; *out is written.
 * Options are assumed checked (hk_augment_check). */
void hk_augment_sample(const struct hk_augment *a, uint64_t seed, uint64_t epoch, uint64_t index,
                       struct hk_size size, struct hk_warp *out);

/* Warp RGB8 HWC src (width x height) into dst (same size, caller-owned, must not overlap src):
 * the affine part with bilinear interpolation and the fill mode, then flips, then brightness;
 * values are rounded to nearest and clipped to 0..255. The identity warp copies exactly.
 * width, height > 0; cval is used only for HK_FILL_CONSTANT. */
void hk_augment_warp(const struct hk_warp *w, enum hk_fill fill, unsigned char cval, const unsigned char *src,
                     unsigned char *dst, struct hk_size size);

/* hk_augment_sample then hk_augment_warp with a's fill mode and cval. */
void hk_augment_apply(const struct hk_augment *a, uint64_t seed, uint64_t epoch, uint64_t index,
                      const unsigned char *src, unsigned char *dst, struct hk_size size);

#endif
