/* server_internal.h: what the files of the HTTP server share (server.h is the public side): a
 * request's state, the server's, and the functions one file of it calls in another. Private to
 * core/serve/server*.c.
 *   server_lifecycle.c  start, reload, stop (the options, the threads, the daemon)
 *   server_http.c       libmicrohttpd: the daemon, routing each request, connection start and end
 *   server_upload.c     a POST /predict body: received within the limit, then multipart, sniffing,
 *                       hashing, decoding and the inference API's preprocessing, then queued
 *   server_infer.c      the queue and the one inference thread that predicts and decides
 *   server_answer.c     the answers: headers, JSON errors, predictions, GET /model
 *   server_model.c      the served model: install on start and reload, the /model description
 *   server_log.c        the clock, statistics and the audit log's request and event lines
 * (server.c would share server.h's node in tests/lint/include_cycles.py and make a cycle with
 * this header, hence server_lifecycle.c.) */
#ifndef HK_SERVER_INTERNAL_H
#define HK_SERVER_INTERNAL_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "infer.h"
#include "server.h"

#define LATENCY_RING 10000
#define PATH_KEEP 200 /* bytes of a request path kept for the audit log */

enum req_kind { REQ_OTHER, REQ_PREDICT };
enum req_state { ST_RECEIVING, ST_QUEUED, ST_DONE, ST_ANSWERED };

struct req {
    struct hk_server *srv;
    struct MHD_Connection *conn;
    struct req *next;                /* queue link */
    enum req_kind kind;
    enum req_state state;
    double t0;
    char client[INET6_ADDRSTRLEN + 8];
    char method[16];
    char path[PATH_KEEP + 1];
    unsigned char *body;
    size_t n, cap;
    size_t discarded;                /* bytes of a body over the limit, read and dropped */
    int hashed;
    char upload_sha256[65];
    size_t upload_bytes;
    float *x;                        /* the model input (infer.h), prepared for shape `in` and `rescale` */
    struct hk_shape in;
    float rescale;
    /* result, filled by the inference thread */
    int status;                      /* 0 = ok */
    char why[640];
    int best;
    double probability, score;
    float threshold;                 /* a sigmoid's decision threshold (0: a softmax) */
    char class_name[HK_MODELFILE_MAX_CLASS_NAME + 1];
    char model_sha256[65];
};

struct hk_server {
    struct hk_server_options opt;
    char *bind, *audit_path, *pin, *trust, *source;
    struct MHD_Daemon *daemon;
    int port;
    struct hk_ratelimit *rl;
    const char *page;
    size_t page_len;

    /* the model: `model` is used by the inference thread under model_lock; the snapshot below
       (input size, hash, /model answer) under info_lock */
    pthread_mutex_t model_lock;
    struct hk_served *model;
    pthread_mutex_t info_lock;
    struct hk_shape input;
    struct hk_infer_prep prep;
    char sha256[65];
    char *model_json;

    /* the queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct req *head, *tail;
    int queued;
    atomic_int stopping;
    pthread_t infer;
    int infer_started;

    struct hk_watchdog *wd;          /* the per-request deadline */

    /* statistics */
    pthread_mutex_t slock;
    struct hk_server_stats st;
    double *lat;
    size_t lat_n, lat_at;

    struct hk_audit *audit;          /* NULL: no audit log */
};

/* server_log.c */
/* Seconds on the monotonic clock. */
double sv_now(void);
/* Count an answer of this status (and a prediction's latency, ms). */
void sv_count(struct hk_server *s, const struct req *r, int status, double ms);
/* The audit line of an answered request. */
void sv_audit_request(struct hk_server *s, const struct req *r, int status, double ms);
/* An audit line "start", "stop" or "reload" (old_sha, new_sha, source, error may be NULL). */
void sv_audit_event(struct hk_server *s, const char *event, const char *old_sha, const char *new_sha,
                    const char *source, const char *error);

/* server_model.c */
/* The served model's decision threshold on its sigmoid output (0.5 when its file has none). */
float sv_threshold(const struct hk_served *m);
/* How uploads become inputs of m: the server's decoder limits and m's rescale. */
struct hk_infer_prep sv_prep(const struct hk_server *s, const struct hk_served *m);
/* The GET /model answer for m (owned; NULL when out of memory). */
char *sv_describe_model(const struct hk_served *m);
/* Install m as the served model (the server owns it, and json: sv_describe_model's); returns the
 * old one (to free). */
struct hk_served *sv_install(struct hk_server *s, struct hk_served *m, char *json);

/* server_answer.c: each answers r (state ST_ANSWERED), counts it and writes its audit line */
enum MHD_Result sv_send_answer(struct hk_server *s, struct req *r, int status, const char *type, const char *body,
                               size_t len, int retry_after);
enum MHD_Result sv_send_error(struct hk_server *s, struct req *r, int status, int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The inference thread's result for r: the prediction, or its error. */
enum MHD_Result sv_send_prediction(struct hk_server *s, struct req *r);
/* GET /model. */
enum MHD_Result sv_send_model(struct hk_server *s, struct req *r);

/* server_upload.c */
/* Take `more` bytes of r's body (at most max_body kept; over it the rest is read and dropped). */
enum MHD_Result sv_upload_receive(struct hk_server *s, struct req *r, const char *upload, size_t more);
/* The body is complete: check, decode and prepare the picture, then queue r (or answer an error). */
enum MHD_Result sv_upload_finish(struct hk_server *s, struct req *r, struct MHD_Connection *c);

/* server_infer.c */
/* Suspend r's connection and queue r for the inference thread; 0, or with the queue full or the
 * server stopping 1 (r untouched; *stopping says which). */
int sv_enqueue(struct hk_server *s, struct req *r, int *stopping);
/* The inference thread (arg: the server): predicts what is queued until the server stops. */
void *sv_infer_main(void *arg);

/* server_http.c */
/* The watchdog entry of a connection (NULL when it has none). */
struct hk_watch *sv_watch_of(struct MHD_Connection *c);
/* Start libmicrohttpd on addr (IPv6 when v6) with the server's options; sets s->daemon and
 * s->port. HK_EIO when it cannot listen. */
enum hk_status sv_http_start(struct hk_server *s, const struct sockaddr *addr, int v6, struct hk_error *err);

#endif
