/* sha256.h: SHA-256 (FIPS 180-4), incremental and one-shot, for model file hashes and data
 * manifests; computed by nettle (sha256.c). */
#ifndef HK_SHA256_H
#define HK_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#define HK_SHA256_BYTES 32

/* Hashing state; a small value struct, copy it to fork a hash of a common prefix. */
struct hk_sha256 {
    struct sha256_ctx ctx;
};

/* Start a new hash. */
void hk_sha256_init(struct hk_sha256 *s);

/* Add n bytes of data (data may be NULL when n is 0). */
void hk_sha256_update(struct hk_sha256 *s, const void *data, size_t n);

/* Finish: out receives the 32-byte digest (s starts over, as after hk_sha256_init). */
void hk_sha256_final(struct hk_sha256 *s, unsigned char out[HK_SHA256_BYTES]);

/* One-shot digest of n bytes. */
void hk_sha256(const void *data, size_t n, unsigned char out[HK_SHA256_BYTES]);

/* Write a digest as 64 lowercase hex digits and a terminating NUL. */
void hk_sha256_hex(const unsigned char digest[HK_SHA256_BYTES], char hex[2 * HK_SHA256_BYTES + 1]);

/* The value of one hex digit (either case), or -1 for any other character. */
int hk_hex_digit(int c);

/* Read 64 hex digits (either case, nothing else) into a digest; returns 1 on success, 0 on
 * malformed text. */
int hk_sha256_parse_hex(const char *hex, unsigned char digest[HK_SHA256_BYTES]);

#endif
