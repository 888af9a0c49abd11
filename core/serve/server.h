/* server.h: Husky AI over HTTP (GNU libmicrohttpd, a thread pool): GET / the upload page, GET
 * /model what is served, POST /predict a multipart field `file` -> JSON. The defences the blog's
 * threat model asks for are built in: a body limit (declared and chunked), content sniffing
 * (PNG, JPEG, GIF by their bytes), the decoder's pixel limits, a token bucket per client, a
 * per-client connection limit, an idle timeout and a whole-request deadline for slow clients, a
 * bounded queue in front of ONE inference thread that alone owns the served model (503 when
 * full), and an audit log of one JSON line per request and per reload.
 *
 * Threads: libmicrohttpd's pool threads receive, parse, sniff, hash, decode and resize; the
 * inference thread batches what is queued and runs the network; a watchdog thread closes
 * connections past their deadline. The server never touches any other model. Start, reload,
 * stats and stop are for one controlling thread (the shell's). */
#ifndef HK_SERVER_H
#define HK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "served.h"
#include "status.h"

struct hk_server;

struct hk_server_options {
    const char *bind;              /* address to listen on (IPv4 or IPv6), default "127.0.0.1" */
    int port;                      /* default 8080; 0 = a free port (hk_server_port tells which) */
    size_t max_body;               /* bytes of a request body, default 10 MB */
    struct hk_image_limits limits; /* decoder limits, default as data limits' */
    double rate_per_minute;        /* POST /predict per client per minute, default 5; <= 0 off */
    int burst;                     /* requests a client may make at once, default 10 */
    int conns;                     /* connections per client address, default 5 */
    int max_conns;                 /* connections in all, default 256 */
    int queue;                     /* pictures waiting for the inference thread, default 32 */
    int batch;                     /* most pictures per forward pass, default 16 */
    int threads;                   /* HTTP threads, default 2 */
    int timeout;                   /* seconds a connection may be idle, default 10 */
    int deadline;                  /* seconds to send a whole request, default 30 */
    const char *audit_path;        /* JSON lines appended here; NULL = no audit log */
    const char *pin_sha256;        /* reloads must have this hash unless given another (may be NULL) */
    const char *trust_pub;         /* reloads must carry a signature by this key (may be NULL) */
    const char *model_source;      /* what the audit log names as the model's origin (may be NULL) */
};

/* The defaults above. */
void hk_server_options_default(struct hk_server_options *o);

/* Start serving model (owned by the server from now on, also on failure). The audit log is
 * opened (appended) and gets a "start" line. HK_EIO when the address cannot be bound or the log
 * cannot be opened, HK_EINVAL for a bad option. *out is owned: hk_server_stop. */
enum hk_status hk_server_start(const struct hk_server_options *o, struct hk_served *model, struct hk_server **out,
                               struct hk_error *err);

/* The port it listens on. */
int hk_server_port(const struct hk_server *s);

/* Finish the queued pictures, close every connection, write a "stop" line, free everything.
 * NULL is a no-op. */
void hk_server_stop(struct hk_server *s);

/* Load path with hk_served_load (pin_hex, or else the server's pin when path is the file it
 * serves; the server's trusted key always) and, when every check passes, serve it from the next
 * batch on; otherwise keep serving the old model. Either way one audit line "reload" with the
 * old and new hashes and the outcome. `source` (may be NULL) is what the audit line names
 * instead of path (for a temporary copy). */
enum hk_status hk_server_reload(struct hk_server *s, const char *path, const char *source, const char *pin_hex,
                                struct hk_error *err);

struct hk_server_stats {
    uint64_t requests;      /* every request answered */
    uint64_t predictions;   /* 200s of POST /predict */
    uint64_t errors;        /* answers with a status >= 400 */
    uint64_t rate_limited;  /* 429 */
    uint64_t queue_full;    /* 503 */
    uint64_t too_large;     /* 413 */
    uint64_t not_image;     /* 415 */
    uint64_t bad_request;   /* 400, 404, 405 */
    uint64_t timed_out;     /* connections closed by the deadline */
    uint64_t reloads, reloads_refused;
    double p50_ms, p99_ms;  /* latency of the last (up to 10,000) predictions, receive to answer */
    int queued;             /* pictures waiting now */
    int port;
    char model_sha256[65];
    char model_source[256];
};

void hk_server_stats(struct hk_server *s, struct hk_server_stats *st);

#endif
