/* rng.h: small seeded random generators (splitmix64 / xoshiro128+ style); never rand(). */
#ifndef HK_RNG_H
#define HK_RNG_H

#include <stddef.h>
#include <stdint.h>

struct hk_rng {
    uint64_t s[2];
};

/* Seed from a 64-bit value; the same seed gives the same stream. */
void hk_rng_seed(struct hk_rng *r, uint64_t seed);

/* A generator for one purpose derived from (seed, a, b, c): e.g. (seed, epoch, image, stream). */
void hk_rng_derive(struct hk_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

uint64_t hk_rng_u64(struct hk_rng *r);
/* Uniform in [0, 1). */
float hk_rng_float(struct hk_rng *r);
/* Uniform in [lo, hi). */
float hk_rng_uniform(struct hk_rng *r, float lo, float hi);
/* flags[i] = 1 when the high 32 bits of the i-th draw are >= threshold, else 0: the same stream
 * as n calls of hk_rng_u64, in one loop (dropout masks). */
void hk_rng_flags(struct hk_rng *r, uint8_t *flags, size_t n, uint32_t threshold);
/* hk_rng_flags on four streams at once, interleaved so that their draws overlap in the CPU. */
void hk_rng_flags4(struct hk_rng r[4], uint8_t *const flags[4], size_t n, uint32_t threshold);
/* Uniform integer in [0, n), n > 0. */
uint32_t hk_rng_below(struct hk_rng *r, uint32_t n);
/* Shuffle v[0..n) in place (Fisher-Yates from the end, one hk_rng_below draw per swap). */
void hk_rng_shuffle(struct hk_rng *r, uint32_t *v, size_t n);

#endif
