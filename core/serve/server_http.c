/* server_http.c: the server's side of libmicrohttpd: the daemon (thread pool, per-client and total
 * connection limits, idle timeout, suspend/resume), each connection watched by the deadline
 * watchdog from its first byte to its close, and each request routed: GET / the page, GET /model,
 * POST /predict (rate limit, declared length and Content-Type on the first call; the body to
 * server_upload.c; the answer once the inference thread resumed it), 404 and 405 otherwise. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "multipart.h"
#include "ratelimit.h"
#include "server_internal.h"
#include "watchdog.h"

struct hk_watch *sv_watch_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd's connection start and close: watched from the first byte to the close. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct hk_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? hk_watchdog_add(s->wd, ci->connect_fd) : NULL;
    } else {
        hk_watchdog_remove(s->wd, *socket_context);
        *socket_context = NULL;
    }
}

static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

static enum MHD_Result first_call(struct hk_server *s, struct req *r, struct MHD_Connection *c, const char *url,
                                  const char *method)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!strcmp(url, "/predict")) {
        r->kind = REQ_PREDICT;
        if (strcmp(method, "POST"))
            return sv_send_error(s, r, 405, 0, "POST a multipart/form-data body with a field named file");
        int retry = 0;
        if (!hk_ratelimit_take(s->rl, r->client, sv_now(), &retry))
            return sv_send_error(s, r, 429, retry, "too many requests: at most %g a minute (burst %d); try again "
                              "in %d s", s->opt.rate_per_minute, s->opt.burst, retry);
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (len) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(len, &end, 10);
            if (errno || *end || v > s->opt.max_body)
                return sv_send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
        }
        char boundary[HK_MULTIPART_MAX_BOUNDARY + 1];
        struct hk_error err;
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (hk_multipart_boundary(ctype, boundary, &err) != HK_OK)
            return sv_send_error(s, r, 400, 0, "broken multipart: %s", err.msg);
        return MHD_YES; /* the body follows */
    }
    if (get && !strcmp(url, "/"))
        return sv_send_answer(s, r, 200, "text/html; charset=utf-8", s->page, s->page_len, 0);
    if (get && !strcmp(url, "/model"))
        return sv_send_model(s, r);
    if (!strcmp(url, "/") || !strcmp(url, "/model"))
        return sv_send_error(s, r, 405, 0, "use GET");
    return sv_send_error(s, r, 404, 0, "no such page; try GET /, GET /model or POST /predict");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct hk_server *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->srv = s;
        r->conn = c;
        r->t0 = sv_now();
        client_address(c, r->client, sizeof r->client);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        return first_call(s, r, c, url, method);
    }
    if (r->state == ST_ANSWERED) {
        *upload_size = 0; /* an answer went out early: the rest of the body is dropped */
        return MHD_YES;
    }
    if (r->state == ST_DONE)
        return sv_send_prediction(s, r);
    if (r->kind != REQ_PREDICT || r->state != ST_RECEIVING)
        return MHD_YES;
    if (*upload_size) {
        size_t more = *upload_size;
        *upload_size = 0;
        return sv_upload_receive(s, r, upload, more);
    }
    if (r->discarded)
        return sv_send_error(s, r, 413, 0, "the body is over %zu bytes", s->opt.max_body);
    return sv_upload_finish(s, r, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    (void)code;
    struct hk_server *s = cls;
    struct req *r = *con_cls;
    hk_watchdog_mark(s->wd, sv_watch_of(c), 0, 1); /* the next request's deadline starts now */
    if (!r)
        return;
    free(r->body);
    free(r->x);
    free(r);
    *con_cls = NULL;
}

enum hk_status sv_http_start(struct hk_server *s, const struct sockaddr *addr, int v6, struct hk_error *err)
{
    char ebuf[128];
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | (v6 ? MHD_USE_IPv6 : 0);
    const struct hk_server_options *o = &s->opt;
    s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->conns,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        return hk_fail(err, HK_EIO, "cannot listen on %s port %d%s%s", o->bind, o->port, e ? ": " : "",
                       e ? hk_os_error(e, ebuf, sizeof ebuf) : "");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    return HK_OK;
}
