/* inspect.c: activation maps and convolution kernels as grids of RGB8 tiles. */
#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define DARK 24   /* border and empty cells */
#define GREY 128  /* a constant map */

static int isqrt_ceil(int n)
{
    int r = 1;
    while (r * r < n)
        r++;
    return r;
}

/* Lay out `tiles` tiles of tw x th in a grid of cols columns. */
static struct hk_inspect_size layout(int tiles, int cols, int tw, int th)
{
    struct hk_inspect_size s = {0};
    if (tiles <= 0 || cols <= 0 || tw <= 0 || th <= 0)
        return s;
    int rows = (tiles + cols - 1) / cols;
    long width = (long)cols * tw + (long)(cols + 1) * HK_INSPECT_BORDER;
    long height = (long)rows * th + (long)(rows + 1) * HK_INSPECT_BORDER;
    if (width > HK_INSPECT_MAX_PIXELS || height > HK_INSPECT_MAX_PIXELS || width * height > HK_INSPECT_MAX_PIXELS)
        return s;
    s.width = (int)width;
    s.height = (int)height;
    s.tiles = tiles;
    s.cols = cols;
    s.rows = rows;
    s.tile_w = tw;
    s.tile_h = th;
    return s;
}

/* Integer upscale so that the smaller side reaches at least `target` (1 for big maps). */
static int upscale(int h, int w, int target)
{
    int small = h < w ? h : w;
    int s = (target + small - 1) / small;
    return s < 1 ? 1 : s;
}

struct hk_inspect_size hk_inspect_grid_size(int c, int h, int w)
{
    struct hk_inspect_size zero = {0};
    if (c <= 0 || h <= 0 || w <= 0 || c > 1 << 20 || h > 1 << 15 || w > 1 << 15)
        return zero;
    if (h == 1 && w == 1)
        return layout(c, c < HK_INSPECT_STRIP_COLS ? c : HK_INSPECT_STRIP_COLS, HK_INSPECT_UNIT_TILE,
                      HK_INSPECT_UNIT_TILE);
    int s = upscale(h, w, HK_INSPECT_MIN_TILE);
    if ((long)s * w > 1 << 15 || (long)s * h > 1 << 15)
        return zero;
    return layout(c + 1, isqrt_ceil(c + 1), w * s, h * s);
}

/* Top-left pixel of tile t. */
static unsigned char *tile_at(unsigned char *dst, const struct hk_inspect_size *s, int t)
{
    int col = t % s->cols, row = t / s->cols;
    size_t x = (size_t)HK_INSPECT_BORDER + (size_t)col * (s->tile_w + HK_INSPECT_BORDER);
    size_t y = (size_t)HK_INSPECT_BORDER + (size_t)row * (s->tile_h + HK_INSPECT_BORDER);
    return dst + (y * (size_t)s->width + x) * 3;
}

static void min_max(const float *v, size_t n, float *lo, float *hi)
{
    float a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            a = v[i] < a ? v[i] : a;
            b = v[i] > b ? v[i] : b;
        }
    *lo = a;
    *hi = b;
}

/* v scaled from lo..hi to 0..255; a constant range (or no finite values) is mid grey, a
 * non-finite value is 0. */
static unsigned char scale(float v, float lo, float hi)
{
    if (!(hi > lo) || !isfinite(hi - lo))
        return GREY;
    if (!isfinite(v))
        return 0;
    double t = ((double)v - lo) / ((double)hi - lo) * 255.0 + 0.5;
    return (unsigned char)(t < 0 ? 0 : t > 255 ? 255 : t);
}

/* Draw a map of mh x mw bytes per channel (nch 1 = grey, 3 = RGB planes) into a tile, each
 * source pixel as an s x s block (nearest neighbour). */
static void draw_map(unsigned char *tile, int stride_px, const unsigned char *map, int nch, int mh, int mw, int s)
{
    for (int y = 0; y < mh * s; y++) {
        unsigned char *row = tile + (size_t)y * stride_px * 3;
        for (int x = 0; x < mw * s; x++) {
            size_t src = (size_t)(y / s) * mw + (size_t)(x / s);
            for (int k = 0; k < 3; k++)
                row[x * 3 + k] = map[(nch == 3 ? (size_t)k * mh * mw : 0) + src];
        }
    }
}

static void fill_dark(unsigned char *dst, const struct hk_inspect_size *s)
{
    memset(dst, DARK, (size_t)s->width * s->height * 3);
}

enum hk_status hk_inspect_grid(unsigned char *dst, const float *act, int c, int h, int w, const unsigned char *pic,
                               int pic_w, int pic_h, struct hk_error *err)
{
    struct hk_inspect_size s = hk_inspect_grid_size(c, h, w);
    if (!s.tiles)
        return hk_fail(err, HK_EINVAL, "cannot draw %d maps of %dx%d: too large or empty", c, h, w);
    if (pic && (pic_w <= 0 || pic_h <= 0))
        return hk_fail(err, HK_EINVAL, "picture of %dx%d", pic_h, pic_w);
    fill_dark(dst, &s);
    if (h == 1 && w == 1) {
        float lo, hi;
        min_max(act, (size_t)c, &lo, &hi);
        for (int t = 0; t < c; t++) {
            unsigned char v = scale(act[t], lo, hi);
            draw_map(tile_at(dst, &s, t), s.width, &v, 1, 1, 1, s.tile_w);
        }
        return HK_OK;
    }
    int up = s.tile_w / w;
    size_t plane = (size_t)h * w;
    unsigned char *buf = malloc(plane > (size_t)s.tile_w * s.tile_h * 3 ? plane : (size_t)s.tile_w * s.tile_h * 3);
    if (!buf)
        return hk_fail(err, HK_ENOMEM, "out of memory for a %dx%d tile", s.tile_h, s.tile_w);
    /* the picture first */
    unsigned char *t0 = tile_at(dst, &s, 0);
    if (pic)
        hk_image_resize(buf, s.tile_w, s.tile_h, pic, pic_w, pic_h);
    else
        memset(buf, GREY, (size_t)s.tile_w * s.tile_h * 3);
    for (int y = 0; y < s.tile_h; y++)
        memcpy(t0 + (size_t)y * s.width * 3, buf + (size_t)y * s.tile_w * 3, (size_t)s.tile_w * 3);
    for (int ch = 0; ch < c; ch++) {
        const float *m = act + (size_t)ch * plane;
        float lo, hi;
        min_max(m, plane, &lo, &hi);
        for (size_t i = 0; i < plane; i++)
            buf[i] = scale(m[i], lo, hi);
        draw_map(tile_at(dst, &s, ch + 1), s.width, buf, 1, h, w, up);
    }
    free(buf);
    return HK_OK;
}

struct hk_inspect_size hk_inspect_filters_size(int f, int c, int kh, int kw)
{
    struct hk_inspect_size zero = {0};
    if (f <= 0 || c <= 0 || kh <= 0 || kw <= 0 || f > 1 << 16 || kh > 1 << 12 || kw > 1 << 12)
        return zero;
    int s = upscale(kh, kw, HK_INSPECT_FILTER_TILE);
    return layout(f, isqrt_ceil(f), kw * s, kh * s);
}

enum hk_status hk_inspect_filters(unsigned char *dst, const float *kernel, int f, int c, int kh, int kw,
                                  struct hk_error *err)
{
    struct hk_inspect_size s = hk_inspect_filters_size(f, c, kh, kw);
    if (!s.tiles)
        return hk_fail(err, HK_EINVAL, "cannot draw %d filters of %dx%dx%d: too large or empty", f, kh, kw, c);
    size_t plane = (size_t)kh * kw, per = plane * (size_t)c;
    int colour = c == 3;
    float *avg = malloc(plane * sizeof *avg);
    unsigned char *map = malloc(plane * 3);
    if (!avg || !map) {
        free(avg);
        free(map);
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    fill_dark(dst, &s);
    int up = s.tile_w / kw;
    for (int t = 0; t < f; t++) {
        const float *k = kernel + (size_t)t * per;
        float lo, hi;
        if (colour) {
            min_max(k, per, &lo, &hi);
            for (size_t i = 0; i < per; i++)
                map[i] = scale(k[i], lo, hi);
        } else {
            for (size_t i = 0; i < plane; i++) {
                double sum = 0;
                for (int ch = 0; ch < c; ch++)
                    sum += k[(size_t)ch * plane + i];
                avg[i] = (float)(sum / c);
            }
            min_max(avg, plane, &lo, &hi);
            for (size_t i = 0; i < plane; i++)
                map[i] = scale(avg[i], lo, hi);
        }
        draw_map(tile_at(dst, &s, t), s.width, map, colour ? 3 : 1, kh, kw, up);
    }
    free(avg);
    free(map);
    return HK_OK;
}
