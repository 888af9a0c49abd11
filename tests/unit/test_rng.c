/* test_rng.c: the batched draws (dropout masks) give the same stream as one hk_rng_u64 at a time. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "rng.h"

#define N 1001

/* flags as the plain loop makes them: high 32 bits of each draw >= threshold */
static void reference_flags(struct hk_rng *r, uint8_t *flags, size_t n, uint32_t threshold)
{
    for (size_t i = 0; i < n; i++)
        flags[i] = (uint32_t)(hk_rng_u64(r) >> 32) >= threshold;
}

int main(void)
{
    static uint8_t want[4][N], got[4][N];
    const uint32_t thresholds[] = {0, 1717986918u /* rate 0.4 */, 4294967295u};
    for (size_t t = 0; t < sizeof thresholds / sizeof *thresholds; t++) {
        struct hk_rng ref[4], one[4], four[4];
        uint8_t *rows[4];
        for (int k = 0; k < 4; k++) {
            hk_rng_derive(&ref[k], 42, 7, 3, (uint64_t)k);
            one[k] = four[k] = ref[k];
            reference_flags(&ref[k], want[k], N, thresholds[t]);
            rows[k] = got[k];
        }
        hk_rng_flags4(four, rows, N, thresholds[t]);
        int same4 = !memcmp(want, got, sizeof want), next4 = 1, same1 = 1, next1 = 1;
        for (int k = 0; k < 4; k++) {
            uint64_t after = hk_rng_u64(&ref[k]); /* the draw that follows the N flags */
            next4 &= hk_rng_u64(&four[k]) == after;
            uint8_t row[N];
            hk_rng_flags(&one[k], row, N, thresholds[t]);
            same1 &= !memcmp(row, want[k], N);
            next1 &= hk_rng_u64(&one[k]) == after;
        }
        CHECK(same4 && next4, "hk_rng_flags4, threshold %u: same flags and state as hk_rng_u64", thresholds[t]);
        CHECK(same1 && next1, "hk_rng_flags, threshold %u: same flags and state as hk_rng_u64", thresholds[t]);
    }
    return check_summary();
}
