/* rng.c: xoroshiro128+ seeded through splitmix64, with derivation of independent streams. */
#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hk_rng_seed(struct hk_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    r->s[0] = splitmix64(&x);
    r->s[1] = splitmix64(&x);
    if (!r->s[0] && !r->s[1])
        r->s[1] = 1;
}

void hk_rng_derive(struct hk_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ a;
    h = splitmix64(&x);
    x = h ^ b;
    h = splitmix64(&x);
    x = h ^ c;
    hk_rng_seed(r, splitmix64(&x));
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hk_rng_u64(struct hk_rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    r->s[1] = rotl(s1, 37);
    return result;
}

void hk_rng_flags(struct hk_rng *r, uint8_t *flags, size_t n, uint32_t threshold)
{
    struct hk_rng local = *r;
    for (size_t i = 0; i < n; i++)
        flags[i] = (uint32_t)(hk_rng_u64(&local) >> 32) >= threshold;
    *r = local;
}

void hk_rng_flags4(struct hk_rng r[4], uint8_t *const flags[4], size_t n, uint32_t threshold)
{
    uint64_t a0 = r[0].s[0], a1 = r[0].s[1], b0 = r[1].s[0], b1 = r[1].s[1];
    uint64_t c0 = r[2].s[0], c1 = r[2].s[1], d0 = r[3].s[0], d1 = r[3].s[1];
    uint8_t *fa = flags[0], *fb = flags[1], *fc = flags[2], *fd = flags[3];
    for (size_t i = 0; i < n; i++) {
        fa[i] = (uint32_t)((a0 + a1) >> 32) >= threshold;
        fb[i] = (uint32_t)((b0 + b1) >> 32) >= threshold;
        fc[i] = (uint32_t)((c0 + c1) >> 32) >= threshold;
        fd[i] = (uint32_t)((d0 + d1) >> 32) >= threshold;
        a1 ^= a0;
        b1 ^= b0;
        c1 ^= c0;
        d1 ^= d0;
        a0 = rotl(a0, 24) ^ a1 ^ (a1 << 16);
        b0 = rotl(b0, 24) ^ b1 ^ (b1 << 16);
        c0 = rotl(c0, 24) ^ c1 ^ (c1 << 16);
        d0 = rotl(d0, 24) ^ d1 ^ (d1 << 16);
        a1 = rotl(a1, 37);
        b1 = rotl(b1, 37);
        c1 = rotl(c1, 37);
        d1 = rotl(d1, 37);
    }
    r[0] = (struct hk_rng){{a0, a1}};
    r[1] = (struct hk_rng){{b0, b1}};
    r[2] = (struct hk_rng){{c0, c1}};
    r[3] = (struct hk_rng){{d0, d1}};
}

float hk_rng_float(struct hk_rng *r)
{
    return (float)(hk_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float hk_rng_uniform(struct hk_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * hk_rng_float(r);
}

uint32_t hk_rng_below(struct hk_rng *r, uint32_t n)
{
    return (uint32_t)(((hk_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

void hk_rng_shuffle(struct hk_rng *r, uint32_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        uint32_t j = hk_rng_below(r, (uint32_t)i), t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
