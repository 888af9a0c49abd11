/* watchdog.h: a deadline for each request a client sends. libmicrohttpd's timeout only closes
 * connections that stay idle; a client that trickles one byte a second is never idle. The
 * watchdog thread shuts down (shutdown(2)) the socket of any watched connection whose current
 * request has taken longer than the deadline, unless it is marked busy (waiting for the server
 * itself); the server then sees the socket fail and closes it in its own thread. Thread-safe. */
#ifndef HK_WATCHDOG_H
#define HK_WATCHDOG_H

#include <stdint.h>

#include "status.h"

struct hk_watchdog;
struct hk_watch; /* one watched connection */

/* Start the watchdog thread with a deadline in seconds (> 0), checked 4 times a second. *out is
 * owned: hk_watchdog_stop. */
enum hk_status hk_watchdog_start(double deadline, struct hk_watchdog **out, struct hk_error *err);

/* Watch socket fd from now on; NULL when out of memory (the connection is then not watched). The
 * caller must remove it before closing fd. */
struct hk_watch *hk_watchdog_add(struct hk_watchdog *w, int fd);

/* Stop watching (NULL is a no-op) and free t. */
void hk_watchdog_remove(struct hk_watchdog *w, struct hk_watch *t);

/* Mark t busy (not to be closed) or not; with restart, its deadline starts again from now (a new
 * request on the same connection). t NULL is a no-op. */
void hk_watchdog_mark(struct hk_watchdog *w, struct hk_watch *t, int busy, int restart);

/* Connections closed for their deadline so far. */
uint64_t hk_watchdog_closed(struct hk_watchdog *w);

/* Stop the thread and free everything (watches still listed included); NULL is a no-op. */
void hk_watchdog_stop(struct hk_watchdog *w);

#endif
