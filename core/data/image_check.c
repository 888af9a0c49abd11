/* image_check.c: walks of JPEG marker segments, BMP headers and GIF blocks that refuse the files
 * Debian 12's stb_image 2.27 would decode from uninitialised or missing memory (PNG is decoded by
 * libpng, png_read.c, which needs none). */
#include "image_check.h"

#include <stdint.h>
#include <string.h>

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
const char *hk_jpeg_tables_problem(const unsigned char *b, size_t n)
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
int hk_bmp_complete(const unsigned char *b, size_t n)
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
 * limits, on a file hk_bmp_complete accepted. */
const char *hk_bmp_palette_problem(const unsigned char *b, size_t n)
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
int hk_gif_first_frame_complete(const unsigned char *b, size_t n)
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

