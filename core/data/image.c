/* image.c: image intake (size checks, magic bytes, the structure checks of image_check.c, stb_image
 * decoding from memory for JPEG, BMP and GIF; PNG goes to libpng in png_read.c, which checks
 * CRCs), antialiased bilinear resizing (Pillow's BILINEAR with reducing, bit for bit), and atomic
 * PNG output (libpng).
 * This is the only file that compiles stb_image's implementation. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <png.h>

#include "atomic_file.h"
#include "image_check.h"
#include "png_read.h"
#include "sha256.h"

/* stb_image leaves parts of its buffers unwritten on some malformed files and then reads them
 * (a progressive JPEG component no scan reached, PNG and BMP rows; valgrind over the fuzz
 * corpus of tests/fuzz/fuzz_image): its memory is handed out zeroed, so such a file decodes the
 * same way every time instead of showing stale heap bytes. */
static void *stb_realloc_zeroed(void *p, size_t old_size, size_t new_size)
{
    unsigned char *q = realloc(p, new_size);
    if (q && new_size > old_size)
        memset(q + old_size, 0, new_size - old_size);
    return q;
}
#define STBI_MALLOC(size) calloc(1, (size))
#define STBI_REALLOC_SIZED(p, old_size, new_size) stb_realloc_zeroed((p), (old_size), (new_size))
#define STBI_FREE(p) free(p)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_MAX_DIMENSIONS HK_IMAGE_MAX_SIDE

#include "stb_image_quiet.h"

/* Fixed-point fraction bits of the resampling weights (Pillow: 32 - 8 - 2). */
#define RESAMPLE_BITS 22

enum image_format { FMT_NONE, FMT_JPEG, FMT_PNG, FMT_BMP, FMT_GIF };

static const char *const format_names[] = { "image", "JPEG", "PNG", "BMP", "GIF" };

static enum image_format sniff_format(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return FMT_JPEG;
    if (n >= 4 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G')
        return FMT_PNG;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return FMT_BMP;
    if (n >= 4 && memcmp(b, "GIF8", 4) == 0)
        return FMT_GIF;
    return FMT_NONE;
}

/* stbi_info for the one format the magic bytes chose. stbi_info_from_memory would try every
 * format in turn and leave the last one's complaint ("unknown image type") as the reason; the
 * per-format function (stb's own, compiled in this file) keeps the real one ("too large"). */
static int format_info(enum image_format fmt, const unsigned char *bytes, int n, int *w, int *h, int *comp)
{
    stbi__context s;
    stbi__start_mem(&s, bytes, n);
    switch (fmt) {
    case FMT_JPEG: return stbi__jpeg_info(&s, w, h, comp);
    case FMT_BMP: return stbi__bmp_info(&s, w, h, comp);
    case FMT_GIF: return stbi__gif_info(&s, w, h, comp);
    case FMT_PNG: /* png_read.c */
    case FMT_NONE: break;
    }
    return stbi__err("unknown image type", "Image not of any known type, or corrupt");
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

/* Turn stb_image's failure reason into a status and a message. */
static enum hk_status stb_failure(enum image_format fmt, const struct hk_image_limits *lim, struct hk_error *err)
{
    const char *why = stbi_failure_reason();
    if (!why || !*why)
        why = "unreadable data";
    if (strcmp(why, "too large") == 0)
        return hk_fail(err, HK_ENOMEM, "too large: over %d pixels on a side or over the decoder's budget (limit %dx%d)",
                       STBI_MAX_DIMENSIONS, min_int(lim->max_height, STBI_MAX_DIMENSIONS),
                       min_int(lim->max_width, STBI_MAX_DIMENSIONS));
    if (strcmp(why, "outofmem") == 0)
        return hk_fail(err, HK_ENOMEM, "out of memory decoding %s", format_names[fmt]);
    return hk_fail(err, HK_EFORMAT, "corrupt or truncated %s: %s", format_names[fmt], why);
}

enum hk_status hk_image_decode(const unsigned char *bytes, size_t n, const struct hk_image_limits *lim,
                               unsigned char **rgb, int *w, int *h, struct hk_error *err)
{
    struct hk_image_limits defaults = hk_image_limits_default();
    if (!rgb || !w || !h || (!bytes && n))
        return hk_fail(err, HK_EINVAL, "image decode: missing buffer or output");
    *rgb = NULL;
    *w = *h = 0;
    if (!lim)
        lim = &defaults;
    if (n == 0)
        return hk_fail(err, HK_EFORMAT, "empty file");
    if (n > lim->max_file_bytes || n > INT_MAX)
        return hk_fail(err, HK_ENOMEM, "too large: %zu bytes (limit file_size=%zu)", n,
                       lim->max_file_bytes < INT_MAX ? lim->max_file_bytes : (size_t)INT_MAX);

    enum image_format fmt = sniff_format(bytes, n);
    if (fmt == FMT_NONE)
        return hk_fail(err, HK_EFORMAT, "not an image (expected JPEG, PNG, BMP or GIF)");

    if (fmt == FMT_PNG)
        return hk_png_decode(bytes, n, lim, rgb, w, h, err);

    const char *tables = fmt == FMT_JPEG ? hk_jpeg_tables_problem(bytes, n) : NULL;
    if (tables)
        return hk_fail(err, HK_EFORMAT, "corrupt JPEG: %s", tables);

    int iw = 0, ih = 0, comp = 0;
    if (!format_info(fmt, bytes, (int)n, &iw, &ih, &comp))
        return stb_failure(fmt, lim, err);
    if (fmt == FMT_BMP && ih < 0 && ih > INT_MIN)
        ih = -ih; /* a top-down BMP: stb_image's info gives the header's negative height */
    enum hk_status st = hk_image_check_size(format_names[fmt], iw, ih, lim, err);
    if (st != HK_OK)
        return st;

    if (fmt == FMT_BMP && !hk_bmp_complete(bytes, n))
        return hk_fail(err, HK_EFORMAT, "corrupt or truncated BMP: the file is shorter than its pixel rows");
    const char *palette = fmt == FMT_BMP ? hk_bmp_palette_problem(bytes, n) : NULL;
    if (palette)
        return hk_fail(err, HK_EFORMAT, "%s", palette);
    if (fmt == FMT_GIF && !hk_gif_first_frame_complete(bytes, n))
        return hk_fail(err, HK_EFORMAT, "corrupt or truncated GIF: the first picture's data runs past the end");

    int dw = 0, dh = 0;
    unsigned char *pixels = stbi_load_from_memory(bytes, (int)n, &dw, &dh, &comp, 3);
    if (!pixels)
        return stb_failure(fmt, lim, err);
    if (dw != iw || dh != ih) {
        stbi_image_free(pixels);
        return hk_fail(err, HK_EFORMAT, "corrupt %s: header says %dx%d, data %dx%d", format_names[fmt], ih, iw, dh,
                       dw);
    }
    *rgb = pixels;
    *w = dw;
    *h = dh;
    return HK_OK;
}

/* Read a whole regular file, checking its size against lim first. On success *bytes is owned. */
static enum hk_status read_file(const char *path, const struct hk_image_limits *lim, unsigned char **bytes,
                                size_t *size_out, struct hk_error *err)
{
    char ebuf[128];
    /* O_NONBLOCK so that a FIFO cannot block the open; fstat then rejects it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return hk_fail(err, HK_EIO, "cannot open: %s", hk_os_error(errno, ebuf, sizeof ebuf));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hk_fail(err, HK_EIO, "cannot stat: %s", hk_os_error(e, ebuf, sizeof ebuf));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return hk_fail(err, HK_EIO, "is a directory");
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hk_fail(err, HK_EIO, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return hk_fail(err, HK_EFORMAT, "empty file");
    }
    if ((uintmax_t)st.st_size > lim->max_file_bytes || (uintmax_t)st.st_size > INT_MAX) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "too large: %jd bytes (limit file_size=%zu)", (intmax_t)st.st_size,
                       lim->max_file_bytes < INT_MAX ? lim->max_file_bytes : (size_t)INT_MAX);
    }

    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(size);
    if (!buf) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "out of memory reading %zu bytes", size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return hk_fail(err, HK_EIO, "cannot read: %s", hk_os_error(e, ebuf, sizeof ebuf));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *bytes = buf;
    *size_out = got;
    return HK_OK;
}

enum hk_status hk_image_load(const char *path, const struct hk_image_limits *lim, unsigned char **rgb, int *w,
                             int *h, struct hk_error *err)
{
    struct hk_image_limits defaults = hk_image_limits_default();
    if (!path || !rgb || !w || !h)
        return hk_fail(err, HK_EINVAL, "image load: missing path or output");
    *rgb = NULL;
    *w = *h = 0;
    if (!lim)
        lim = &defaults;
    unsigned char *bytes = NULL;
    size_t size = 0;
    enum hk_status st = read_file(path, lim, &bytes, &size, err);
    if (st != HK_OK)
        return st;
    st = hk_image_decode(bytes, size, lim, rgb, w, h, err);
    free(bytes);
    return st;
}

/* The resampling window of output index i on an axis of in -> out samples: the first input
 * index, the number of taps and what the weights need. Follows Pillow's precompute_coeffs. */
struct window {
    int lo, n;
    double center, ss, total;
};

static double triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void window_init(struct window *win, int in, int out, int i)
{
    double scale = (double)in / out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filterscale;
    double center = (i + 0.5) * scale;
    int lo = (int)(center - support + 0.5);
    int hi = (int)(center + support + 0.5);
    if (lo < 0)
        lo = 0;
    if (hi > in)
        hi = in;
    win->lo = lo;
    win->n = hi - lo;
    win->center = center;
    win->ss = 1.0 / filterscale;
    win->total = 0.0;
    for (int x = 0; x < win->n; x++)
        win->total += triangle((x + lo - center + 0.5) * win->ss);
}

/* The fixed-point weight of tap x of win. */
static int32_t window_weight(const struct window *win, int x)
{
    double w = triangle((x + win->lo - win->center + 0.5) * win->ss);
    if (win->total != 0.0)
        w /= win->total;
    return (int32_t)(w < 0 ? -0.5 + w * (1 << RESAMPLE_BITS) : 0.5 + w * (1 << RESAMPLE_BITS));
}

/* Taps per output index reserved in the weight tables of an axis of in -> out samples. */
static size_t window_capacity(int in, int out)
{
    double scale = (double)in / out;
    return (size_t)ceil(scale < 1.0 ? 1.0 : scale) * 2 + 1;
}

static unsigned char clip8(int32_t v)
{
    if (v >= (int32_t)(1 << RESAMPLE_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (unsigned char)(v >> RESAMPLE_BITS);
}

/* Precomputed weights of one axis. */
struct axis {
    size_t cap;
    int *lo, *n;
    int32_t *k;
};

static void axis_fill(struct axis *a, int in, int out)
{
    for (int i = 0; i < out; i++) {
        struct window win;
        window_init(&win, in, out, i);
        a->lo[i] = win.lo;
        a->n[i] = win.n;
        int32_t *k = a->k + (size_t)i * a->cap;
        for (int x = 0; x < win.n; x++)
            k[x] = window_weight(&win, x);
    }
}

/* Horizontal pass: rows [y0, y0 + rows) of src (sw wide) into dst (dw wide, rows high). */
static void resample_rows(unsigned char *dst, int dw, const unsigned char *src, int sw, int y0, int rows,
                          const struct axis *a)
{
    for (int y = 0; y < rows; y++) {
        const unsigned char *s = src + (size_t)(y0 + y) * (size_t)sw * 3;
        unsigned char *d = dst + (size_t)y * (size_t)dw * 3;
        for (int x = 0; x < dw; x++) {
            const int32_t *k = a->k + (size_t)x * a->cap;
            const unsigned char *p = s + (size_t)a->lo[x] * 3;
            int32_t s0 = 1 << (RESAMPLE_BITS - 1), s1 = s0, s2 = s0;
            for (int t = 0; t < a->n[x]; t++) {
                s0 += p[t * 3 + 0] * k[t];
                s1 += p[t * 3 + 1] * k[t];
                s2 += p[t * 3 + 2] * k[t];
            }
            d[x * 3 + 0] = clip8(s0);
            d[x * 3 + 1] = clip8(s1);
            d[x * 3 + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src (w wide, rows starting at input row y0) into dst (w wide, dh high). */
static void resample_cols(unsigned char *dst, int dh, const unsigned char *src, int w, int y0, const struct axis *a)
{
    size_t stride = (size_t)w * 3;
    for (int y = 0; y < dh; y++) {
        const int32_t *k = a->k + (size_t)y * a->cap;
        const unsigned char *s = src + (size_t)(a->lo[y] - y0) * stride;
        unsigned char *d = dst + (size_t)y * stride;
        for (size_t c = 0; c < stride; c++) {
            int32_t sum = 1 << (RESAMPLE_BITS - 1);
            for (int t = 0; t < a->n[y]; t++)
                sum += s[(size_t)t * stride + c] * k[t];
            d[c] = clip8(sum);
        }
    }
}

/* Allocate the weight tables of an axis inside one block; returns the bytes it needs when base is NULL. */
static size_t axis_layout(struct axis *a, unsigned char *base, int in, int out)
{
    size_t cap = window_capacity(in, out);
    size_t nk = (size_t)out * cap;
    if (nk / cap != (size_t)out || nk > SIZE_MAX / 8)
        return SIZE_MAX;
    size_t bytes = nk * sizeof(int32_t) + (size_t)out * 2 * sizeof(int);
    if (base) {
        a->cap = cap;
        a->k = (int32_t *)(void *)base;
        a->lo = (int *)(void *)(base + nk * sizeof(int32_t));
        a->n = a->lo + out;
    }
    return bytes;
}

/* The separable resize with precomputed weights; 0 when memory could not be allocated. */
static int resize_fast(unsigned char *dst, int dw, int dh, const unsigned char *src, int sw, int sh)
{
    struct axis ax = { 0 }, ay = { 0 };
    int need_h = dw != sw, need_v = dh != sh;
    size_t bx = axis_layout(&ax, NULL, sw, dw), by = axis_layout(&ay, NULL, sh, dh);
    if (bx == SIZE_MAX || by == SIZE_MAX || bx > SIZE_MAX / 2 - by)
        return 0;
    bx = (bx + 15) & ~(size_t)15;
    by = (by + 15) & ~(size_t)15;
    unsigned char *block = malloc(bx + by);
    if (!block)
        return 0;
    axis_layout(&ax, block, sw, dw);
    axis_layout(&ay, block + bx, sh, dh);
    axis_fill(&ax, sw, dw);
    axis_fill(&ay, sh, dh);

    if (need_h && need_v) {
        int first = ay.lo[0], last = ay.lo[dh - 1] + ay.n[dh - 1];
        size_t rows = (size_t)(last - first);
        unsigned char *tmp = NULL;
        if (rows && (size_t)dw * 3 <= SIZE_MAX / rows)
            tmp = malloc((size_t)dw * 3 * rows);
        if (!tmp) {
            free(block);
            return 0;
        }
        resample_rows(tmp, dw, src, sw, first, (int)rows, &ax);
        resample_cols(dst, dh, tmp, dw, first, &ay);
        free(tmp);
    } else if (need_h) {
        resample_rows(dst, dw, src, sw, 0, sh, &ax);
    } else {
        resample_cols(dst, dh, src, sw, 0, &ay);
    }
    free(block);
    return 1;
}

/* One horizontally resampled pixel of row y, computing the weights on the spot. */
static void resample_pixel(unsigned char out[3], const unsigned char *src, int sw, int dw, int y, int x)
{
    const unsigned char *s = src + (size_t)y * (size_t)sw * 3;
    if (dw == sw) {
        memcpy(out, s + (size_t)x * 3, 3);
        return;
    }
    struct window win;
    window_init(&win, sw, dw, x);
    int32_t s0 = 1 << (RESAMPLE_BITS - 1), s1 = s0, s2 = s0;
    for (int t = 0; t < win.n; t++) {
        int32_t k = window_weight(&win, t);
        const unsigned char *p = s + (size_t)(win.lo + t) * 3;
        s0 += p[0] * k;
        s1 += p[1] * k;
        s2 += p[2] * k;
    }
    out[0] = clip8(s0);
    out[1] = clip8(s1);
    out[2] = clip8(s2);
}

/* The same resize without any allocation (weights recomputed per pixel), for when memory is short. */
static void resize_slow(unsigned char *dst, int dw, int dh, const unsigned char *src, int sw, int sh)
{
    for (int y = 0; y < dh; y++) {
        for (int x = 0; x < dw; x++) {
            unsigned char *d = dst + ((size_t)y * (size_t)dw + (size_t)x) * 3;
            if (dh == sh) {
                resample_pixel(d, src, sw, dw, y, x);
                continue;
            }
            struct window win;
            window_init(&win, sh, dh, y);
            int32_t s0 = 1 << (RESAMPLE_BITS - 1), s1 = s0, s2 = s0;
            for (int t = 0; t < win.n; t++) {
                unsigned char p[3];
                int32_t k = window_weight(&win, t);
                resample_pixel(p, src, sw, dw, win.lo + t, x);
                s0 += p[0] * k;
                s1 += p[1] * k;
                s2 += p[2] * k;
            }
            d[0] = clip8(s0);
            d[1] = clip8(s1);
            d[2] = clip8(s2);
        }
    }
}

void hk_image_resize(unsigned char *dst, int dw, int dh, const unsigned char *src, int sw, int sh)
{
    if (!dst || !src || dw <= 0 || dh <= 0 || sw <= 0 || sh <= 0)
        return;
    if (dw == sw && dh == sh) {
        memcpy(dst, src, (size_t)sw * (size_t)sh * 3);
        return;
    }
    if (!resize_fast(dst, dw, dh, src, sw, sh))
        resize_slow(dst, dw, dh, src, sw, sh);
}

enum hk_status hk_image_load_resized_digest(const char *path, const struct hk_image_limits *lim, unsigned char *dst,
                                            struct hk_size size, unsigned char digest[HK_SHA256_BYTES], int *hashed,
                                            struct hk_error *err)
{
    int w = size.w, h = size.h;
    struct hk_image_limits defaults = hk_image_limits_default();
    if (hashed)
        *hashed = 0;
    if (!path || !dst || w <= 0 || h <= 0)
        return hk_fail(err, HK_EINVAL, "image load: bad output size %dx%d", h, w);
    if (!lim)
        lim = &defaults;
    unsigned char *bytes = NULL, *rgb = NULL;
    size_t nbytes = 0;
    enum hk_status st = read_file(path, lim, &bytes, &nbytes, err);
    if (st != HK_OK)
        return st;
    if (digest && hashed) {
        hk_sha256(bytes, nbytes, digest);
        *hashed = 1;
    }
    int sw = 0, sh = 0;
    st = hk_image_decode(bytes, nbytes, lim, &rgb, &sw, &sh, err);
    free(bytes);
    if (st != HK_OK)
        return st;
    hk_image_resize(dst, w, h, rgb, sw, sh);
    stbi_image_free(rgb);
    return HK_OK;
}

enum hk_status hk_image_load_resized(const char *path, const struct hk_image_limits *lim, unsigned char *dst,
                                     struct hk_size size, struct hk_error *err)
{
    return hk_image_load_resized_digest(path, lim, dst, size, NULL, NULL, err);
}

/* What libpng reported, kept for the message; libpng must not print, so warnings are dropped. */
struct png_report {
    char msg[200];
    int os_errno; /* errno when libpng failed, for write errors */
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_report *rep = png_get_error_ptr(png);
    rep->os_errno = errno;
    snprintf(rep->msg, sizeof rep->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Encode pixels to fp; 0 on failure, with libpng's message in rep. */
static int png_encode(FILE *fp, const unsigned char *pixels, int w, int h, int channels, struct png_report *rep)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, rep, png_on_error, png_on_warning);
    if (!png) {
        snprintf(rep->msg, sizeof rep->msg, "out of memory");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(rep->msg, sizeof rep->msg, "out of memory");
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    int type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    for (int y = 0; y < h; y++)
        png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}

/* The pixels hk_png_write encodes. */
struct png_job {
    const unsigned char *pixels;
    int w, h, channels;
};

/* hk_file_writer for a PNG: libpng's message in why, or the stream's errno on a write error. */
static int png_writer(FILE *fp, void *user, char *why, size_t n)
{
    const struct png_job *job = user;
    struct png_report rep = { "", 0 };
    if (png_encode(fp, job->pixels, job->w, job->h, job->channels, &rep))
        return 1;
    if (ferror(fp) && rep.os_errno)
        errno = rep.os_errno;
    else
        snprintf(why, n, "%s", rep.msg);
    return 0;
}

enum hk_status hk_png_write(const char *path, const unsigned char *pixels, int w, int h, int channels,
                            struct hk_error *err)
{
    if (!path || !*path || !pixels)
        return hk_fail(err, HK_EINVAL, "png write: missing path or pixels");
    if (w <= 0 || h <= 0 || w > 1000000 || h > 1000000)
        return hk_fail(err, HK_EINVAL, "png write '%s': bad size %dx%d", path, h, w);
    if (channels != 1 && channels != 3 && channels != 4)
        return hk_fail(err, HK_EINVAL, "png write '%s': %d channels (expected 1, 3 or 4)", path, channels);
    struct png_job job = { pixels, w, h, channels };
    return hk_file_write_atomic(path, png_writer, &job, err);
}
