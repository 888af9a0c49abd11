/* status.c: filling and naming errors. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum hk_status hk_fail(struct hk_error *err, enum hk_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

void hk_error_clear(struct hk_error *err)
{
    if (err) {
        err->status = HK_OK;
        err->msg[0] = '\0';
    }
}

const char *hk_status_name(enum hk_status status)
{
    switch (status) {
    case HK_OK: return "ok";
    case HK_EINVAL: return "invalid argument";
    case HK_ENOMEM: return "out of memory";
    case HK_EIO: return "i/o error";
    case HK_EFORMAT: return "bad format";
    case HK_ESHAPE: return "shape mismatch";
    case HK_EBUSY: return "busy";
    case HK_ECANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *hk_os_error(int e, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, n);
#else
    if (strerror_r(e, buf, n) != 0)
        snprintf(buf, n, "error %d", e);
    return buf;
#endif
}
