/* fuzz_image.c: fuzz target for image intake from memory: magic-byte sniffing, husky's checks
 * before decoding (file size, stbi_info dimensions and pixel budget, the JPEG Huffman-table
 * walk), stb_image's JPEG, PNG, BMP and GIF decoders, and the resize every picture goes
 * through. The input is the bytes of one file; the default limits apply, as for `data` and
 * `predict`. Checked properties: a decoded picture is within the limits and has pixels; a
 * failure comes with a message. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hk_image_limits lim = hk_image_limits_default();
    struct hk_error err;
    unsigned char *rgb = NULL;
    int w = -1, h = -1;
    enum hk_status st = hk_image_decode(data, size, &lim, &rgb, &w, &h, &err);
    if (st != HK_OK) {
        FUZZ_CHECK(rgb == NULL && err.status == st && err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(rgb != NULL && w >= 1 && h >= 1 && w <= lim.max_width && h <= lim.max_height);
    FUZZ_CHECK((size_t)w * (size_t)h <= lim.max_pixels);
    /* the network's input size (down), and a small picture scaled up */
    static unsigned char small[32 * 24 * 3];
    hk_image_resize(small, 32, 24, rgb, w, h);
    if (w <= 64 && h <= 64) {
        unsigned char *big = malloc((size_t)w * 3 * (size_t)h * 3 * 3);
        if (big)
            hk_image_resize(big, w * 3, h * 3, rgb, w, h);
        free(big);
    }
    free(rgb);
    return 0;
}
