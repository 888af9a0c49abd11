/* stb_image_quiet.h: includes <stb_image.h> with the warnings husky builds with turned off for it
 * alone (third-party code). Define the STBI_* options first. No include guard: stb_image.h has its
 * own, and the file that defines STB_IMAGE_IMPLEMENTATION includes this once. */
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
#ifdef __clang__
/* Debian 12's stb_image shifts by 32 on corrupt progressive JPEGs (stbi__grow_buffer_unsafe once
 * code_bits has gone negative; nothings/stb issue 1293, fixed upstream after that copy). The
 * result is masked and the decode stays in bounds (AddressSanitizer still watches it), so the
 * fuzz build (clang, every UB report fatal) does not count this one check in stb's own code. */
#pragma clang attribute push(__attribute__((no_sanitize("shift-exponent"))), apply_to = function)
#endif
#include <stb_image.h>
#ifdef __clang__
#pragma clang attribute pop
#endif
#pragma GCC diagnostic pop
