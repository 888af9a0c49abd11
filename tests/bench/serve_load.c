/* serve_load.c: a load generator for husky's server (serve, husky --serve) on loopback. N client
 * threads, each on one keep-alive connection, POST /predict the given pictures round-robin as
 * multipart field `file` until `requests` answers in all or `seconds` have passed, whichever
 * comes first (it always stops by itself). Prints answers by status, throughput, and latency
 * percentiles; the last line is key=value figures.
 * usage: serve_load PORT PICTURE... [clients=16] [requests=2000] [seconds=60] */
#define _GNU_SOURCE /* strcasestr */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_PICS 4096

static char *reqs[MAX_PICS];
static size_t req_len[MAX_PICS];
static int npics, port, clients = 16;
static long limit = 2000;
static double seconds = 60, t_start;
static atomic_long issued, answered, ok, other, failed;
static double *lat;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int load_request(const char *path, int i)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    static const char b[] = "serveloadboundary7d1e";
    char head[512], part[512];
    int pl = snprintf(part, sizeof part,
                      "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p\"\r\n"
                      "Content-Type: application/octet-stream\r\n\r\n", b);
    size_t body = (size_t)pl + (size_t)n + 4 + strlen(b) + 4;
    int hl = snprintf(head, sizeof head,
                      "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
                      "Content-Length: %zu\r\n\r\n", b, body);
    char *r = malloc((size_t)hl + body + 1); /* sprintf ends with a NUL */
    if (!r) {
        fclose(f);
        return -1;
    }
    memcpy(r, head, (size_t)hl);
    memcpy(r + hl, part, (size_t)pl);
    size_t got = fread(r + hl + pl, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(r);
        return -1;
    }
    sprintf(r + hl + pl + n, "\r\n--%s--\r\n", b);
    reqs[i] = r;
    req_len[i] = (size_t)hl + body;
    return 0;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send one request and read its answer; the status, or -1 when the connection failed. */
static int exchange(int fd, int pic)
{
    size_t sent = 0;
    while (sent < req_len[pic]) {
        ssize_t w = send(fd, reqs[pic] + sent, req_len[pic] - sent, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        sent += (size_t)w;
    }
    char buf[8192];
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == sizeof buf - 1)
            return -1;
        ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9);
    char *cl = strcasestr(buf, "Content-Length:");
    size_t len = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    size_t body = have - (size_t)(end + 4 - buf);
    while (body < len) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return -1;
        body += (size_t)r;
    }
    return status;
}

static void *client(void *arg)
{
    long id = (long)arg;
    int fd = -1;
    for (;;) {
        long i = atomic_fetch_add(&issued, 1);
        if (i >= limit || now() - t_start > seconds)
            break;
        if (fd < 0 && (fd = connect_server()) < 0) {
            atomic_fetch_add(&failed, 1);
            continue;
        }
        double t0 = now();
        int st = exchange(fd, (int)((i + id) % npics));
        double ms = (now() - t0) * 1e3;
        if (st < 0) {
            atomic_fetch_add(&failed, 1);
            close(fd);
            fd = -1;
            continue;
        }
        long k = atomic_fetch_add(&answered, 1);
        lat[k] = ms;
        atomic_fetch_add(st == 200 ? &ok : &other, 1);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: serve_load PORT PICTURE... [clients=16] [requests=2000] [seconds=60]\n");
        return 2;
    }
    port = atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "clients=", 8))
            clients = atoi(argv[i] + 8);
        else if (!strncmp(argv[i], "requests=", 9))
            limit = atol(argv[i] + 9);
        else if (!strncmp(argv[i], "seconds=", 8))
            seconds = atof(argv[i] + 8);
        else if (npics < MAX_PICS && load_request(argv[i], npics) == 0)
            npics++;
        else
            fprintf(stderr, "serve_load: cannot read %s\n", argv[i]);
    }
    if (!npics || clients < 1 || clients > 1024 || limit < 1) {
        fprintf(stderr, "serve_load: nothing to send\n");
        return 2;
    }
    lat = calloc((size_t)limit, sizeof *lat);
    pthread_t th[1024];
    t_start = now();
    for (long c = 0; c < clients; c++)
        pthread_create(&th[c], NULL, client, (void *)c);
    for (int c = 0; c < clients; c++)
        pthread_join(th[c], NULL);
    double dt = now() - t_start;
    long n = atomic_load(&answered);
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    double p50 = n ? lat[(n - 1) / 2] : 0, p99 = n ? lat[(long)(0.99 * (double)(n - 1))] : 0, max = n ? lat[n - 1] : 0;
    printf("%d clients, %ld answers in %.2f s: %ld ok (200), %ld other statuses, %ld failed connections\n", clients,
           n, dt, (long)atomic_load(&ok), (long)atomic_load(&other), (long)atomic_load(&failed));
    printf("throughput %.1f pictures/s; latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", (double)atomic_load(&ok) / dt,
           p50, p99, max);
    printf("clients=%d answers=%ld ok=%ld other=%ld failed=%ld seconds=%.3f per_s=%.1f p50_ms=%.2f p99_ms=%.2f\n",
           clients, n, (long)atomic_load(&ok), (long)atomic_load(&other), (long)atomic_load(&failed), dt,
           (double)atomic_load(&ok) / dt, p50, p99);
    return atomic_load(&failed) || atomic_load(&other) ? 1 : 0;
}
