/* test_image.c: image intake and datasets: PNG write and read back, decoding of every accepted
 * format, refusal of empty, text, truncated and oversized files, resizing against reference values
 * from Pillow 9.4 (Image.resize with BILINEAR), and a class-per-folder tree loaded with 1, 2 and
 * all threads. Usage: test_image FIXTURES (the tests/fixtures folder). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dataset.h"
#include "image.h"

static const char *fixtures;
static char tmpdir[512];

/* The 4x3 picture stored in images/rgb4x3.{png,bmp,gif} and images-ds/classB/b1.bmp. */
static const unsigned char rgb4x3[4 * 3 * 3] = {
    255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255,
    0, 0, 0, 128, 64, 32, 10, 200, 250, 255, 255, 0,
    0, 255, 255, 255, 0, 255, 90, 90, 90, 1, 2, 3,
};

/* path under the fixtures folder (static buffer, one at a time). */
static const char *fixture(const char *rel)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", fixtures, rel);
    return buf;
}

/* path under the temporary folder (static buffer, one at a time). */
static const char *temp(const char *rel)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, rel);
    return buf;
}

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The bytes of a file (owned), or NULL. */
static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = f ? malloc(65536) : NULL;
    *n = b ? fread(b, 1, 65536, f) : 0;
    if (f)
        fclose(f);
    return b;
}

/* Remove a folder and everything in it (symlinks are removed, not followed). */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Number of entries of folder path whose name contains part. */
static int count_entries(const char *path, const char *part)
{
    int n = 0;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, part))
            n++;
    closedir(d);
    return n;
}

/* CRC-32 as PNG chunks use it. */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG signature and IHDR chunk (with a correct CRC) claiming w x h RGB, and nothing else. */
static void craft_png_header(unsigned char out[33], uint32_t w, uint32_t h)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    out[24] = 8; /* bit depth */
    out[25] = 2; /* RGB */
    out[26] = out[27] = out[28] = 0;
    put_be32(out + 29, crc32_png(out + 12, 17));
}

static void test_png_round_trip(void)
{
    struct hk_error err;
    unsigned char rgb[5 * 4 * 3], grey[3 * 2], rgba[2 * 2 * 4];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (unsigned char)(i * 37 + 11);
    for (size_t i = 0; i < sizeof grey; i++)
        grey[i] = (unsigned char)(i * 50);
    for (size_t i = 0; i < sizeof rgba; i++)
        rgba[i] = (unsigned char)(255 - i * 9);

    unsigned char *px = NULL;
    int w = 0, h = 0;
    CHECK(hk_png_write(temp("rgb.png"), rgb, 5, 4, 3, &err) == HK_OK, "png write rgb: %s", err.msg);
    CHECK(hk_image_load(temp("rgb.png"), NULL, &px, &w, &h, &err) == HK_OK, "load rgb.png: %s", err.msg);
    CHECK(w == 5 && h == 4, "rgb.png is %dx%d, expected 5x4", w, h);
    CHECK(px && memcmp(px, rgb, sizeof rgb) == 0, "rgb.png pixels differ after round trip");
    free(px);

    /* Overwriting an existing file goes through a new temporary file and a rename. */
    rgb[0] ^= 0xFF;
    CHECK(hk_png_write(temp("rgb.png"), rgb, 5, 4, 3, &err) == HK_OK, "png overwrite: %s", err.msg);
    CHECK(hk_image_load(temp("rgb.png"), NULL, &px, &w, &h, &err) == HK_OK, "reload rgb.png: %s", err.msg);
    CHECK(px && memcmp(px, rgb, sizeof rgb) == 0, "rgb.png pixels differ after overwrite");
    free(px);

    CHECK(hk_png_write(temp("grey.png"), grey, 3, 2, 1, &err) == HK_OK, "png write grey: %s", err.msg);
    CHECK(hk_image_load(temp("grey.png"), NULL, &px, &w, &h, &err) == HK_OK, "load grey.png: %s", err.msg);
    CHECK(w == 3 && h == 2, "grey.png is %dx%d, expected 3x2", w, h);
    int same = px != NULL;
    for (int i = 0; same && i < 6; i++)
        same = px[i * 3] == grey[i] && px[i * 3 + 1] == grey[i] && px[i * 3 + 2] == grey[i];
    CHECK(same, "grey.png does not decode to grey RGB");
    free(px);

    CHECK(hk_png_write(temp("rgba.png"), rgba, 2, 2, 4, &err) == HK_OK, "png write rgba: %s", err.msg);
    CHECK(hk_image_load(temp("rgba.png"), NULL, &px, &w, &h, &err) == HK_OK, "load rgba.png: %s", err.msg);
    same = px != NULL && w == 2 && h == 2;
    for (int i = 0; same && i < 4; i++)
        same = memcmp(px + i * 3, rgba + i * 4, 3) == 0;
    CHECK(same, "rgba.png does not decode to its RGB channels");
    free(px);

    CHECK(count_entries(tmpdir, ".tmp.") == 0, "temporary files left in %s", tmpdir);
}

static void test_png_write_errors(void)
{
    struct hk_error err;
    unsigned char px[12] = { 0 };

    hk_error_clear(&err);
    enum hk_status st = hk_png_write(temp("no-such-folder/x.png"), px, 2, 2, 3, &err);
    CHECK(st == HK_EIO, "write into a missing folder gave %s", hk_status_name(st));
    CHECK(contains(err.msg, "no-such-folder/x.png") && contains(err.msg, "No such file or directory"),
          "missing-folder message: %s", err.msg);

    CHECK(mkdir(temp("a-folder"), 0755) == 0, "mkdir a-folder: %s", strerror(errno));
    hk_error_clear(&err);
    st = hk_png_write(temp("a-folder"), px, 2, 2, 3, &err);
    CHECK(st == HK_EIO, "write over a folder gave %s", hk_status_name(st));
    CHECK(contains(err.msg, "a-folder'") && contains(err.msg, "Is a directory"), "over-folder message: %s",
          err.msg);
    CHECK(count_entries(tmpdir, ".tmp.") == 0, "temporary file left after a failed rename");

    st = hk_png_write(temp("bad.png"), px, 2, 2, 2, &err);
    CHECK(st == HK_EINVAL && contains(err.msg, "2 channels"), "2 channels gave %s: %s", hk_status_name(st),
          err.msg);
    st = hk_png_write(temp("bad.png"), px, 0, 2, 3, &err);
    CHECK(st == HK_EINVAL, "width 0 gave %s", hk_status_name(st));
}

static void test_decode_formats(void)
{
    static const char *const names[] = { "images/rgb4x3.png", "images/rgb4x3.bmp", "images/rgb4x3.gif" };
    struct hk_error err;
    unsigned char *px = NULL;
    int w = 0, h = 0;
    for (int i = 0; i < 3; i++) {
        enum hk_status st = hk_image_load(fixture(names[i]), NULL, &px, &w, &h, &err);
        CHECK(st == HK_OK, "%s: %s", names[i], err.msg);
        CHECK(w == 4 && h == 3, "%s is %dx%d, expected 4x3", names[i], w, h);
        CHECK(px && w == 4 && h == 3 && memcmp(px, rgb4x3, sizeof rgb4x3) == 0, "%s: wrong pixels", names[i]);
        free(px);
    }

    /* An animated GIF: the first frame (red), not the second (blue). */
    CHECK(hk_image_load(fixture("images/anim.gif"), NULL, &px, &w, &h, &err) == HK_OK, "anim.gif: %s", err.msg);
    int red = px && w == 3 && h == 2;
    for (int i = 0; red && i < 6; i++)
        red = px[i * 3] == 255 && px[i * 3 + 1] == 0 && px[i * 3 + 2] == 0;
    CHECK(red, "anim.gif: first frame is not all red");
    free(px);

    /* A lossy JPEG of a known gradient: right size and close to the source. */
    CHECK(hk_image_load(fixture("images/small.jpg"), NULL, &px, &w, &h, &err) == HK_OK, "small.jpg: %s", err.msg);
    CHECK(w == 16 && h == 12, "small.jpg is %dx%d, expected 16x12", w, h);
    if (px && w == 16 && h == 12) {
        double total = 0;
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 16; x++) {
                total += abs(px[(y * 16 + x) * 3 + 0] - x * 16);
                total += abs(px[(y * 16 + x) * 3 + 1] - y * 20);
            }
        CHECK(total / (16 * 12 * 2) < 6.0, "small.jpg: mean error %.2f against its gradient", total / (16 * 12 * 2));
    }
    free(px);
}

static void expect_refusal(const char *path, enum hk_status want, const char *prefix)
{
    struct hk_error err;
    unsigned char *px = (unsigned char *)&err;
    int w = -1, h = -1;
    hk_error_clear(&err);
    enum hk_status st = hk_image_load(path, NULL, &px, &w, &h, &err);
    CHECK(st == want, "%s: got %s, expected %s (%s)", path, hk_status_name(st), hk_status_name(want), err.msg);
    CHECK(starts_with(err.msg, prefix), "%s: message '%s', expected it to start with '%s'", path, err.msg, prefix);
    CHECK(px == NULL && w == 0 && h == 0, "%s: outputs not cleared on failure", path);
}

static void test_decode_refusals(void)
{
    expect_refusal(fixture("images/empty.jpg"), HK_EFORMAT, "empty file");
    expect_refusal(fixture("images/notes.jpg"), HK_EFORMAT, "not an image");
    expect_refusal(fixture("images/truncated.jpg"), HK_EFORMAT, "corrupt or truncated JPEG: ");
    expect_refusal(fixture("images-ds/classB/dir.jpg"), HK_EIO, "is a directory");
    expect_refusal(fixture("images/missing.png"), HK_EIO, "cannot open: No such file or directory");

    struct hk_error err;
    unsigned char *px = NULL;
    int w = 0, h = 0;
    static const unsigned char text[] = "hello";
    CHECK(hk_image_decode(text, 0, NULL, &px, &w, &h, &err) == HK_EFORMAT && strcmp(err.msg, "empty file") == 0,
          "zero bytes: %s", err.msg);
    CHECK(hk_image_decode(text, 5, NULL, &px, &w, &h, &err) == HK_EFORMAT && starts_with(err.msg, "not an image"),
          "text bytes: %s", err.msg);

    /* A PNG whose header claims a bit depth of 7 (with a CRC that fits). */
    unsigned char png[33];
    craft_png_header(png, 4, 4);
    png[24] = 7;
    put_be32(png + 29, crc32_png(png + 12, 17));
    CHECK(hk_image_decode(png, sizeof png, NULL, &px, &w, &h, &err) == HK_EFORMAT &&
              starts_with(err.msg, "corrupt or truncated PNG: "),
          "bad PNG header: %s", err.msg);
    /* A good header whose CRC is off by one bit. */
    craft_png_header(png, 4, 4);
    png[32] ^= 1;
    CHECK(hk_image_decode(png, sizeof png, NULL, &px, &w, &h, &err) == HK_EFORMAT &&
              strcmp(err.msg, "corrupt PNG: bad CRC in chunk IHDR") == 0,
          "bad IHDR CRC: %s", err.msg);

    /* A JPEG whose first Huffman table claims 16 x 255 codes (stb_image 2.27 would overflow). */
    size_t n = 0;
    unsigned char *jpeg = read_file(fixture("images/small.jpg"), &n);
    size_t dht = 0;
    for (size_t i = 2; jpeg && i + 21 < n && !dht; i++)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC4)
            dht = i;
    CHECK(dht > 0, "small.jpg has no DHT segment");
    if (dht) {
        memset(jpeg + dht + 5, 0xFF, 16);
        enum hk_status st = hk_image_decode(jpeg, n, NULL, &px, &w, &h, &err);
        CHECK(st == HK_EFORMAT && contains(err.msg, "Huffman"), "oversized Huffman table: %s %s",
              hk_status_name(st), err.msg);
    }
    free(jpeg);

    /* The file size limit is checked before reading. */
    struct hk_image_limits lim = hk_image_limits_default();
    lim.max_file_bytes = 50;
    CHECK(hk_image_load(fixture("images/small.jpg"), &lim, &px, &w, &h, &err) == HK_ENOMEM &&
              starts_with(err.msg, "too large: 727 bytes (limit file_size=50)"),
          "file size limit: %s", err.msg);
}

static void test_too_large(void)
{
    struct hk_error err;
    unsigned char *px = NULL;
    int w = 0, h = 0;
    unsigned char png[33];

    craft_png_header(png, 100000, 100000);
    enum hk_status st = hk_image_decode(png, sizeof png, NULL, &px, &w, &h, &err);
    CHECK(st == HK_ENOMEM && starts_with(err.msg, "too large"), "100000x100000 PNG: %s %s", hk_status_name(st),
          err.msg);

    craft_png_header(png, 10000, 20);
    st = hk_image_decode(png, sizeof png, NULL, &px, &w, &h, &err);
    CHECK(st == HK_ENOMEM && strcmp(err.msg, "too large: 20x10000 pixels (limit width=8192)") == 0,
          "a PNG 10000 wide, 20 high (messages say HxW): %s %s", hk_status_name(st), err.msg);

    struct hk_image_limits lim = hk_image_limits_default();
    lim.max_pixels = 1000000;
    craft_png_header(png, 3000, 3000);
    st = hk_image_decode(png, sizeof png, &lim, &px, &w, &h, &err);
    CHECK(st == HK_ENOMEM && strcmp(err.msg, "too large: 3000x3000 pixels (limit pixels=1000000)") == 0,
          "pixel budget: %s %s", hk_status_name(st), err.msg);

    /* Within the limits, the header alone is a truncated file. */
    st = hk_image_decode(png, sizeof png, NULL, &px, &w, &h, &err);
    CHECK(st == HK_EFORMAT && starts_with(err.msg, "corrupt or truncated PNG: "), "header-only PNG: %s %s",
          hk_status_name(st), err.msg);

    lim = hk_image_limits_default();
    lim.max_width = 2;
    st = hk_image_load(fixture("images/rgb4x3.png"), &lim, &px, &w, &h, &err);
    CHECK(st == HK_ENOMEM && strcmp(err.msg, "too large: 3x4 pixels (limit width=2)") == 0, "max_width 2: %s %s",
          hk_status_name(st), err.msg);

    lim = hk_image_limits_default();
    lim.max_height = 2;
    st = hk_image_load(fixture("images/rgb4x3.png"), &lim, &px, &w, &h, &err);
    CHECK(st == HK_ENOMEM && strcmp(err.msg, "too large: 3x4 pixels (limit height=2)") == 0, "max_height 2: %s %s",
          hk_status_name(st), err.msg);
}

/* Fill w x h RGB with f(x, y, c). */
static void make_image(unsigned char *px, int w, int h, int (*f)(int, int, int))
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[(y * w + x) * 3 + c] = (unsigned char)f(x, y, c);
}

static int checker(int x, int y, int c)
{
    (void)c;
    return (x + y) % 2 ? 255 : 0;
}

static int gradient(int x, int y, int c)
{
    return (x * 30 + y * 7 + c * 50) % 256;
}

static int corners(int x, int y, int c)
{
    static const int v[4] = { 0, 100, 200, 50 };
    return v[y * 2 + x] + c;
}

static int pattern(int x, int y, int c)
{
    return (x * 7 + y * 13 + c * 29 + x * y) % 256;
}

static int equal_to(const unsigned char *got, const unsigned char *want, size_t n)
{
    return memcmp(got, want, n) == 0;
}

static void test_resize(void)
{
    unsigned char src[37 * 29 * 3], dst[64 * 40 * 3];

    memset(src, 77, sizeof src);
    hk_image_resize(dst, 8, 5, src, 37, 23);
    int constant = 1;
    for (int i = 0; i < 8 * 5 * 3; i++)
        constant &= dst[i] == 77;
    CHECK(constant, "downscaled constant image is not constant");
    hk_image_resize(dst, 17, 11, src, 5, 3);
    constant = 1;
    for (int i = 0; i < 17 * 11 * 3; i++)
        constant &= dst[i] == 77;
    CHECK(constant, "upscaled constant image is not constant");

    make_image(src, 37, 29, pattern);
    hk_image_resize(dst, 37, 29, src, 37, 29);
    CHECK(equal_to(dst, src, 37 * 29 * 3), "identity resize is not an exact copy");

    static const unsigned char want_checker[] = { 125, 125, 125, 130, 130, 130, 130, 130, 130, 125, 125, 125 };
    make_image(src, 4, 4, checker);
    hk_image_resize(dst, 2, 2, src, 4, 4);
    CHECK(equal_to(dst, want_checker, sizeof want_checker), "checkerboard 4x4 -> 2x2: %d %d %d %d", dst[0], dst[3],
          dst[6], dst[9]);

    static const unsigned char want_gradient[] = { 33,  83,  133, 97, 147, 187, 161, 211, 95,
                                                   47,  97,  147, 111, 161, 196, 175, 196, 74 };
    make_image(src, 7, 5, gradient);
    hk_image_resize(dst, 3, 2, src, 7, 5);
    CHECK(equal_to(dst, want_gradient, sizeof want_gradient), "gradient 7x5 -> 3x2 differs from Pillow");

    static const unsigned char want_up[] = { 0,   1,   2,   10,  11,  12,  50,  51, 52, 90, 91, 92,  100, 101, 102,
                                             100, 101, 102, 98,  99,  100, 88,  89, 90, 78, 79, 80,  75,  76,  77,
                                             200, 201, 202, 185, 186, 187, 125, 126, 127, 65, 66, 67, 50, 51, 52 };
    make_image(src, 2, 2, corners);
    hk_image_resize(dst, 5, 3, src, 2, 2);
    CHECK(equal_to(dst, want_up, sizeof want_up), "upscale 2x2 -> 5x3 differs from Pillow");

    /* Weighted sums of Pillow's output for the 37x29 pattern at several sizes. */
    static const struct {
        int w, h;
        uint64_t sum;
    } sums[] = { { 11, 13, 11813928u }, { 64, 40, 3775023565u }, { 37, 10, 78894182u }, { 5, 29, 12156028u } };
    make_image(src, 37, 29, pattern);
    for (size_t k = 0; k < sizeof sums / sizeof sums[0]; k++) {
        hk_image_resize(dst, sums[k].w, sums[k].h, src, 37, 29);
        uint64_t sum = 0;
        for (size_t i = 0; i < (size_t)sums[k].w * (size_t)sums[k].h * 3; i++)
            sum += (i + 1) * dst[i];
        CHECK(sum == sums[k].sum, "pattern 37x29 -> %dx%d: sum %llu, Pillow %llu", sums[k].w, sums[k].h,
              (unsigned long long)sum, (unsigned long long)sums[k].sum);
    }

    struct hk_error err;
    unsigned char small[2 * 2 * 3], direct[2 * 2 * 3];
    CHECK(hk_image_load_resized(fixture("images/rgb4x3.png"), NULL, small, (struct hk_size){.h = 2, .w = 2}, &err) == HK_OK,
          "load_resized: %s", err.msg);
    hk_image_resize(direct, 2, 2, rgb4x3, 4, 3);
    CHECK(equal_to(small, direct, sizeof small), "load_resized differs from load + resize");
}

/* Whether two loaded sets hold the same images, labels, paths and skips. */
static int same_dataset(const struct hk_dataset *a, const struct hk_dataset *b)
{
    if (a->count != b->count || a->skipped_count != b->skipped_count || a->class_count != b->class_count)
        return 0;
    if (a->count && memcmp(a->pixels, b->pixels, a->count * (size_t)a->width * (size_t)a->height * 3) != 0)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (a->labels[i] != b->labels[i] || strcmp(a->paths[i], b->paths[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->skipped_count; i++)
        if (strcmp(a->skipped[i].path, b->skipped[i].path) != 0 ||
            strcmp(a->skipped[i].reason, b->skipped[i].reason) != 0)
            return 0;
    return 1;
}

static void test_dataset(void)
{
    struct hk_error err;
    struct hk_dataset *ds[3] = { NULL, NULL, NULL };
    static const int threads[3] = { 1, 2, 0 };
    char root[1024];
    snprintf(root, sizeof root, "%s/images-ds", fixtures);

    for (int t = 0; t < 3; t++) {
        enum hk_status st = hk_dataset_load(root, (struct hk_size){.h = 6, .w = 8}, NULL, threads[t], &ds[t], &err);
        CHECK(st == HK_OK && ds[t], "load images-ds with %d threads: %s", threads[t], err.msg);
        if (st != HK_OK)
            goto done;
    }
    struct hk_dataset *d = ds[0];
    CHECK(d->width == 8 && d->height == 6, "stored size %dx%d, expected 8x6", d->width, d->height);
    CHECK(strcmp(d->root, root) == 0, "root '%s'", d->root);
    CHECK(d->count == 3, "%zu images loaded, expected 3", d->count);
    CHECK(d->class_count == 2 && strcmp(d->class_names[0], "classA") == 0 &&
              strcmp(d->class_names[1], "classB") == 0,
          "classes: %d", d->class_count);
    CHECK(d->class_count == 2 && d->class_counts[0] == 2 && d->class_counts[1] == 1, "class counts");
    if (d->count == 3) {
        CHECK(d->labels[0] == 0 && d->labels[1] == 0 && d->labels[2] == 1, "labels %d %d %d", d->labels[0],
              d->labels[1], d->labels[2]);
        CHECK(ends_with(d->paths[0], "images-ds/classA/a1.png") && ends_with(d->paths[1], "images-ds/classA/a2.jpg") &&
                  ends_with(d->paths[2], "images-ds/classB/b1.bmp"),
              "paths %s %s %s", d->paths[0], d->paths[1], d->paths[2]);
        unsigned char want[8 * 6 * 3];
        CHECK(hk_image_load_resized(d->paths[2], NULL, want, (struct hk_size){.h = 6, .w = 8}, &err) == HK_OK, "b1.bmp: %s", err.msg);
        CHECK(hk_dataset_image(d, 2) && equal_to(hk_dataset_image(d, 2), want, sizeof want),
              "image 2 differs from b1.bmp loaded alone");
        CHECK(hk_dataset_image(d, 3) == NULL, "image 3 of 3 is not NULL");
    }

    static const struct {
        const char *name, *reason;
    } skips[] = {
        { "classB/broken.jpg", "corrupt or truncated JPEG: " },
        { "classB/dir.jpg", "is a directory" },
        { "classB/empty.jpg", "empty file" },
        { "classB/notes.jpg", "not an image" },
    };
    CHECK(d->skipped_count == 4, "%zu skipped, expected 4", d->skipped_count);
    for (size_t i = 0; i < 4 && i < d->skipped_count; i++) {
        char want[1100];
        snprintf(want, sizeof want, "%s/%s", root, skips[i].name);
        const char *got = d->skipped[i].path ? d->skipped[i].path : "(none)";
        CHECK(strcmp(got, want) == 0, "skip %zu: path %s, expected %s", i, got, want);
        const char *reason = d->skipped[i].reason ? d->skipped[i].reason : "(none)";
        CHECK(starts_with(reason, skips[i].reason), "skip %zu (%s): reason '%s', expected '%s'", i, got, reason,
              skips[i].reason);
    }

    CHECK(same_dataset(ds[0], ds[1]), "1 and 2 threads load different sets");
    CHECK(same_dataset(ds[0], ds[2]), "1 and all threads load different sets");

    /* A trailing slash on the root does not double the slash in paths. */
    struct hk_dataset *slash = NULL;
    char root_slash[1100];
    snprintf(root_slash, sizeof root_slash, "%s/", root);
    CHECK(hk_dataset_load(root_slash, (struct hk_size){.h = 6, .w = 8}, NULL, 1, &slash, &err) == HK_OK, "load with slash: %s", err.msg);
    CHECK(slash && slash->count == 3 && strcmp(slash->paths[0], ds[0]->paths[0]) == 0, "paths with a trailing slash: %s",
          slash && slash->count ? slash->paths[0] : "(none)");
    hk_dataset_free(slash);

done:
    for (int t = 0; t < 3; t++)
        hk_dataset_free(ds[t]);
}

static void test_dataset_errors(void)
{
    struct hk_error err;
    struct hk_dataset *ds = (struct hk_dataset *)&err;
    char root[1024];

    snprintf(root, sizeof root, "%s/no-such-folder", fixtures);
    enum hk_status st = hk_dataset_load(root, (struct hk_size){.h = 8, .w = 8}, NULL, 1, &ds, &err);
    char want[2400];
    snprintf(want, sizeof want, "cannot open data folder '%s': No such file or directory", root);
    CHECK(st == HK_EIO && strcmp(err.msg, want) == 0, "missing root: %s %s", hk_status_name(st), err.msg);
    CHECK(ds == NULL, "missing root: output not cleared");

    snprintf(root, sizeof root, "%s/images", fixtures);
    st = hk_dataset_load(root, (struct hk_size){.h = 8, .w = 8}, NULL, 1, &ds, &err);
    snprintf(want, sizeof want, "data folder '%s' has no class sub-folders (expected %s/CLASS/IMAGE files)", root,
             root);
    CHECK(st == HK_EINVAL && strcmp(err.msg, want) == 0, "no classes: %s %s", hk_status_name(st), err.msg);

    snprintf(root, sizeof root, "%s/images/rgb4x3.png", fixtures);
    st = hk_dataset_load(root, (struct hk_size){.h = 8, .w = 8}, NULL, 1, &ds, &err);
    CHECK(st == HK_EIO && contains(err.msg, "Not a directory"), "file as root: %s %s", hk_status_name(st), err.msg);

    st = hk_dataset_load(fixture("images-ds"), (struct hk_size){.h = 8, .w = 0}, NULL, 1, &ds, &err);
    CHECK(st == HK_EINVAL, "width 0: %s", hk_status_name(st));

    hk_dataset_free(NULL);
}

/* A tree built at run time: symlink loop, dangling symlink, FIFO, an empty class, many images. */
static void test_dataset_links(void)
{
    struct hk_error err;
    char root[600], path[700];
    snprintf(root, sizeof root, "%s/ds", tmpdir);
    CHECK(mkdir(root, 0755) == 0, "mkdir %s: %s", root, strerror(errno));
    snprintf(path, sizeof path, "%s/cats", root);
    CHECK(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/dogs", root);
    CHECK(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/empty", root);
    CHECK(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));

    unsigned char px[40 * 30 * 3];
    for (int i = 0; i < 40; i++) {
        int w = 3 + i % 37, h = 2 + (i * 7) % 29;
        for (int k = 0; k < w * h * 3; k++)
            px[k] = (unsigned char)(k * (i + 3) + i);
        snprintf(path, sizeof path, "%s/%s/img%02d.png", root, i % 3 ? "dogs" : "cats", i);
        CHECK(hk_png_write(path, px, w, h, 3, &err) == HK_OK, "write %s: %s", path, err.msg);
    }
    snprintf(path, sizeof path, "%s/cats/loop.png", root);
    CHECK(symlink("loop.png", path) == 0, "symlink loop: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/cats/dangling.png", root);
    CHECK(symlink("nowhere.png", path) == 0, "symlink dangling: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/cats/fifo.png", root);
    CHECK(mkfifo(path, 0644) == 0, "mkfifo: %s", strerror(errno));

    struct hk_dataset *one = NULL, *four = NULL;
    CHECK(hk_dataset_load(root, (struct hk_size){.h = 16, .w = 16}, NULL, 1, &one, &err) == HK_OK, "load %s: %s", root, err.msg);
    CHECK(hk_dataset_load(root, (struct hk_size){.h = 16, .w = 16}, NULL, 4, &four, &err) == HK_OK, "load %s with 4 threads: %s", root, err.msg);
    if (one && four) {
        CHECK(one->count == 40, "%zu images, expected 40", one->count);
        CHECK(one->class_count == 3 && one->class_counts[0] == 14 && one->class_counts[1] == 26 &&
                  one->class_counts[2] == 0,
              "class counts");
        CHECK(one->skipped_count == 3, "%zu skipped, expected 3", one->skipped_count);
        if (one->skipped_count == 3) {
            CHECK(ends_with(one->skipped[0].path, "/cats/dangling.png") &&
                      strcmp(one->skipped[0].reason, "No such file or directory") == 0,
                  "dangling: %s: %s", one->skipped[0].path, one->skipped[0].reason);
            CHECK(ends_with(one->skipped[1].path, "/cats/fifo.png") &&
                      strcmp(one->skipped[1].reason, "not a regular file") == 0,
                  "fifo: %s: %s", one->skipped[1].path, one->skipped[1].reason);
            CHECK(ends_with(one->skipped[2].path, "/cats/loop.png") &&
                      strcmp(one->skipped[2].reason, "Too many levels of symbolic links") == 0,
                  "loop: %s: %s", one->skipped[2].path, one->skipped[2].reason);
        }
        CHECK(same_dataset(one, four), "1 and 4 threads load different sets");
    }
    hk_dataset_free(one);
    hk_dataset_free(four);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES (the tests/fixtures folder)\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/husky-test-image-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot make a temporary folder %s: %s\n", tmpdir, strerror(errno));
        return 2;
    }

    test_png_round_trip();
    test_png_write_errors();
    test_decode_formats();
    test_decode_refusals();
    test_too_large();
    test_resize();
    test_dataset();
    test_dataset_errors();
    test_dataset_links();

    remove_tree(tmpdir);
    return check_summary();
}
