/* test_png_read.c: PNG intake through libpng (core/data/png_read.c) gives the same RGB8 pixels as
 * the stb_image decoder it replaced, compiled here on its own (static, PNG only), over the PNG
 * fixtures and seed corpus and over PNGs generated with libpng in every colour type, bit depth,
 * with and without transparency, plain and interlaced; and a wrong CRC in any chunk (critical or
 * ancillary, before or after the pixels) is refused with the chunk's name.
 * usage: test_png_read SOURCE_ROOT */
#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image.h"
#include "rng.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#pragma GCC diagnostic ignored "-Wunused-function" /* stb's static API, most of it unused here */
#include "stb_image_quiet.h"

struct buffer {
    unsigned char *data;
    size_t size, cap;
};

static void append(png_structp png, png_bytep p, size_t n)
{
    struct buffer *b = png_get_io_ptr(png);
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            abort();
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

/* Decode bytes both ways; they must agree on success, size and every pixel. */
static void compare(const char *what, const unsigned char *bytes, size_t n)
{
    struct hk_error err;
    unsigned char *mine = NULL;
    int w = 0, h = 0, sw = 0, sh = 0, comp = 0;
    enum hk_status st = hk_image_decode(bytes, n, NULL, &mine, &w, &h, &err);
    unsigned char *theirs = stbi_load_from_memory(bytes, (int)n, &sw, &sh, &comp, 3);
    CHECK(st == HK_OK, "%s: libpng refused it: %s", what, err.msg);
    CHECK(theirs != NULL, "%s: stb_image refused it: %s", what, stbi_failure_reason());
    if (st == HK_OK && theirs) {
        CHECK(w == sw && h == sh, "%s: %dx%d, stb_image %dx%d", what, w, h, sw, sh);
        size_t differ = 0, first = 0;
        for (size_t i = 0; w == sw && h == sh && i < (size_t)w * h * 3; i++)
            if (mine[i] != theirs[i] && !differ++)
                first = i;
        CHECK(!differ, "%s: %zu bytes differ from stb_image's, the first at pixel %zu channel %zu (%d, not %d)", what,
              differ, first / 3, first % 3, mine[first], theirs[first]);
    }
    free(mine);
    stbi_image_free(theirs);
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = malloc(1 << 20);
    *n = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

/* The .png files of folder dir (only those named in `only` when it is not NULL). The fuzz corpus
 * also holds hostile files (a 2 GB chunk claim) that only husky's own checks keep from stb_image. */
static int compare_folder(const char *dir, const char *const *only)
{
    DIR *d = opendir(dir);
    int count = 0;
    CHECK(d != NULL, "cannot open %s", dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        int listed = !only;
        for (int i = 0; only && only[i]; i++)
            listed |= strcmp(e->d_name, only[i]) == 0;
        if (len < 4 || strcmp(e->d_name + len - 4, ".png") != 0 || !listed)
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        size_t n = 0;
        unsigned char *b = read_all(path, &n);
        CHECK(b != NULL, "cannot read %s", path);
        if (b) {
            compare(path, b, n);
            count++;
        }
        free(b);
    }
    if (d)
        closedir(d);
    return count;
}

/* Write a w x h PNG of colour type `color` and bit depth `depth` with random samples; trns adds
 * a tRNS chunk, text a tEXt chunk before the pixels, interlace Adam7. Returns the bytes. */
static struct buffer make_png(int w, int h, int color, int depth, int trns, int text, int interlace, uint64_t seed)
{
    struct buffer b = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int channels = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t stride = ((size_t)w * channels * depth + 7) / 8;
    unsigned char *pixels = malloc(stride * h);
    png_bytep *rows = malloc(h * sizeof *rows);
    struct hk_rng rng;
    hk_rng_seed(&rng, seed);
    for (size_t i = 0; i < stride * h; i++)
        pixels[i] = (unsigned char)hk_rng_u64(&rng);
    for (int y = 0; y < h; y++)
        rows[y] = pixels + y * stride;
    if (setjmp(png_jmpbuf(png)))
        abort();
    png_set_write_fn(png, &b, append, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color palette[256];
    png_byte alpha[256];
    for (int i = 0; i < 256; i++) {
        palette[i] = (png_color){(png_byte)hk_rng_u64(&rng), (png_byte)hk_rng_u64(&rng), (png_byte)hk_rng_u64(&rng)};
        alpha[i] = (png_byte)hk_rng_u64(&rng);
    }
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(png, info, palette, 1 << depth);
    if (trns) {
        int max = (1 << depth) - 1;
        png_color_16 key = {0, (png_uint_16)(pixels[0] & max), (png_uint_16)(pixels[1] & max),
                            (png_uint_16)(pixels[2] & max), (png_uint_16)(pixels[0] & max)};
        png_set_tRNS(png, info, alpha, color == PNG_COLOR_TYPE_PALETTE ? 1 << depth : 0, &key);
    }
    if (text) {
        png_text t = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Comment", .text = "made by test_png_read"};
        png_set_text(png, info, &t, 1);
    }
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(pixels);
    return b;
}

static void test_generated(void)
{
    static const struct {
        int color, depth;
    } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},       {PNG_COLOR_TYPE_GRAY, 4},
        {PNG_COLOR_TYPE_GRAY, 8},       {PNG_COLOR_TYPE_GRAY, 16},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_RGB, 8},       {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8},  {PNG_COLOR_TYPE_RGB_ALPHA, 16}, {PNG_COLOR_TYPE_PALETTE, 1},
        {PNG_COLOR_TYPE_PALETTE, 2},    {PNG_COLOR_TYPE_PALETTE, 4},    {PNG_COLOR_TYPE_PALETTE, 8},
    };
    int made = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int interlace = 0; interlace < 2; interlace++)
            for (int trns = 0; trns < 2; trns++) {
                int color = kinds[k].color, depth = kinds[k].depth;
                if (trns && (color & PNG_COLOR_MASK_ALPHA))
                    continue; /* tRNS is for colour types without alpha */
                struct buffer b = make_png(13, 7, color, depth, trns, 0, interlace, 100 + (uint64_t)made);
                char what[128];
                snprintf(what, sizeof what, "colour type %d, %d bits%s%s", color, depth, trns ? ", tRNS" : "",
                         interlace ? ", interlaced" : "");
                compare(what, b.data, b.size);
                free(b.data);
                made++;
            }
    CHECK(made == 52, "%d generated PNGs, expected 52", made);
    /* sizes whose Adam7 passes are partly empty */
    for (int w = 1; w <= 9; w += 4)
        for (int h = 1; h <= 9; h += 4) {
            struct buffer b = make_png(w, h, PNG_COLOR_TYPE_RGB, 8, 0, 0, 1, (uint64_t)(w * 16 + h));
            char what[64];
            snprintf(what, sizeof what, "interlaced %dx%d", w, h);
            compare(what, b.data, b.size);
            free(b.data);
        }
}

/* A wrong CRC in each chunk of a palette PNG with tRNS and tEXt is refused, naming the chunk. */
static void test_bad_crc(void)
{
    struct buffer b = make_png(6, 5, PNG_COLOR_TYPE_PALETTE, 8, 1, 1, 0, 7);
    const char *names[] = {"IHDR", "PLTE", "tRNS", "tEXt", "IDAT", "IEND"};
    int seen[6] = {0};
    for (size_t at = 8; at + 12 <= b.size;) {
        size_t len = (size_t)b.data[at] << 24 | (size_t)b.data[at + 1] << 16 | (size_t)b.data[at + 2] << 8 |
                     b.data[at + 3];
        char type[5];
        memcpy(type, b.data + at + 4, 4);
        type[4] = '\0';
        unsigned char *bad = malloc(b.size);
        memcpy(bad, b.data, b.size);
        bad[at + 8 + len + 3] ^= 0x10; /* the CRC's last byte */
        struct hk_error err;
        unsigned char *px = NULL;
        int w, h;
        char want[64];
        snprintf(want, sizeof want, "corrupt PNG: bad CRC in chunk %s", type);
        enum hk_status st = hk_image_decode(bad, b.size, NULL, &px, &w, &h, &err);
        CHECK(st == HK_EFORMAT && strcmp(err.msg, want) == 0, "bad CRC in %s: %s", type,
              st == HK_OK ? "accepted" : err.msg);
        CHECK(px == NULL, "bad CRC in %s: pixels returned", type);
        for (int i = 0; i < 6; i++)
            seen[i] |= strcmp(type, names[i]) == 0;
        free(px);
        free(bad);
        at += 12 + len;
    }
    for (int i = 0; i < 6; i++)
        CHECK(seen[i], "the generated PNG has no %s chunk", names[i]);
    /* and the file itself is fine */
    compare("palette with tRNS and tEXt", b.data, b.size);
    free(b.data);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
        return 2;
    }
    static const char *const good_seeds[] = {"rgba.png", "palette.png", "grey.png", "grey16.png", "rgb3x2.png",
                                             "rgb4x3.png", NULL};
    const char *dirs[] = {"tests/fixtures/images", "tests/fixtures/stripes/train/horizontal",
                          "tests/fixtures/stripes/val/vertical", "tests/fuzz/corpus/image"};
    int files = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], dirs[i]);
        files += compare_folder(path, i == 3 ? good_seeds : NULL);
    }
    CHECK(files == 39, "%d PNG files compared, expected 39", files);
    test_generated();
    test_bad_crc();
    return check_summary();
}
