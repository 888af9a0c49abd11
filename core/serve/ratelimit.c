/* ratelimit.c: token buckets per client in an open-addressed table with a short probe window;
 * a full window gives up its least recently seen slot. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16

struct bucket {
    char key[HK_RATELIMIT_KEY];
    double tokens;
    double last;
    int used;
};

struct hk_ratelimit {
    pthread_mutex_t lock;
    double per_second;
    double burst;
    struct bucket slots[HK_RATELIMIT_SLOTS];
};

struct hk_ratelimit *hk_ratelimit_new(double per_minute, int burst)
{
    struct hk_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->per_second = per_minute > 0 ? per_minute / 60.0 : 0;
    rl->burst = burst < 1 ? 1 : burst;
    return rl;
}

void hk_ratelimit_free(struct hk_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int hk_ratelimit_take(struct hk_ratelimit *rl, const char *key, double now, int *retry_after)
{
    if (rl->per_second <= 0)
        return 1;
    char k[HK_RATELIMIT_KEY];
    strncpy(k, key, sizeof k - 1);
    k[sizeof k - 1] = '\0';
    pthread_mutex_lock(&rl->lock);
    uint32_t h = hash(k);
    struct bucket *b = NULL, *spare = NULL;
    for (int i = 0; i < PROBE && !b; i++) {
        struct bucket *s = &rl->slots[(h + (uint32_t)i) % HK_RATELIMIT_SLOTS];
        if (s->used && !strcmp(s->key, k))
            b = s;
        else if (!s->used) {
            if (!spare || spare->used)
                spare = s;
        } else if (!spare || (spare->used && s->last < spare->last))
            spare = s;
    }
    if (!b) {
        b = spare;
        memcpy(b->key, k, sizeof k);
        b->used = 1;
        b->tokens = rl->burst;
        b->last = now;
    }
    if (now > b->last) {
        b->tokens = fmin(rl->burst, b->tokens + (now - b->last) * rl->per_second);
        b->last = now;
    }
    int ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else if (retry_after)
        *retry_after = (int)ceil((1.0 - b->tokens) / rl->per_second);
    pthread_mutex_unlock(&rl->lock);
    return ok;
}
