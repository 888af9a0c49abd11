/* ratelimit.h: requests per client as nginx's limit_req does it: a token bucket per client
 * address (rate tokens per minute, at most burst stored), in a fixed-size table so that memory
 * stays bounded whatever the number of clients (the least recently seen client is forgotten
 * first; a forgotten client starts again with a full bucket). Thread-safe. */
#ifndef HK_RATELIMIT_H
#define HK_RATELIMIT_H

#define HK_RATELIMIT_SLOTS 4096
#define HK_RATELIMIT_KEY 64 /* bytes of a client key, NUL included */

struct hk_ratelimit;

/* A limiter allowing per_minute requests a minute with bursts of up to burst (>= 1); per_minute
 * <= 0 allows everything. NULL when out of memory. Owned: hk_ratelimit_free. */
struct hk_ratelimit *hk_ratelimit_new(double per_minute, int burst);

void hk_ratelimit_free(struct hk_ratelimit *rl);

/* Take one token for client key at time now (seconds, monotonic). Returns 1 when the request may
 * go on; 0 when it is over the limit, then *retry_after (may be NULL) is the whole seconds until a
 * token is back. */
int hk_ratelimit_take(struct hk_ratelimit *rl, const char *key, double now, int *retry_after);

#endif
