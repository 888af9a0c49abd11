/* test_augment.c: the augmentation warp against hand-computed pixel positions (rotation, shifts
 * with every fill mode, zoom, shear, flips, brightness), determinism of the per-image draws, and a
 * reference from scipy.ndimage.affine_transform (argv[1]: tests/fixtures/augment_reference.txt,
 * written by tests/fixtures/make_augment_reference.py) within one grey level. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "check.h"

#define MAXPIX (64 * 64 * 3)
#define CVAL 77

/* Distinct even values per pixel and channel (up to 5x5): v(r, c, k) = 10 * (r * w + c) + 2 * k + 2. */
static int val(int w, int r, int c, int k)
{
    return 10 * (r * w + c) + 2 * k + 2;
}

static void make_image(unsigned char *img, int w, int h)
{
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            for (int k = 0; k < 3; k++)
                img[3 * (r * w + c) + k] = (unsigned char)val(w, r, c, k);
}

static int px(const unsigned char *img, int w, int r, int c, int k)
{
    return img[3 * (r * w + c) + k];
}

static void warp(const struct hk_warp *wp, enum hk_fill fill, const unsigned char *src, unsigned char *dst, int w,
                 int h)
{
    memset(dst, 0xAB, (size_t)w * h * 3);
    hk_augment_warp(wp, fill, CVAL, src, dst, (struct hk_size){.h = h, .w = w});
}

static void test_identity(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    make_image(src, 5, 4);
    struct hk_warp id = hk_augment_warp_identity();
    for (int f = 0; f < HK_FILL_COUNT; f++) {
        warp(&id, (enum hk_fill)f, src, dst, 5, 4);
        CHECK(memcmp(src, dst, 5 * 4 * 3) == 0, "identity warp with fill %s copies exactly",
              hk_augment_fill_name((enum hk_fill)f));
    }
    /* the default options through apply: no transform at all */
    struct hk_augment a = hk_augment_default();
    CHECK(!hk_augment_active(&a), "default augmentation is inactive");
    memset(dst, 0, sizeof dst);
    hk_augment_apply(&a, 1, 2, 3, src, dst, (struct hk_size){.h = 4, .w = 5});
    CHECK(memcmp(src, dst, 5 * 4 * 3) == 0, "apply with default options copies exactly");
    /* a warp that is the identity only up to rounding (360 degrees) still reproduces the image */
    struct hk_warp full = id;
    full.theta_deg = 360.0f;
    warp(&full, HK_FILL_CONSTANT, src, dst, 5, 4);
    CHECK(memcmp(src, dst, 5 * 4 * 3) == 0, "360-degree rotation reproduces the image (constant fill)");
}

static void test_rotation(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    /* 5x5, centre (2, 2). theta = 90: input = R(90) (out - o) + o, R = [[0, -1], [1, 0]]:
     * in_r = 2 - (c - 2) = 4 - c, in_c = (r - 2) + 2 = r. So out(r, c) = in(4 - c, r):
     * out(0, 0) = in(4, 0) (bottom-left comes to top-left), out(0, 4) = in(0, 0). */
    make_image(src, 5, 5);
    struct hk_warp wp = hk_augment_warp_identity();
    wp.theta_deg = 90.0f;
    for (int f = 0; f < HK_FILL_COUNT; f++) {
        warp(&wp, (enum hk_fill)f, src, dst, 5, 5);
        int bad = 0;
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 5; c++)
                for (int k = 0; k < 3; k++)
                    bad += px(dst, 5, r, c, k) != val(5, 4 - c, r, k);
        CHECK(bad == 0, "rotation 90 (fill %s): out(r,c) = in(4-c, r); %d wrong values",
              hk_augment_fill_name((enum hk_fill)f), bad);
    }
    CHECK(px(dst, 5, 0, 0, 0) == val(5, 4, 0, 0) && px(dst, 5, 0, 4, 0) == val(5, 0, 0, 0),
          "rotation 90: out(0,0) = in(4,0) = %d, out(0,4) = in(0,0) = %d; got %d, %d", val(5, 4, 0, 0),
          val(5, 0, 0, 0), px(dst, 5, 0, 0, 0), px(dst, 5, 0, 4, 0));

    /* 5 wide x 4 high, centre (1.5, 2): 180 degrees gives in(3 - r, 4 - c), the same as both flips. */
    make_image(src, 5, 4);
    wp.theta_deg = 180.0f;
    warp(&wp, HK_FILL_CONSTANT, src, dst, 5, 4);
    int bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 5; c++)
            for (int k = 0; k < 3; k++)
                bad += px(dst, 5, r, c, k) != val(5, 3 - r, 4 - c, k);
    CHECK(bad == 0, "rotation 180 on 5x4: out(r,c) = in(3-r, 4-c); %d wrong values", bad);
}

/* Expected source index for an integer shift with each fill mode, written out by hand:
 * rows, tx = 2 on height 4: out rows 0..3 read input rows 2, 3, 4, 5.
 * cols, ty = -2 on width 5: out cols 0..4 read input cols -2, -1, 0, 1, 2.  (-1 = cval) */
static const int rows_tx2[HK_FILL_COUNT][4] = {
    [HK_FILL_NEAREST] = {2, 3, 3, 3},  /* edge value */
    [HK_FILL_CONSTANT] = {2, 3, -1, -1},
    [HK_FILL_REFLECT] = {2, 3, 3, 2},  /* 4 -> 3, 5 -> 2 (d c | a b c d | d c) */
    [HK_FILL_WRAP] = {2, 3, 0, 1},     /* 4 -> 0, 5 -> 1 */
};
static const int cols_ty_m2[HK_FILL_COUNT][5] = {
    [HK_FILL_NEAREST] = {0, 0, 0, 1, 2},
    [HK_FILL_CONSTANT] = {-1, -1, 0, 1, 2},
    [HK_FILL_REFLECT] = {1, 0, 0, 1, 2}, /* -2 -> 1, -1 -> 0 */
    [HK_FILL_WRAP] = {3, 4, 0, 1, 2},    /* -2 -> 3, -1 -> 4 */
};

static void test_shift(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    make_image(src, 5, 4);
    for (int f = 0; f < HK_FILL_COUNT; f++) {
        const char *name = hk_augment_fill_name((enum hk_fill)f);
        struct hk_warp wp = hk_augment_warp_identity();
        wp.tx = 2.0f;
        warp(&wp, (enum hk_fill)f, src, dst, 5, 4);
        int bad = 0;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 5; c++)
                for (int k = 0; k < 3; k++) {
                    int sr = rows_tx2[f][r];
                    bad += px(dst, 5, r, c, k) != (sr < 0 ? CVAL : val(5, sr, c, k));
                }
        CHECK(bad == 0, "shift tx=2 (rows) with fill %s: %d wrong values", name, bad);

        wp = hk_augment_warp_identity();
        wp.ty = -2.0f;
        warp(&wp, (enum hk_fill)f, src, dst, 5, 4);
        bad = 0;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 5; c++)
                for (int k = 0; k < 3; k++) {
                    int sc = cols_ty_m2[f][c];
                    bad += px(dst, 5, r, c, k) != (sc < 0 ? CVAL : val(5, r, sc, k));
                }
        CHECK(bad == 0, "shift ty=-2 (cols) with fill %s: %d wrong values", name, bad);
    }
    /* half a pixel down the rows: the mean of two rows (values differ by 50: exact) */
    struct hk_warp wp = hk_augment_warp_identity();
    wp.tx = 0.5f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    CHECK(px(dst, 5, 0, 1, 0) == (val(5, 0, 1, 0) + val(5, 1, 1, 0)) / 2, "tx=0.5: out(0,1) = %d, got %d",
          (val(5, 0, 1, 0) + val(5, 1, 1, 0)) / 2, px(dst, 5, 0, 1, 0));
}

static void test_zoom(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    make_image(src, 5, 5);
    /* 5x5, centre (2, 2). zx = zy = 2: in = 2 (out - 2) + 2 = 2 out - 2 (the picture shrinks to half). */
    struct hk_warp wp = hk_augment_warp_identity();
    wp.zx = wp.zy = 2.0f;
    warp(&wp, HK_FILL_CONSTANT, src, dst, 5, 5);
    static const int pts[][4] = {{1, 1, 0, 0}, {2, 2, 2, 2}, {3, 3, 4, 4}, {1, 3, 0, 4}, {3, 2, 4, 2}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        CHECK(px(dst, 5, pts[i][0], pts[i][1], 1) == val(5, pts[i][2], pts[i][3], 1),
              "zoom 2: out(%d,%d) = in(%d,%d) = %d, got %d", pts[i][0], pts[i][1], pts[i][2], pts[i][3],
              val(5, pts[i][2], pts[i][3], 1), px(dst, 5, pts[i][0], pts[i][1], 1));
    CHECK(px(dst, 5, 0, 0, 0) == CVAL && px(dst, 5, 4, 2, 2) == CVAL && px(dst, 5, 2, 0, 1) == CVAL,
          "zoom 2 with constant fill: the border reads outside and gets cval");

    /* zx = zy = 0.5 (magnify 2x): in = 0.5 out + 1. out(0,0) = in(1,1), out(4,4) = in(3,3),
     * out(1,1) = in(1.5, 1.5) = mean of in(1,1), in(1,2), in(2,1), in(2,2) (exact: 10 * (6+7+11+12)/4 + 2). */
    wp.zx = wp.zy = 0.5f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 5);
    CHECK(px(dst, 5, 0, 0, 0) == val(5, 1, 1, 0), "zoom 0.5: out(0,0) = in(1,1) = %d, got %d", val(5, 1, 1, 0),
          px(dst, 5, 0, 0, 0));
    CHECK(px(dst, 5, 4, 4, 2) == val(5, 3, 3, 2), "zoom 0.5: out(4,4) = in(3,3) = %d, got %d", val(5, 3, 3, 2),
          px(dst, 5, 4, 4, 2));
    int mean = (val(5, 1, 1, 0) + val(5, 1, 2, 0) + val(5, 2, 1, 0) + val(5, 2, 2, 0)) / 4;
    CHECK(px(dst, 5, 1, 1, 0) == mean, "zoom 0.5: out(1,1) = mean of in(1..2, 1..2) = %d, got %d", mean,
          px(dst, 5, 1, 1, 0));
    /* zx alone scales rows only: zx = 2, out(3, c) = in(4, c) and columns untouched */
    wp = hk_augment_warp_identity();
    wp.zx = 2.0f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 5);
    CHECK(px(dst, 5, 3, 1, 0) == val(5, 4, 1, 0) && px(dst, 5, 1, 3, 0) == val(5, 0, 3, 0),
          "zx=2 scales the row coordinate only: out(3,1) = in(4,1), out(1,3) = in(0,3)");
}

static void test_shear(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    make_image(src, 5, 5);
    /* shear 30 degrees on 5x5 (centre 2, 2): in_r = r - sin30 (c - 2) = r - (c - 2) / 2,
     * in_c = cos30 (c - 2) + 2. Column 2 is unchanged; out(0, 0) reads in(1, 2 - 2 cos30) =
     * in(1, 0.26795): in(1,0) + 0.26795 * 10 (values grow by 10 per column) = 52 + 2.68 -> 55. */
    struct hk_warp wp = hk_augment_warp_identity();
    wp.shear_deg = 30.0f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 5);
    double cos30 = sqrt(3.0) / 2.0;
    double fx = 2.0 - 2.0 * cos30;
    for (int k = 0; k < 3; k++) {
        double want = val(5, 1, 0, k) + fx * (val(5, 1, 1, k) - val(5, 1, 0, k));
        CHECK(fabs(px(dst, 5, 0, 0, k) - want) <= 0.5, "shear 30: out(0,0,%d) = in(1, 0.268) = %.3f, got %d", k,
              want, px(dst, 5, 0, 0, k));
    }
    /* out(4, 4): in_r = 4 - 1 = 3, in_c = 2 + 2 cos30 = 3.732: between in(3,3) and in(3,4) */
    double want = val(5, 3, 3, 0) + (2.0 * cos30 - 1.0) * (val(5, 3, 4, 0) - val(5, 3, 3, 0));
    CHECK(fabs(px(dst, 5, 4, 4, 0) - want) <= 0.5, "shear 30: out(4,4) = in(3, 3.732) = %.3f, got %d", want,
          px(dst, 5, 4, 4, 0));
    int bad = 0;
    for (int r = 0; r < 5; r++)
        bad += px(dst, 5, r, 2, 0) != val(5, r, 2, 0);
    CHECK(bad == 0, "shear 30: the centre column is unchanged (%d wrong)", bad);
}

static void test_flips_brightness(void)
{
    unsigned char src[MAXPIX], dst[MAXPIX];
    make_image(src, 5, 4);
    struct hk_warp wp = hk_augment_warp_identity();
    wp.flip_h = 1;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    int bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 5; c++)
            for (int k = 0; k < 3; k++)
                bad += px(dst, 5, r, c, k) != val(5, r, 4 - c, k);
    CHECK(bad == 0, "horizontal flip: out(r,c) = in(r, 4-c); %d wrong", bad);

    wp = hk_augment_warp_identity();
    wp.flip_v = 1;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 5; c++)
            for (int k = 0; k < 3; k++)
                bad += px(dst, 5, r, c, k) != val(5, 3 - r, c, k);
    CHECK(bad == 0, "vertical flip: out(r,c) = in(3-r, c); %d wrong", bad);

    /* both flips equal a 180-degree rotation */
    unsigned char rot[MAXPIX];
    wp.flip_h = 1;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    struct hk_warp r180 = hk_augment_warp_identity();
    r180.theta_deg = 180.0f;
    warp(&r180, HK_FILL_NEAREST, src, rot, 5, 4);
    CHECK(memcmp(dst, rot, 5 * 4 * 3) == 0, "both flips = rotation by 180");

    /* flips come after the affine part: shift tx=1 with constant fill, then flip_v:
     * shifted(r') = in(r'+1) for r' < 3, cval for r' = 3; out(r) = shifted(3 - r). */
    wp = hk_augment_warp_identity();
    wp.tx = 1.0f;
    wp.flip_v = 1;
    warp(&wp, HK_FILL_CONSTANT, src, dst, 5, 4);
    bad = 0;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 5; c++)
            bad += px(dst, 5, r, c, 0) != (r == 0 ? CVAL : val(5, 4 - r, c, 0));
    CHECK(bad == 0, "shift then flip: out(0) = cval, out(r) = in(4 - r); %d wrong", bad);

    wp = hk_augment_warp_identity();
    wp.brightness = 0.5f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    bad = 0;
    for (int i = 0; i < 5 * 4 * 3; i++)
        bad += dst[i] != src[i] / 2;
    CHECK(bad == 0, "brightness 0.5 halves every value; %d wrong", bad);
    wp.brightness = 2.0f;
    warp(&wp, HK_FILL_NEAREST, src, dst, 5, 4);
    bad = 0;
    for (int i = 0; i < 5 * 4 * 3; i++)
        bad += dst[i] != (src[i] * 2 > 255 ? 255 : src[i] * 2);
    CHECK(bad == 0, "brightness 2 doubles and clips at 255; %d wrong", bad);
    /* brightness also scales the fill: tx=2, constant, brightness 0.5 -> the band is cval/2 (38.5 -> 39) */
    wp.brightness = 0.5f;
    wp.tx = 2.0f;
    warp(&wp, HK_FILL_CONSTANT, src, dst, 5, 4);
    CHECK(px(dst, 5, 3, 0, 0) == 39 && px(dst, 5, 0, 0, 0) == val(5, 2, 0, 0) / 2,
          "brightness after a constant-filled shift: band %d (want 39), out(0,0) %d (want %d)", px(dst, 5, 3, 0, 0),
          px(dst, 5, 0, 0, 0), val(5, 2, 0, 0) / 2);
}

static struct hk_augment everything(void)
{
    struct hk_augment a = hk_augment_default();
    a.rotation_range = 30;
    a.width_shift = 0.2f;
    a.height_shift = 0.2f;
    a.shear_range = 20;
    a.zoom_lo = 0.8f;
    a.zoom_hi = 1.2f;
    a.horizontal_flip = 1;
    a.vertical_flip = 1;
    a.brightness_lo = 0.5f;
    a.brightness_hi = 1.5f;
    a.fill = HK_FILL_REFLECT;
    return a;
}

static void test_sampling(void)
{
    enum { W = 32, H = 24 };
    static unsigned char src[W * H * 3], a1[W * H * 3], a2[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        src[i] = (unsigned char)((i * 37 + (i / 7) * 11) & 255);
    struct hk_augment a = everything();
    CHECK(hk_augment_active(&a), "everything on is active");
    CHECK(hk_augment_check(&a, NULL) == HK_OK, "everything on passes the check");

    hk_augment_apply(&a, 1337, 3, 42, src, a1, (struct hk_size){.h = H, .w = W});
    hk_augment_apply(&a, 1337, 3, 42, src, a2, (struct hk_size){.h = H, .w = W});
    CHECK(memcmp(a1, a2, sizeof a1) == 0, "same (seed, epoch, index) gives identical bytes");
    hk_augment_apply(&a, 1337, 3, 43, src, a2, (struct hk_size){.h = H, .w = W});
    CHECK(memcmp(a1, a2, sizeof a1) != 0, "another index gives other bytes");
    hk_augment_apply(&a, 1338, 3, 42, src, a2, (struct hk_size){.h = H, .w = W});
    CHECK(memcmp(a1, a2, sizeof a1) != 0, "another seed gives other bytes");
    hk_augment_apply(&a, 1337, 4, 42, src, a2, (struct hk_size){.h = H, .w = W});
    CHECK(memcmp(a1, a2, sizeof a1) != 0, "another epoch gives other bytes");

    /* ranges, flip frequency, and independence of the draws from which options are on */
    int flips_h = 0, flips_v = 0, in_range = 1, indep = 1;
    struct hk_augment rot_only = hk_augment_default();
    rot_only.rotation_range = 30;
    for (uint64_t i = 0; i < 2000; i++) {
        struct hk_warp w, w1;
        hk_augment_sample(&a, 7, 0, i, (struct hk_size){.h = H, .w = W}, &w);
        hk_augment_sample(&rot_only, 7, 0, i, (struct hk_size){.h = H, .w = W}, &w1);
        in_range &= fabsf(w.theta_deg) <= 30 && fabsf(w.tx) <= 0.2f * H && fabsf(w.ty) <= 0.2f * W &&
                    fabsf(w.shear_deg) <= 20 && w.zx >= 0.8f && w.zx <= 1.2f && w.zy >= 0.8f && w.zy <= 1.2f &&
                    w.brightness >= 0.5f && w.brightness <= 1.5f;
        indep &= w.theta_deg == w1.theta_deg && w1.tx == 0 && w1.ty == 0 && w1.shear_deg == 0 && w1.zx == 1 &&
                 w1.zy == 1 && !w1.flip_h && !w1.flip_v && w1.brightness == 1;
        flips_h += w.flip_h;
        flips_v += w.flip_v;
    }
    CHECK(in_range, "sampled parameters stay within their ranges");
    CHECK(indep, "rotation draws the same angle whatever else is on; off options give neutral values");
    CHECK(flips_h > 900 && flips_h < 1100 && flips_v > 900 && flips_v < 1100,
          "flips happen about half the time: %d and %d of 2000", flips_h, flips_v);

    /* pixel shifts (>= 1) are not scaled by the size */
    struct hk_augment px_shift = hk_augment_default();
    px_shift.width_shift = 3;
    int within = 1, big = 0;
    for (uint64_t i = 0; i < 500; i++) {
        struct hk_warp w;
        hk_augment_sample(&px_shift, 9, 1, i, (struct hk_size){.h = H, .w = W}, &w);
        within &= fabsf(w.ty) <= 3.0f && w.tx == 0;
        big += fabsf(w.ty) > 1.5f;
    }
    CHECK(within && big > 100, "width_shift=3 means up to 3 pixels (%d of 500 over 1.5)", big);
}

static void test_names_and_check(void)
{
    for (int f = 0; f < HK_FILL_COUNT; f++)
        CHECK(hk_augment_fill_find(hk_augment_fill_name((enum hk_fill)f)) == (enum hk_fill)f, "fill name %d", f);
    CHECK(hk_augment_fill_find("mirror") == HK_FILL_COUNT, "unknown fill name");
    CHECK(hk_augment_fill_name(HK_FILL_COUNT) == NULL, "invalid fill has no name");
    CHECK(strcmp(hk_augment_fill_name(HK_FILL_REFLECT), "reflect") == 0, "reflect is called reflect");

    struct hk_error err;
    struct hk_augment a = hk_augment_default();
    CHECK(hk_augment_check(&a, &err) == HK_OK, "default passes the check");
    a.zoom_lo = 1.2f;
    a.zoom_hi = 0.8f;
    CHECK(hk_augment_check(&a, &err) == HK_EINVAL && strstr(err.msg, "zoom"), "reversed zoom: %s", err.msg);
    a = hk_augment_default();
    a.rotation_range = -5;
    CHECK(hk_augment_check(&a, &err) == HK_EINVAL && strstr(err.msg, "rotation"), "negative rotation: %s",
          err.msg);
    a = hk_augment_default();
    a.cval = 300;
    CHECK(hk_augment_check(&a, &err) == HK_EINVAL && strstr(err.msg, "cval"), "cval 300: %s", err.msg);
    a = hk_augment_default();
    a.brightness_lo = 0;
    a.brightness_hi = 1.5f;
    CHECK(hk_augment_check(&a, &err) == HK_EINVAL && strstr(err.msg, "brightness"), "brightness [0, 1.5]: %s",
          err.msg);
    a = hk_augment_default();
    a.brightness_lo = a.brightness_hi = 1.0f;
    CHECK(hk_augment_check(&a, &err) == HK_OK && !hk_augment_active(&a), "brightness [1, 1] is valid and off");
    a.brightness_lo = 0.9f;
    CHECK(hk_augment_active(&a), "brightness [0.9, 1] is on");
    a = hk_augment_default();
    a.zoom_lo = 0.8f;
    CHECK(hk_augment_active(&a), "zoom [0.8, 1] is on");
}

/* The scipy fixture: an image, then cases of (fill, cval, parameters) with expected floats. */
static void test_reference(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    CHECK(f != NULL, "open the scipy reference %s (pass its path as argv[1])", path ? path : "(none)");
    if (!f)
        return;
    static unsigned char src[MAXPIX], dst[MAXPIX];
    char line[8192];
    int w = 0, h = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (sscanf(line, "image %d %d", &w, &h) == 2) {
            CHECK(w > 0 && h > 0 && w * h * 3 <= MAXPIX, "fixture image size %dx%d", w, h);
            for (int i = 0; i < w * h * 3; i++) {
                int v;
                if (fscanf(f, "%d", &v) != 1)
                    v = -1;
                src[i] = (unsigned char)v;
            }
            continue;
        }
        char fill_name[32];
        int cval;
        struct hk_warp wp = hk_augment_warp_identity();
        if (sscanf(line, "case %31s %d %f %f %f %f %f %f", fill_name, &cval, &wp.theta_deg, &wp.tx, &wp.ty,
                   &wp.shear_deg, &wp.zx, &wp.zy) != 8)
            continue;
        enum hk_fill fill = hk_augment_fill_find(fill_name);
        CHECK(fill != HK_FILL_COUNT && w > 0, "fixture case fill %s", fill_name);
        if (fill == HK_FILL_COUNT || w <= 0)
            continue;
        hk_augment_warp(&wp, fill, (unsigned char)cval, src, dst, (struct hk_size){.h = h, .w = w});
        int bad = 0, first = -1;
        double worst = 0, want_first = 0;
        for (int i = 0; i < w * h * 3; i++) {
            double want;
            if (fscanf(f, "%lf", &want) != 1)
                want = -1000;
            double d = fabs(dst[i] - want);
            if (d > worst)
                worst = d;
            if (d > 1.0) {
                if (first < 0) {
                    first = i;
                    want_first = want;
                }
                bad++;
            }
        }
        CHECK(bad == 0, "scipy reference, fill %s, theta %g shear %g zoom %g,%g shift %g,%g: %d values off by "
              "more than 1 (first at pixel %d channel %d: want %.3f, got %d); worst %.3f",
              fill_name, (double)wp.theta_deg, (double)wp.shear_deg, (double)wp.zx, (double)wp.zy, (double)wp.tx,
              (double)wp.ty, bad, first / 3, first % 3, want_first, first >= 0 ? dst[first] : 0, worst);
        cases++;
    }
    fclose(f);
    CHECK(cases == 8, "the fixture holds 8 cases (2 warps x 4 fill modes), read %d", cases);
}

int main(int argc, char **argv)
{
    test_identity();
    test_rotation();
    test_shift();
    test_zoom();
    test_shear();
    test_flips_brightness();
    test_sampling();
    test_names_and_check();
    test_reference(argc > 1 ? argv[1] : NULL);
    return check_summary();
}
