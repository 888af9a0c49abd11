/* test_augment_show.c: the label font (glyphs against hand-drawn patterns, widths, clipping) and
 * the augment show grid: its geometry worked out by hand, each tile an augmented picture of the
 * set with its own label under it, the same seed giving the same PNG bytes and another seed other
 * bytes. Usage: test_augment_show FIXTURES (the tests/fixtures folder). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment_show.h"
#include "check.h"
#include "font.h"
#include "image.h"

static const char *fixtures;

/* 1 when glyph c is the 7 rows of '#' and '.' in rows. */
static int glyph_is(int c, const char *const rows[7])
{
    const unsigned char *g = hk_font_glyph(c);
    for (int r = 0; r < 7; r++)
        for (int x = 0; x < 5; x++)
            if (((g[r] >> (4 - x)) & 1) != (rows[r][x] == '#'))
                return 0;
    return 1;
}

static void test_font(void)
{
    static const char *const A[7] = {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"};
    static const char *const h[7] = {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"};
    static const char *const underscore[7] = {".....", ".....", ".....", ".....", ".....", ".....", "#####"};
    static const char *const box[7] = {"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"};
    static const char *const blank[7] = {".....", ".....", ".....", ".....", ".....", ".....", "....."};
    CHECK(glyph_is('A', A), "glyph A");
    CHECK(glyph_is('h', h), "glyph h");
    CHECK(glyph_is('_', underscore), "glyph _");
    CHECK(glyph_is(' ', blank), "glyph space");
    CHECK(glyph_is(200, box) && glyph_is(7, box), "characters outside ASCII draw as a box");
    CHECK(hk_font_text_width("", 2) == 0 && hk_font_text_width("a", 1) == 5 && hk_font_text_width("ab", 2) == 22,
          "text widths");
    /* there is a glyph for every character of the class names a user is likely to have */
    const char *common = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
    int boxes = 0;
    for (const char *p = common; *p; p++)
        boxes += glyph_is(*p, box);
    CHECK(boxes == 0, "%d common characters without a glyph", boxes);

    /* "A" at scale 2 with its corner at (1, 1) of a 12 x 16 picture: every font pixel a 2x2 square */
    unsigned char img[16 * 12 * 3];
    memset(img, 9, sizeof img);
    static const unsigned char red[3] = {255, 0, 0};
    hk_font_draw(img, 12, 16, 1, 1, "A", 2, red);
    int wrong = 0;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 12; x++) {
            int fx = (x - 1) / 2, fy = (y - 1) / 2;
            int on = x >= 1 && y >= 1 && fx < 5 && fy < 7 && A[fy][fx] == '#';
            const unsigned char *p = img + 3 * (y * 12 + x);
            wrong += on ? !(p[0] == 255 && p[1] == 0 && p[2] == 0) : !(p[0] == 9 && p[1] == 9 && p[2] == 9);
        }
    CHECK(wrong == 0, "A drawn at scale 2: %d pixels wrong", wrong);
    /* clipped at every edge without writing outside */
    unsigned char small[2 * 2 * 3 + 3];
    memset(small, 1, sizeof small);
    hk_font_draw(small, 2, 2, -3, -5, "AAAA", 3, red);
    CHECK(small[12] == 1 && small[13] == 1 && small[14] == 1, "clipping writes nothing past the picture");
}

static int file_bytes(const char *path, unsigned char **out, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)*n);
    int ok = *out && fread(*out, 1, (size_t)*n, f) == (size_t)*n;
    fclose(f);
    return ok;
}

static void test_grid(void)
{
    char root[600];
    snprintf(root, sizeof root, "%s/stripes/train", fixtures);
    struct hk_dataset *ds = NULL;
    struct hk_error err;
    CHECK(hk_dataset_load(root, (struct hk_size){.h = 16, .w = 16}, NULL, 1, &ds, &err) == HK_OK, "load: %s", err.msg);
    if (!ds)
        return;
    struct hk_augment a = hk_augment_default();
    a.rotation_range = 30;
    a.shear_range = 10;
    a.zoom_lo = 0.8f;
    a.zoom_hi = 1.2f;
    a.horizontal_flip = 1;

    unsigned char *img = NULL;
    int w = 0, h = 0;
    CHECK(hk_augment_show(ds, &a, 7, 6, &img, &w, &h, &err) == HK_OK, "grid: %s", err.msg);
    /* scale 1 (16 px pictures); cell width = "horizontal" (10 x 6 - 1) + 4 = 63; label strip 7 + 2 x 3;
     * 3 columns, 2 rows, 2 px borders: 3 x 65 + 2 = 197 by 2 x (16 + 13 + 2) + 2 = 64 */
    CHECK(w == 197 && h == 64, "grid is %dx%d, expected 197x64", w, h);
    if (img && w == 197 && h == 64) {
        unsigned char *warped = malloc(16 * 16 * 3), *strip = malloc(63 * 13 * 3);
        int tiles_found = 0, labels_right = 0;
        for (int k = 0; k < 6 && warped && strip; k++) {
            int x0 = 2 + (k % 3) * 65, y0 = 2 + (k / 3) * 31, px = x0 + (63 - 16) / 2;
            /* the tile is the augmented version of exactly one picture of the set */
            int match = -1, matches = 0;
            for (size_t i = 0; i < ds->count; i++) {
                hk_augment_apply(&a, 7, 0, i, hk_dataset_image(ds, i), warped, (struct hk_size){.h = 16, .w = 16});
                int same = 1;
                for (int y = 0; y < 16 && same; y++)
                    same = !memcmp(img + 3 * ((y0 + y) * 197 + px), warped + 3 * 16 * y, 16 * 3);
                if (same) {
                    matches++;
                    match = (int)i;
                }
            }
            tiles_found += matches == 1;
            if (matches != 1)
                continue;
            /* under it, its own class name centred on light grey */
            const char *name = ds->class_names[ds->labels[match]];
            memset(strip, 232, 63 * 13 * 3);
            static const unsigned char ink[3] = {0, 0, 0};
            hk_font_draw(strip, 63, 13, (63 - hk_font_text_width(name, 1)) / 2, 3, name, 1, ink);
            int same = 1;
            for (int y = 0; y < 13 && same; y++)
                same = !memcmp(img + 3 * ((y0 + 16 + y) * 197 + x0), strip + 3 * 63 * y, 63 * 3);
            labels_right += same;
        }
        CHECK(tiles_found == 6, "%d of 6 tiles are an augmented picture of the set", tiles_found);
        CHECK(labels_right == 6, "%d of 6 tiles have their label under them", labels_right);
        free(warped);
        free(strip);
    }

    /* the same seed writes the same bytes, another seed other bytes */
    char dir[] = "/tmp/hk_test_show.XXXXXX", p1[64], p2[64], p3[64];
    CHECK(mkdtemp(dir) != NULL, "temporary folder");
    snprintf(p1, sizeof p1, "%s/a.png", dir);
    snprintf(p2, sizeof p2, "%s/b.png", dir);
    snprintf(p3, sizeof p3, "%s/c.png", dir);
    unsigned char *img2 = NULL, *img3 = NULL;
    int w2, h2, w3, h3;
    CHECK(hk_augment_show(ds, &a, 7, 6, &img2, &w2, &h2, &err) == HK_OK &&
              hk_augment_show(ds, &a, 8, 6, &img3, &w3, &h3, &err) == HK_OK, "grids: %s", err.msg);
    if (img && img2 && img3) {
        CHECK(hk_png_write(p1, img, w, h, 3, &err) == HK_OK && hk_png_write(p2, img2, w2, h2, 3, &err) == HK_OK &&
                  hk_png_write(p3, img3, w3, h3, 3, &err) == HK_OK, "write: %s", err.msg);
        unsigned char *b1 = NULL, *b2 = NULL, *b3 = NULL;
        long n1 = 0, n2 = 0, n3 = 0;
        CHECK(file_bytes(p1, &b1, &n1) && file_bytes(p2, &b2, &n2) && file_bytes(p3, &b3, &n3), "read back");
        CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, (size_t)n1), "seed 7 twice: the same PNG bytes");
        CHECK(b1 && b3 && (n1 != n3 || memcmp(b1, b3, (size_t)n1)), "seeds 7 and 8: different PNG bytes");
        free(b1), free(b2), free(b3);
    }
    unlink(p1), unlink(p2), unlink(p3);
    rmdir(dir);
    free(img), free(img2), free(img3);

    /* more pictures than the set holds: the order repeats with other draws */
    CHECK(hk_augment_show(ds, &a, 7, 50, &img, &w, &h, &err) == HK_OK && w == 8 * 65 + 2 && h == 7 * 31 + 2,
          "50 of 48 pictures: %s %dx%d", err.msg, w, h);
    free(img);
    CHECK(hk_augment_show(ds, &a, 7, 0, &img, &w, &h, &err) == HK_EINVAL && !img, "0 pictures refused");
    CHECK(hk_augment_show(ds, &a, 7, HK_AUGMENT_SHOW_MAX + 1, &img, &w, &h, &err) == HK_EINVAL, "too many refused");
    CHECK(hk_augment_show(NULL, &a, 7, 4, &img, &w, &h, &err) == HK_EINVAL && strstr(err.msg, "data train"),
          "no set: %s", err.msg);
    hk_dataset_free(ds);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_augment_show FIXTURES\n");
        return 2;
    }
    fixtures = argv[1];
    test_font();
    test_grid();
    return check_summary();
}
