/* test_inspect.c: the activation grid and the filter grid: sizes, the picture tile, scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "inspect.h"

static void tile_range(const unsigned char *img, const struct hk_inspect_size *s, int t, int *lo, int *hi,
                       int *grey)
{
    int col = t % s->cols, row = t / s->cols;
    int x0 = HK_INSPECT_BORDER + col * (s->tile_w + HK_INSPECT_BORDER);
    int y0 = HK_INSPECT_BORDER + row * (s->tile_h + HK_INSPECT_BORDER);
    *lo = 255;
    *hi = 0;
    *grey = 1;
    for (int y = y0; y < y0 + s->tile_h; y++)
        for (int x = x0; x < x0 + s->tile_w; x++) {
            const unsigned char *p = img + ((size_t)y * s->width + x) * 3;
            *lo = p[0] < *lo ? p[0] : *lo;
            *hi = p[0] > *hi ? p[0] : *hi;
            *grey &= p[0] == p[1] && p[1] == p[2];
        }
}

static void test_grid(void)
{
    enum { C = 32, H = 6, W = 5 };
    struct hk_inspect_size s = hk_inspect_grid_size(C, H, W);
    CHECK(s.tiles == 33, "33 tiles, got %d", s.tiles);
    CHECK(s.cols == 6 && s.rows == 6, "6x6 grid, got %dx%d", s.cols, s.rows);
    CHECK(s.tile_w >= 64 && s.tile_h >= 64, "tiles at least 64 px, got %dx%d", s.tile_w, s.tile_h);
    CHECK(s.tile_w * H == s.tile_h * W, "tile keeps the map's aspect: %dx%d", s.tile_w, s.tile_h);
    CHECK(s.width == 6 * s.tile_w + 7 * HK_INSPECT_BORDER && s.height == 6 * s.tile_h + 7 * HK_INSPECT_BORDER,
          "image %dx%d", s.width, s.height);

    float *act = malloc(sizeof(float) * C * H * W);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H * W; i++)
            act[c * H * W + i] = c == 7 ? 0.25f : sinf((float)(c * 31 + i)) * (float)(c + 1) - (float)c;
    /* a red picture, 16x16 */
    unsigned char pic[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) {
        pic[i * 3] = 200;
        pic[i * 3 + 1] = 10;
        pic[i * 3 + 2] = 20;
    }
    unsigned char *img = malloc((size_t)s.width * s.height * 3);
    struct hk_error err;
    CHECK(hk_inspect_grid(img, act, C, H, W, pic, 16, 16, &err) == HK_OK, "grid renders");
    /* the first tile is the picture */
    const unsigned char *p = img + ((size_t)(HK_INSPECT_BORDER + 10) * s.width + HK_INSPECT_BORDER + 10) * 3;
    CHECK(p[0] == 200 && p[1] == 10 && p[2] == 20, "first tile is the picture: %d,%d,%d", p[0], p[1], p[2]);
    /* the border is dark */
    CHECK(img[0] < 64 && img[1] < 64 && img[2] < 64, "border dark: %d", img[0]);
    int full = 1, constant_ok = 1, grey = 1;
    for (int c = 0; c < C; c++) {
        int lo, hi, g;
        tile_range(img, &s, c + 1, &lo, &hi, &g);
        grey &= g;
        if (c == 7)
            constant_ok = lo == 128 && hi == 128;
        else if (lo != 0 || hi != 255) {
            full = 0;
            CHECK(0, "channel %d spans %d..%d", c, lo, hi);
        }
    }
    CHECK(full, "every channel tile spans 0..255");
    CHECK(constant_ok, "a constant map is mid grey");
    CHECK(grey, "channel tiles are grey");
    /* the last three cells of the 6x6 grid are empty (dark) */
    int lo, hi, g;
    tile_range(img, &s, 35, &lo, &hi, &g);
    CHECK(hi < 64, "empty cell dark: max %d", hi);
    free(img);
    free(act);

    /* flat layer: a strip scaled over all units */
    float units[4] = {-1, 0, 1, 3};
    s = hk_inspect_grid_size(4, 1, 1);
    CHECK(s.tiles == 4 && s.rows == 1 && s.cols == 4, "strip of 4: %d tiles %dx%d", s.tiles, s.cols, s.rows);
    img = malloc((size_t)s.width * s.height * 3);
    CHECK(hk_inspect_grid(img, units, 4, 1, 1, NULL, 0, 0, &err) == HK_OK, "strip renders");
    tile_range(img, &s, 0, &lo, &hi, &g);
    CHECK(lo == 0 && hi == 0, "lowest unit black: %d", lo);
    tile_range(img, &s, 3, &lo, &hi, &g);
    CHECK(lo == 255, "highest unit white: %d", lo);
    tile_range(img, &s, 1, &lo, &hi, &g);
    CHECK(lo == 64, "unit 0 of -1..3 is 64: %d", lo);
    free(img);

    s = hk_inspect_grid_size(0, 5, 5);
    CHECK(s.tiles == 0 && s.width == 0, "no channels: no grid");
    CHECK(hk_inspect_grid(NULL, NULL, 0, 5, 5, NULL, 0, 0, &err) == HK_EINVAL, "no channels: invalid");
}

static void test_filters(void)
{
    struct hk_error err;
    /* 5 colour filters of 3x3 */
    float k[5 * 3 * 9];
    for (int i = 0; i < 5 * 27; i++)
        k[i] = (float)((i * 7) % 11) - 5.0f;
    struct hk_inspect_size s = hk_inspect_filters_size(5, 3, 3, 3);
    CHECK(s.tiles == 5 && s.cols == 3 && s.rows == 2, "5 filters in 3x2: %dx%d", s.cols, s.rows);
    CHECK(s.tile_w >= 32 && s.tile_w % 3 == 0, "tile %d", s.tile_w);
    unsigned char *img = malloc((size_t)s.width * s.height * 3);
    CHECK(hk_inspect_filters(img, k, 5, 3, 3, 3, &err) == HK_OK, "filters render");
    int colour = 0;
    for (int t = 0; t < 5; t++) {
        int lo, hi, g;
        tile_range(img, &s, t, &lo, &hi, &g);
        colour |= !g;
    }
    CHECK(colour, "3-channel filters are in colour");
    free(img);
    /* 4 filters of 2 channels: grey, averaged */
    float k2[4 * 2 * 4];
    for (int i = 0; i < 32; i++)
        k2[i] = (float)i;
    s = hk_inspect_filters_size(4, 2, 2, 2);
    CHECK(s.tiles == 4 && s.cols == 2 && s.tile_w == 32, "4 filters 2x2 of 32 px: %d %d", s.cols, s.tile_w);
    img = malloc((size_t)s.width * s.height * 3);
    CHECK(hk_inspect_filters(img, k2, 4, 2, 2, 2, &err) == HK_OK, "grey filters render");
    int lo, hi, g;
    tile_range(img, &s, 2, &lo, &hi, &g);
    CHECK(g && lo == 0 && hi == 255, "grey filter spans 0..255: %d..%d grey %d", lo, hi, g);
    free(img);
}

int main(void)
{
    test_grid();
    test_filters();
    return check_summary();
}
