/* image_limits.c: the default image limits and the one size check all decoders apply. */
#include "image_limits.h"

struct hk_image_limits hk_image_limits_default(void)
{
    struct hk_image_limits lim;
    lim.max_file_bytes = (size_t)10 * 1024 * 1024;
    lim.max_width = 8192;
    lim.max_height = 8192;
    lim.max_pixels = (size_t)40 * 1000 * 1000;
    return lim;
}

enum hk_status hk_image_check_size(const char *format, int w, int h, const struct hk_image_limits *lim,
                                   struct hk_error *err)
{
    int max_w = lim->max_width < HK_IMAGE_MAX_SIDE ? lim->max_width : HK_IMAGE_MAX_SIDE;
    int max_h = lim->max_height < HK_IMAGE_MAX_SIDE ? lim->max_height : HK_IMAGE_MAX_SIDE;
    if (w <= 0 || h <= 0)
        return hk_fail(err, HK_EFORMAT, "corrupt %s: %dx%d pixels", format, h, w);
    if (w > max_w)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit width=%d)", h, w, max_w);
    if (h > max_h)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit height=%d)", h, w, max_h);
    if ((size_t)w * (size_t)h > lim->max_pixels)
        return hk_fail(err, HK_ENOMEM, "too large: %dx%d pixels (limit pixels=%zu)", h, w, lim->max_pixels);
    return HK_OK;
}
