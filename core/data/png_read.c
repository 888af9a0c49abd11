/* png_read.c: PNG intake with libpng. Every chunk's CRC and the zlib stream's checksum are
 * verified (stb_image ignores CRCs, so a damaged file decoded as if it were whole), the size
 * limits are checked as soon as IHDR is read, before any pixel is decoded, and the pixels come
 * out as stb_image gave them, so that good files train the same: RGB8, alpha dropped (not
 * blended), grey replicated, palettes and 1/2/4-bit grey expanded, 16-bit samples cut to their
 * high byte. libpng reads the chunks as a stream, so a chunk that claims more bytes than the file
 * holds costs nothing before the read fails. */
#include "png_read.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most libpng may allocate for one ancillary chunk (text, ICC profile), decompressed. */
#define PNG_CHUNK_MAX ((png_alloc_size_t)8 * 1024 * 1024)

struct png_source {
    const unsigned char *bytes;
    size_t n, at;
    png_infop info;                   /* filled by libpng as it reads */
    const struct hk_image_limits *lim;
    int size_checked;                 /* the IHDR's size was checked (size_err set if too large) */
    struct hk_error size_err;
    char msg[256];                    /* libpng's complaint */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_source *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* the core never prints; what matters is an error */
    (void)msg;
}

/* libpng's input. Once it has read IHDR (checked its CRC and stored its width), the size is
 * checked before the next byte is read: a file that claims too many pixels is refused as too
 * large, however the rest of it looks. */
static void read_bytes(png_structp png, png_bytep out, size_t len)
{
    struct png_source *s = png_get_io_ptr(png);
    if (!s->size_checked && png_get_image_width(png, s->info)) {
        s->size_checked = 1;
        if (hk_image_check_size("PNG", (int)png_get_image_width(png, s->info),
                                (int)png_get_image_height(png, s->info), s->lim, &s->size_err) != HK_OK)
            png_error(png, "too large");
    }
    if (len > s->n - s->at)
        png_error(png, "a chunk runs past the end of the file");
    memcpy(out, s->bytes + s->at, len);
    s->at += len;
}

/* libpng's message as a reason: "IHDR: CRC error" becomes "bad CRC in chunk IHDR". */
static enum hk_status failure(const struct png_source *s, struct hk_error *err)
{
    if (s->size_err.status != HK_OK) {
        *err = s->size_err;
        return err->status;
    }
    const char *crc = strstr(s->msg, ": CRC error");
    if (crc && crc - s->msg == 4 && crc[strlen(": CRC error")] == '\0')
        return hk_fail(err, HK_EFORMAT, "corrupt PNG: bad CRC in chunk %.4s", s->msg);
    if (strstr(s->msg, "memory"))
        return hk_fail(err, HK_ENOMEM, "out of memory decoding PNG (%s)", s->msg);
    return hk_fail(err, HK_EFORMAT, "corrupt or truncated PNG: %s", s->msg[0] ? s->msg : "unreadable data");
}

enum hk_status hk_png_decode(const unsigned char *bytes, size_t n, const struct hk_image_limits *lim,
                             unsigned char **rgb, int *w, int *h, struct hk_error *err)
{
    struct png_source src = {.bytes = bytes, .n = n, .lim = lim};
    hk_error_clear(&src.size_err);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return hk_fail(err, HK_ENOMEM, "out of memory decoding PNG");
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return failure(&src, err);
    }
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT); /* any chunk, critical or not */
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);    /* husky's own checks below */
    png_set_chunk_malloc_max(png, PNG_CHUNK_MAX);
    src.info = info;
    png_set_read_fn(png, &src, read_bytes);
    png_read_info(png, info);
    png_uint_32 pw = png_get_image_width(png, info), ph = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_strip_16(png);
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = (size_t)pw * 3;
    if (png_get_rowbytes(png, info) != stride)
        png_error(png, "unexpected row size after conversion to RGB");
    pixels = malloc(stride * ph);
    rows = malloc(ph * sizeof *rows);
    if (!pixels || !rows)
        png_error(png, "out of memory for the pixels");
    for (png_uint_32 y = 0; y < ph; y++)
        rows[y] = pixels + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* the chunks after the pixels, IEND included, and their CRCs */
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *rgb = pixels;
    *w = (int)pw;
    *h = (int)ph;
    return HK_OK;
}
