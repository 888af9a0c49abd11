/* audit.c: the append-only JSON-lines audit log (see audit.h). */
#include "audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct hk_audit {
    pthread_mutex_t lock;
    FILE *f;
};

enum hk_status hk_audit_open(const char *path, struct hk_audit **out, struct hk_error *err)
{
    char ebuf[128];
    *out = NULL;
    struct hk_audit *a = calloc(1, sizeof *a);
    if (!a)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    a->f = fopen(path, "a");
    if (!a->f) {
        int e = errno;
        free(a);
        return hk_fail(err, HK_EIO, "cannot open the audit log '%s': %s", path, hk_os_error(e, ebuf, sizeof ebuf));
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return HK_OK;
}

void hk_audit_close(struct hk_audit *a)
{
    if (!a)
        return;
    fclose(a->f);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void hk_audit_begin(struct hk_json *j, const char *event)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    hk_json_printf(j, "{\"time\":\"%s.%03ldZ\",\"event\":", buf, t.tv_nsec / 1000000);
    hk_json_str(j, event);
}

void hk_audit_write(struct hk_audit *a, struct hk_json *j)
{
    hk_json_raw(j, "}\n");
    if (!a || j->oom)
        return;
    pthread_mutex_lock(&a->lock);
    fputs(j->p, a->f);
    fflush(a->f);
    pthread_mutex_unlock(&a->lock);
}
