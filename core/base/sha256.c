/* sha256.c: SHA-256 through nettle (Debian's libnettle, which picks the CPU's SHA instructions at
 * run time), behind husky's own small API, and the hex helpers around it. */
#include "sha256.h"

void hk_sha256_init(struct hk_sha256 *s)
{
    sha256_init(&s->ctx);
}

void hk_sha256_update(struct hk_sha256 *s, const void *data, size_t n)
{
    if (n)
        sha256_update(&s->ctx, n, data);
}

void hk_sha256_final(struct hk_sha256 *s, unsigned char out[HK_SHA256_BYTES])
{
    sha256_digest(&s->ctx, HK_SHA256_BYTES, out);
}

void hk_sha256(const void *data, size_t n, unsigned char out[HK_SHA256_BYTES])
{
    struct hk_sha256 s;
    hk_sha256_init(&s);
    hk_sha256_update(&s, data, n);
    hk_sha256_final(&s, out);
}

void hk_sha256_hex(const unsigned char digest[HK_SHA256_BYTES], char hex[2 * HK_SHA256_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < HK_SHA256_BYTES; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * HK_SHA256_BYTES] = '\0';
}

int hk_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hk_sha256_parse_hex(const char *hex, unsigned char digest[HK_SHA256_BYTES])
{
    for (int i = 0; i < HK_SHA256_BYTES; i++) {
        int hi = hk_hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hk_hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        digest[i] = (unsigned char)(hi << 4 | lo);
    }
    return hex[2 * HK_SHA256_BYTES] == '\0';
}
