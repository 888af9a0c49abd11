/* status.c: filling and naming errors. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

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
