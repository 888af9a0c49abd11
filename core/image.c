/* image.c: image intake (size checks, magic bytes, stb_image decoding from memory), antialiased
 * bilinear resizing (Pillow's BILINEAR with reducing, bit for bit), and atomic PNG output (libpng).
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
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_MAX_DIMENSIONS HK_IMAGE_MAX_SIDE

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb_image.h>
#pragma GCC diagnostic pop

/* Fixed-point fraction bits of the resampling weights (Pillow: 32 - 8 - 2). */
#define RESAMPLE_BITS 22

enum image_format { FMT_NONE, FMT_JPEG, FMT_PNG, FMT_BMP, FMT_GIF };

static const char *const format_names[] = { "image", "JPEG", "PNG", "BMP", "GIF" };

struct hk_image_limits hk_image_limits_default(void)
{
    struct hk_image_limits lim;
    lim.max_file_bytes = (size_t)10 * 1024 * 1024;
    lim.max_width = 8192;
    lim.max_height = 8192;
    lim.max_pixels = (size_t)40 * 1000 * 1000;
    return lim;
}

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
    case FMT_PNG: return stbi__png_info(&s, w, h, comp);
    case FMT_BMP: return stbi__bmp_info(&s, w, h, comp);
    case FMT_GIF: return stbi__gif_info(&s, w, h, comp);
    case FMT_NONE: break;
    }
    return stbi__err("unknown image type", "Image not of any known type, or corrupt");
}

/* What the JPEG walk below has seen so far: the Huffman tables (DC 0, AC 1) and quantization
 * tables defined, whether the frame is progressive, and the frame's components (id, table). */
struct jpeg_walk {
    int huffman[2][4], quant[4], progressive, ncomp;
    unsigned char comp_id[4], comp_quant[4];
};

/* Byte i of the file; stb_image reads bytes past the end as 0. */
static unsigned char byte_at(const unsigned char *b, size_t n, size_t i)
{
    return i < n ? b[i] : 0;
}

/* What is wrong with the scan whose SOS segment starts at b[at] (after the length field, len
 * bytes), or NULL: a table it uses that no segment defined before it, as stb_image decodes the
 * scan. Huffman tables: a baseline scan uses each component's DC and AC table; a progressive one
 * its DC tables when it is a first DC scan (Ss 0, Ah 0), none when it refines DC (the bits are
 * read raw), its AC tables when Ss > 0. Quantization: each component's table. */
static const char *jpeg_scan_problem(const unsigned char *b, size_t n, size_t at, size_t len,
                                     const struct jpeg_walk *jw)
{
    size_t ns = byte_at(b, n, at);
    if (ns < 1 || ns > 4 || len != 1 + 2 * ns + 3)
        return NULL; /* stb_image refuses the scan header */
    int ss = byte_at(b, n, at + 1 + 2 * ns), ah = byte_at(b, n, at + 3 + 2 * ns) >> 4;
    int uses_dc = !jw->progressive || (ss == 0 && ah == 0), uses_ac = !jw->progressive || ss > 0;
    for (size_t c = 0; c < ns; c++) {
        int id = byte_at(b, n, at + 1 + 2 * c), tables = byte_at(b, n, at + 2 + 2 * c);
        int dc = tables >> 4, ac = tables & 15;
        if (dc > 3 || ac > 3)
            return NULL; /* stb_image: bad huffman table index */
        if ((uses_dc && !jw->huffman[0][dc]) || (uses_ac && !jw->huffman[1][ac]))
            return "a scan uses a Huffman table that was not defined before it";
        for (int k = 0; k < jw->ncomp; k++)
            if (jw->comp_id[k] == id && jw->comp_quant[k] <= 3 && !jw->quant[jw->comp_quant[k]])
                return "a scan uses a quantization table that was not defined before it";
    }
    return NULL;
}

/* Note the tables a DHT (Huffman) or DQT (quantization) segment at b[at], len bytes after the
 * length field, defines, the way stb_image reads them (a run of tables until len is used up);
 * what is wrong with one, or NULL. */
static const char *jpeg_note_tables(const unsigned char *b, size_t n, int marker, size_t at, size_t len,
                                    struct jpeg_walk *jw)
{
    for (size_t p = at; p < at + len;) {
        int table = byte_at(b, n, p), kind = table >> 4, id = table & 15;
        if (marker == 0xDB) {
            if (kind <= 1 && id <= 3)
                jw->quant[id] = 1;
            p += kind ? 129 : 65;
            continue;
        }
        size_t codes = 0;
        for (size_t k = 0; k < 16; k++)
            codes += byte_at(b, n, p + 1 + k);
        if (codes > 256)
            return "Huffman table with more than 256 codes";
        if (kind <= 1 && id <= 3)
            jw->huffman[kind][id] = 1;
        p += 17 + codes;
    }
    return NULL;
}

/* Note the components of a frame header (SOF segment at b[at]): id and quantization table. */
static void jpeg_note_frame(const unsigned char *b, size_t n, int marker, size_t at, struct jpeg_walk *jw)
{
    jw->progressive = marker == 0xC2;
    int count = byte_at(b, n, at + 5);
    jw->ncomp = count < 4 ? count : 4;
    for (int k = 0; k < jw->ncomp; k++) {
        jw->comp_id[k] = byte_at(b, n, at + 6 + 3 * (size_t)k);
        jw->comp_quant[k] = byte_at(b, n, at + 8 + 3 * (size_t)k);
    }
}

/* Why stb_image 2.27 (Debian 12's libstb-dev) must not decode a JPEG, or NULL. It lacks three
 * checks: that a Huffman table holds at most 256 codes (it writes past its tables; upstream issue
 * nothings/stb#1289, fixed in 2.28), and that the Huffman and quantization tables a scan uses
 * were defined (it decodes with uninitialised tables: pixels from stale heap memory and, with
 * assertions, an abort; found by tests/fuzz/fuzz_image). So the marker segments are walked here
 * first, the way stb_image walks them: entropy-coded data runs to the first 0xFF that is not
 * stuffing (FF 00) or a restart marker. Wherever this walk differs from stb_image's, stb_image
 * has already stopped with an error, so every table it would build and every scan it would
 * decode is checked here. Bytes past the end read as 0, as in stb_image. */
static const char *jpeg_tables_problem(const unsigned char *b, size_t n)
{
    struct jpeg_walk jw = {0};
    size_t i = 2;
    for (;;) {
        while (i < n && b[i] != 0xFF)
            i++;
        while (i < n && b[i] == 0xFF)
            i++;
        if (i + 2 >= n)
            return NULL;
        int marker = b[i++];
        if (marker == 0xD9)
            return NULL; /* end of image: stb_image reads no further */
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
            continue;
        size_t len = (size_t)b[i] << 8 | b[i + 1];
        size_t body = len >= 2 ? len - 2 : 0;
        const char *why = NULL;
        if (marker == 0xC4 || marker == 0xDB)
            why = jpeg_note_tables(b, n, marker, i + 2, body, &jw);
        else if (marker == 0xC0 || marker == 0xC1 || marker == 0xC2)
            jpeg_note_frame(b, n, marker, i + 2, &jw);
        else if (marker == 0xDA)
            why = jpeg_scan_problem(b, n, i + 2, body, &jw);
        if (why)
            return why;
        i += len;
        if (marker == 0xDA) {
            for (; i + 1 < n; i++) {
                if (b[i] != 0xFF)
                    continue;
                size_t j = i + 1;
                while (j < n && b[j] == 0xFF)
                    j++;
                if (j < n && b[j] != 0x00 && !(b[j] >= 0xD0 && b[j] <= 0xD7))
                    break;
                i = j;
            }
        }
    }
}

/* Whether every PNG chunk up to IEND lies inside the n bytes. stb_image sizes its IDAT buffer
 * from a chunk's claimed length before it reads the chunk, so a few bytes claiming a 2 GB chunk
 * made it allocate 2 GB (found by tests/fuzz/fuzz_image). stb_image reads chunks the same way
 * (length, type, data, CRC, in order) and fails on any chunk that runs past the end anyway. */
static int png_chunks_ok(const unsigned char *b, size_t n)
{
    size_t i = 8;
    while (i + 8 <= n) {
        size_t len = (size_t)b[i] << 24 | (size_t)b[i + 1] << 16 | (size_t)b[i + 2] << 8 | b[i + 3];
        if (len > n - i - 8 || n - i - 8 - len < 4)
            return 0;
        if (memcmp(b + i + 4, "IEND", 4) == 0)
            return 1;
        i += 12 + len;
    }
    return 0;
}

/* The fields of a BMP header the checks below need, as stb_image reads them (offset and header
 * size as int). 0 when the file is too short to hold them. */
struct bmp_header {
    int64_t offset, hsize, width, height, bpp;
    uint32_t compression;
};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bmp_read_header(const unsigned char *b, size_t n, struct bmp_header *h)
{
    if (n < 30)
        return 0;
    h->offset = (int32_t)le32(b + 10);
    h->hsize = (int32_t)le32(b + 14);
    h->compression = 0;
    if (h->hsize == 12) {
        h->width = b[18] | b[19] << 8;
        h->height = b[20] | b[21] << 8;
        h->bpp = b[24] | b[25] << 8;
        return 1;
    }
    if (n < 34)
        return 0;
    h->compression = le32(b + 30);
    int32_t w = (int32_t)le32(b + 18), ht = (int32_t)le32(b + 22);
    h->width = w < 0 ? -(int64_t)w : w;
    h->height = ht < 0 ? -(int64_t)ht : ht;
    h->bpp = b[28] | b[29] << 8;
    return 1;
}

/* Whether an uncompressed BMP holds all the pixel rows its header claims. stb_image reads missing
 * bytes as zeros, so 57 bytes claiming 1024x1597 pixels decoded as a black picture, and slowly
 * (found by tests/fuzz/fuzz_image). Compressed or unusual headers are left to stb_image. */
static int bmp_complete(const unsigned char *b, size_t n)
{
    struct bmp_header h;
    if (!bmp_read_header(b, n, &h))
        return 0;
    if (h.compression != 0 && h.compression != 3)
        return 1;
    uint64_t row = ((uint64_t)h.width * (uint64_t)h.bpp + 31) / 32 * 4;
    return (uint64_t)(uint32_t)h.offset + row * (uint64_t)h.height <= n;
}

/* Why stb_image must not decode a 1, 4 or 8 bit BMP, or NULL: a pixel names a colour stb_image
 * does not read. It keeps the palette in an uninitialised array of 256 and reads only as many
 * colours as the header leaves room for (none when that count comes out negative; 4 too few for
 * an OS/2 1.x header, whose size it takes as 24), so other indices gave pixels from stale stack
 * bytes (valgrind over the fuzz corpus of tests/fuzz/fuzz_image). Only called within the pixel
 * limits, on a file bmp_complete accepted. */
static const char *bmp_palette_problem(const unsigned char *b, size_t n)
{
    struct bmp_header h;
    if (!bmp_read_header(b, n, &h) || (h.bpp != 1 && h.bpp != 4 && h.bpp != 8))
        return NULL;
    int64_t colours = h.hsize == 12 ? (h.offset - 14 - 24) / 3 : (h.offset - 14 - h.hsize) >> 2;
    const char *why = h.hsize == 12 ? "unsupported BMP: a pixel uses one of the last 4 palette colours, which "
                                      "stb_image does not read from an OS/2 1.x header"
                                    : "corrupt BMP: a pixel names a colour its palette does not have";
    if (colours < 0)
        return why;
    if (colours == 0 || colours > 256 || colours >= (int64_t)1 << h.bpp)
        return NULL; /* stb_image refuses the first two; the third covers every index */
    uint64_t stride = ((uint64_t)h.width * (uint64_t)h.bpp + 31) / 32 * 4;
    for (uint64_t y = 0; y < (uint64_t)h.height; y++) {
        uint64_t row = (uint64_t)h.offset + y * stride;
        for (uint64_t x = 0; x < (uint64_t)h.width; x++) {
            uint64_t bit = x * (uint64_t)h.bpp;
            int byte = row + bit / 8 < n ? b[row + bit / 8] : 0;
            int index = (byte >> (8 - h.bpp - bit % 8)) & ((1 << h.bpp) - 1);
            if (index >= colours)
                return why;
        }
    }
    return NULL;
}

/* Whether a GIF's first picture is all in the file: the blocks before it and its LZW data end
 * with their zero-length sub-block inside the n bytes. stb_image reads missing bytes as zeros, so
 * a cut GIF decoded as a partly blank picture without complaint. Only the first frame is read. */
static int gif_first_frame_complete(const unsigned char *b, size_t n)
{
    if (n < 13)
        return 0;
    size_t i = 13;
    if (b[10] & 0x80)
        i += (size_t)3 << ((b[10] & 7) + 1);
    for (;;) {
        if (i >= n)
            return 0;
        unsigned char kind = b[i++];
        if (kind == 0x2C) {
            if (i + 9 > n)
                return 0;
            unsigned char flags = b[i + 8];
            i += 9;
            if (flags & 0x80)
                i += (size_t)3 << ((flags & 7) + 1);
            i++; /* LZW minimum code size */
        } else if (kind == 0x21) {
            i++; /* extension label */
        } else {
            return 1; /* the trailer or garbage: stb_image reports it */
        }
        for (;;) { /* sub-blocks up to the empty one */
            if (i >= n)
                return 0;
            size_t len = b[i++];
            if (!len)
                break;
            i += len;
        }
        if (kind == 0x2C)
            return 1;
    }
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
                       STBI_MAX_DIMENSIONS, min_int(lim->max_width, STBI_MAX_DIMENSIONS),
                       min_int(lim->max_height, STBI_MAX_DIMENSIONS));
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

    const char *tables = fmt == FMT_JPEG ? jpeg_tables_problem(bytes, n) : NULL;
    if (tables)
        return hk_fail(err, HK_EFORMAT, "corrupt JPEG: %s", tables);

    int iw = 0, ih = 0, comp = 0;
    if (!format_info(fmt, bytes, (int)n, &iw, &ih, &comp))
        return stb_failure(fmt, lim, err);
    if (fmt == FMT_BMP && ih < 0 && ih > INT_MIN)
        ih = -ih; /* a top-down BMP: stb_image's info gives the header's negative height */
    if (iw <= 0 || ih <= 0)
        return hk_fail(err, HK_EFORMAT, "corrupt %s: %dx%d pixels", format_names[fmt], iw, ih);
    int max_w = min_int(lim->max_width, STBI_MAX_DIMENSIONS);
    int max_h = min_int(lim->max_height, STBI_MAX_DIMENSIONS);
    if (iw > max_w)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit width=%d)", iw, ih, max_w);
    if (ih > max_h)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit height=%d)", iw, ih, max_h);
    if ((size_t)iw * (size_t)ih > lim->max_pixels)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit pixels=%zu)", iw, ih, lim->max_pixels);

    if (fmt == FMT_BMP && !bmp_complete(bytes, n))
        return hk_fail(err, HK_EFORMAT, "corrupt or truncated BMP: the file is shorter than its pixel rows");
    const char *palette = fmt == FMT_BMP ? bmp_palette_problem(bytes, n) : NULL;
    if (palette)
        return hk_fail(err, HK_EFORMAT, "%s", palette);
    if (fmt == FMT_GIF && !gif_first_frame_complete(bytes, n))
        return hk_fail(err, HK_EFORMAT, "corrupt or truncated GIF: the first picture's data runs past the end");
    if (fmt == FMT_PNG && !png_chunks_ok(bytes, n))
        return hk_fail(err, HK_EFORMAT, "corrupt or truncated PNG: a chunk runs past the end of the file");

    int dw = 0, dh = 0;
    unsigned char *pixels = stbi_load_from_memory(bytes, (int)n, &dw, &dh, &comp, 3);
    if (!pixels)
        return stb_failure(fmt, lim, err);
    if (dw != iw || dh != ih) {
        stbi_image_free(pixels);
        return hk_fail(err, HK_EFORMAT, "corrupt %s: header says %dx%d, data %dx%d", format_names[fmt], iw, ih, dw,
                       dh);
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
                                            int w, int h, unsigned char digest[HK_SHA256_BYTES], int *hashed,
                                            struct hk_error *err)
{
    struct hk_image_limits defaults = hk_image_limits_default();
    if (hashed)
        *hashed = 0;
    if (!path || !dst || w <= 0 || h <= 0)
        return hk_fail(err, HK_EINVAL, "image load: bad output size %dx%d", w, h);
    if (!lim)
        lim = &defaults;
    unsigned char *bytes = NULL, *rgb = NULL;
    size_t size = 0;
    enum hk_status st = read_file(path, lim, &bytes, &size, err);
    if (st != HK_OK)
        return st;
    if (digest && hashed) {
        hk_sha256(bytes, size, digest);
        *hashed = 1;
    }
    int sw = 0, sh = 0;
    st = hk_image_decode(bytes, size, lim, &rgb, &sw, &sh, err);
    free(bytes);
    if (st != HK_OK)
        return st;
    hk_image_resize(dst, w, h, rgb, sw, sh);
    stbi_image_free(rgb);
    return HK_OK;
}

enum hk_status hk_image_load_resized(const char *path, const struct hk_image_limits *lim, unsigned char *dst,
                                     int w, int h, struct hk_error *err)
{
    return hk_image_load_resized_digest(path, lim, dst, w, h, NULL, NULL, err);
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
        return hk_fail(err, HK_EINVAL, "png write '%s': bad size %dx%d", path, w, h);
    if (channels != 1 && channels != 3 && channels != 4)
        return hk_fail(err, HK_EINVAL, "png write '%s': %d channels (expected 1, 3 or 4)", path, channels);
    struct png_job job = { pixels, w, h, channels };
    return hk_file_write_atomic(path, png_writer, &job, err);
}
