/* augment.c: Keras ImageDataGenerator-parity augmentation: sampling the per-image parameters and
 * the single-pass affine warp (bilinear, scipy.ndimage boundary modes) with flips and brightness. */
#include "augment.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "rng.h"

#define AUG_STREAM 0x617567u /* "aug" */
#define AUG_PI 3.14159265358979323846
/* Coordinates within this distance of the edge count as inside for HK_FILL_CONSTANT, so that a
 * 90-degree rotation (cos 90 is not exactly 0 in floating point) does not flicker to cval. */
#define AUG_EDGE_EPS 1e-6
/* Coordinates are clamped to this magnitude before conversion to int (also catches NaN). */
#define AUG_COORD_LIMIT 1e7

static const char *const fill_names[HK_FILL_COUNT] = {"nearest", "constant", "reflect", "wrap"};

struct hk_augment hk_augment_default(void)
{
    return (struct hk_augment){.zoom_lo = 1.0f, .zoom_hi = 1.0f, .fill = HK_FILL_NEAREST};
}

int hk_augment_active(const struct hk_augment *a)
{
    return a->rotation_range > 0 || a->width_shift > 0 || a->height_shift > 0 || a->shear_range > 0 ||
           a->zoom_lo != 1.0f || a->zoom_hi != 1.0f || a->horizontal_flip || a->vertical_flip ||
           (a->brightness_hi > 0 && (a->brightness_lo != 1.0f || a->brightness_hi != 1.0f));
}

static enum hk_status check_range(struct hk_error *err, const char *name, float v)
{
    if (!isfinite(v) || v < 0)
        return hk_fail(err, HK_EINVAL, "augment: %s must be a number >= 0, got %g", name, (double)v);
    return HK_OK;
}

enum hk_status hk_augment_check(const struct hk_augment *a, struct hk_error *err)
{
    enum hk_status st;
    if ((st = check_range(err, "rotation", a->rotation_range)) ||
        (st = check_range(err, "width_shift", a->width_shift)) ||
        (st = check_range(err, "height_shift", a->height_shift)) ||
        (st = check_range(err, "shear", a->shear_range)))
        return st;
    if (!isfinite(a->zoom_lo) || !isfinite(a->zoom_hi) || !(a->zoom_lo > 0) || a->zoom_lo > a->zoom_hi)
        return hk_fail(err, HK_EINVAL, "augment: zoom range must satisfy 0 < lo <= hi, got [%g, %g]",
                       (double)a->zoom_lo, (double)a->zoom_hi);
    if (!isfinite(a->brightness_lo) || !isfinite(a->brightness_hi) || a->brightness_lo < 0 ||
        a->brightness_lo > a->brightness_hi || (a->brightness_lo == 0) != (a->brightness_hi == 0))
        return hk_fail(err, HK_EINVAL,
                       "augment: brightness range must be 0, 0 (off) or satisfy 0 < lo <= hi, got [%g, %g]",
                       (double)a->brightness_lo, (double)a->brightness_hi);
    if ((unsigned)a->fill >= HK_FILL_COUNT)
        return hk_fail(err, HK_EINVAL,
                       "augment: unknown fill mode %d; expected nearest, constant, reflect or wrap", (int)a->fill);
    if (a->cval < 0 || a->cval > 255)
        return hk_fail(err, HK_EINVAL, "augment: cval must be in 0..255, got %d", a->cval);
    return HK_OK;
}

const char *hk_augment_fill_name(enum hk_fill fill)
{
    return (unsigned)fill < HK_FILL_COUNT ? fill_names[fill] : NULL;
}

enum hk_fill hk_augment_fill_find(const char *name)
{
    for (int i = 0; i < HK_FILL_COUNT; i++)
        if (strcmp(name, fill_names[i]) == 0)
            return (enum hk_fill)i;
    return HK_FILL_COUNT;
}

static const char *const flip_names[] = {"none", "horizontal", "vertical", "both"}; /* bit 0 h, bit 1 v */

const char *hk_augment_flip_name(const struct hk_augment *a)
{
    return flip_names[(a->horizontal_flip != 0) | (a->vertical_flip != 0) << 1];
}

int hk_augment_flip_set(struct hk_augment *a, const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, flip_names[i]) == 0) {
            a->horizontal_flip = i & 1;
            a->vertical_flip = i >> 1;
            return 1;
        }
    return 0;
}

struct hk_warp hk_augment_warp_identity(void)
{
    return (struct hk_warp){.zx = 1.0f, .zy = 1.0f, .brightness = 1.0f};
}

void hk_augment_sample(const struct hk_augment *a, uint64_t seed, uint64_t epoch, uint64_t index,
                       struct hk_size size, struct hk_warp *out)
{
    int width = size.w, height = size.h;
    struct hk_rng r;
    hk_rng_derive(&r, seed, epoch, index, AUG_STREAM);
    /* Always nine draws in this order (Keras' order in random_transform). */
    float theta = hk_rng_uniform(&r, -a->rotation_range, a->rotation_range);
    float tx = hk_rng_uniform(&r, -a->height_shift, a->height_shift);
    float ty = hk_rng_uniform(&r, -a->width_shift, a->width_shift);
    float shear = hk_rng_uniform(&r, -a->shear_range, a->shear_range);
    float zx = hk_rng_uniform(&r, a->zoom_lo, a->zoom_hi);
    float zy = hk_rng_uniform(&r, a->zoom_lo, a->zoom_hi);
    float fh = hk_rng_float(&r);
    float fv = hk_rng_float(&r);
    float bright = hk_rng_uniform(&r, a->brightness_lo, a->brightness_hi);

    if (a->height_shift < 1.0f)
        tx *= (float)height;
    if (a->width_shift < 1.0f)
        ty *= (float)width;
    out->theta_deg = a->rotation_range > 0 ? theta : 0.0f;
    out->tx = a->height_shift > 0 ? tx : 0.0f;
    out->ty = a->width_shift > 0 ? ty : 0.0f;
    out->shear_deg = a->shear_range > 0 ? shear : 0.0f;
    out->zx = a->zoom_lo == 1.0f && a->zoom_hi == 1.0f ? 1.0f : zx;
    out->zy = a->zoom_lo == 1.0f && a->zoom_hi == 1.0f ? 1.0f : zy;
    out->flip_h = a->horizontal_flip && fh < 0.5f;
    out->flip_v = a->vertical_flip && fv < 0.5f;
    out->brightness = a->brightness_hi > 0 ? bright : 1.0f;
}

/* A 2x3 affine map [a b c; d e f] (implicit last row 0 0 1). */
struct affine {
    double m[2][3];
};

static struct affine affine_mul(struct affine p, struct affine q)
{
    struct affine o;
    for (int i = 0; i < 2; i++) {
        o.m[i][0] = p.m[i][0] * q.m[0][0] + p.m[i][1] * q.m[1][0];
        o.m[i][1] = p.m[i][0] * q.m[0][1] + p.m[i][1] * q.m[1][1];
        o.m[i][2] = p.m[i][0] * q.m[0][2] + p.m[i][1] * q.m[1][2] + p.m[i][2];
    }
    return o;
}

/* Keras: rotation @ shift @ shear @ zoom, then moved to the centre (o_r, o_c) = (h/2 - 0.5,
 * w/2 - 0.5): M = offset(o) @ T @ offset(-o). Maps output (row, col) to input (row, col). */
static struct affine warp_matrix(const struct hk_warp *w, int width, int height)
{
    double th = w->theta_deg * (AUG_PI / 180.0), sh = w->shear_deg * (AUG_PI / 180.0);
    struct affine rot = {{{cos(th), -sin(th), 0}, {sin(th), cos(th), 0}}};
    struct affine shift = {{{1, 0, w->tx}, {0, 1, w->ty}}};
    struct affine shear = {{{1, -sin(sh), 0}, {0, cos(sh), 0}}};
    struct affine zoom = {{{w->zx, 0, 0}, {0, w->zy, 0}}};
    struct affine t = affine_mul(affine_mul(affine_mul(rot, shift), shear), zoom);
    double o_r = height / 2.0 - 0.5, o_c = width / 2.0 - 0.5;
    t.m[0][2] += o_r - t.m[0][0] * o_r - t.m[0][1] * o_c;
    t.m[1][2] += o_c - t.m[1][0] * o_r - t.m[1][1] * o_c;
    return t;
}

static int is_identity(const struct affine *t)
{
    return t->m[0][0] == 1 && t->m[0][1] == 0 && t->m[0][2] == 0 && t->m[1][0] == 0 && t->m[1][1] == 1 &&
           t->m[1][2] == 0;
}

/* Index i (any integer) into 0..n-1 by the fill mode (not used for constant). */
static int map_index(int i, int n, enum hk_fill fill)
{
    if (i >= 0 && i < n)
        return i;
    switch (fill) {
    case HK_FILL_REFLECT: { /* d c b a | a b c d | d c b a: period 2n */
        int p = 2 * n, m = i % p;
        if (m < 0)
            m += p;
        return m < n ? m : p - 1 - m;
    }
    case HK_FILL_WRAP: {
        int m = i % n;
        return m < 0 ? m + n : m;
    }
    default:
        return i < 0 ? 0 : n - 1;
    }
}

static double clamp_coord(double v)
{
    if (!(v >= -AUG_COORD_LIMIT)) /* also NaN */
        return -AUG_COORD_LIMIT;
    return v > AUG_COORD_LIMIT ? AUG_COORD_LIMIT : v;
}

static unsigned char to_u8(float v)
{
    v += 0.5f;
    if (!(v > 0.0f))
        return 0;
    return v >= 255.0f ? 255 : (unsigned char)v;
}

/* Bilinear weights are fixed point with WBITS fraction bits: a position error of at most
 * 2^-12 pixel, so under 0.07 grey levels; the sum of products stays below 2^31. */
#define WBITS 11
#define WONE (1 << WBITS)

static int weight(double frac)
{
    return (int)(frac * WONE + 0.5);
}

/* Bilinear blend of four RGB pixels (p00 p01 / p10 p11) with weights wx (columns), wy (rows) in
 * 0..WONE, times bright (exactly 1.0f: integer rounding only), into d. */
static inline void blend(unsigned char *d, const unsigned char *p00, const unsigned char *p01,
                         const unsigned char *p10, const unsigned char *p11, int wx, int wy, float bright)
{
    for (int k = 0; k < 3; k++) {
        int top = p00[k] * WONE + (p01[k] - p00[k]) * wx;
        int bot = p10[k] * WONE + (p11[k] - p10[k]) * wx;
        int v = top * WONE + (bot - top) * wy; /* value * 2^(2 WBITS), 0 .. 255 * 2^22 */
        if (bright == 1.0f)
            d[k] = (unsigned char)((v + (1 << (2 * WBITS - 1))) >> (2 * WBITS));
        else
            d[k] = to_u8((float)v * (bright / (float)(1 << (2 * WBITS))));
    }
}

/* The slow path for a source coordinate (y row, x col) near or past an edge. */
static void sample_edge(unsigned char *d, const unsigned char *src, int width, int height, double y, double x,
                        enum hk_fill fill, unsigned char cval, float bright)
{
    y = clamp_coord(y);
    x = clamp_coord(x);
    if (fill == HK_FILL_CONSTANT) {
        /* scipy 'constant': cval outside [0, n-1], plain interpolation inside. */
        if (y < -AUG_EDGE_EPS || y > height - 1 + AUG_EDGE_EPS || x < -AUG_EDGE_EPS ||
            x > width - 1 + AUG_EDGE_EPS) {
            unsigned char v = to_u8(cval * bright);
            d[0] = d[1] = d[2] = v;
            return;
        }
        fill = HK_FILL_NEAREST; /* inside: only zero-weight neighbours can fall off the edge */
    }
    if (fill == HK_FILL_NEAREST) {
        y = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
        x = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
    }
    double fy0 = floor(y), fx0 = floor(x);
    int y0 = (int)fy0, x0 = (int)fx0;
    int wy = weight(y - fy0), wx = weight(x - fx0);
    int r0 = map_index(y0, height, fill), r1 = map_index(y0 + 1, height, fill);
    int c0 = map_index(x0, width, fill), c1 = map_index(x0 + 1, width, fill);
    size_t row0 = (size_t)r0 * width, row1 = (size_t)r1 * width;
    blend(d, src + 3 * (row0 + c0), src + 3 * (row0 + c1), src + 3 * (row1 + c0), src + 3 * (row1 + c1),
          wx, wy, bright);
}

void hk_augment_warp(const struct hk_warp *w, enum hk_fill fill, unsigned char cval, const unsigned char *src,
                     unsigned char *dst, struct hk_size size)
{
    int width = size.w, height = size.h;
    assert(width > 0 && height > 0 && src != dst);
    struct affine t = warp_matrix(w, width, height);
    float bright = w->brightness;
    size_t row_bytes = (size_t)width * 3;

    if (is_identity(&t) && bright == 1.0f) {
        for (int r = 0; r < height; r++) {
            unsigned char *drow = dst + (size_t)(w->flip_v ? height - 1 - r : r) * row_bytes;
            const unsigned char *srow = src + (size_t)r * row_bytes;
            if (!w->flip_h) {
                memcpy(drow, srow, row_bytes);
                continue;
            }
            for (int c = 0; c < width; c++)
                memcpy(drow + 3 * (size_t)(width - 1 - c), srow + 3 * (size_t)c, 3);
        }
        return;
    }

    const double a = t.m[0][0], b = t.m[0][1], e = t.m[1][0], f = t.m[1][1];
    const double ymax = height - 1, xmax = width - 1;
    for (int r = 0; r < height; r++) {
        unsigned char *drow = dst + (size_t)(w->flip_v ? height - 1 - r : r) * row_bytes;
        double yb = a * r + t.m[0][2], xb = e * r + t.m[1][2];
        for (int c = 0; c < width; c++) {
            double y = yb + b * c, x = xb + f * c;
            unsigned char *d = drow + 3 * (size_t)(w->flip_h ? width - 1 - c : c);
            if (y >= 0 && y < ymax && x >= 0 && x < xmax) {
                int y0 = (int)y, x0 = (int)x; /* truncation is floor here */
                const unsigned char *p = src + 3 * ((size_t)y0 * width + x0);
                blend(d, p, p + 3, p + row_bytes, p + row_bytes + 3, weight(x - x0), weight(y - y0), bright);
            } else {
                sample_edge(d, src, width, height, y, x, fill, cval, bright);
            }
        }
    }
}

void hk_augment_apply(const struct hk_augment *a, uint64_t seed, uint64_t epoch, uint64_t index,
                      const unsigned char *src, unsigned char *dst, struct hk_size size)
{
    struct hk_warp w;
    hk_augment_sample(a, seed, epoch, index, size, &w);
    unsigned char cval = (unsigned char)(a->cval < 0 ? 0 : a->cval > 255 ? 255 : a->cval);
    hk_augment_warp(&w, a->fill, cval, src, dst, size);
}
