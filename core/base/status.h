/* status.h: status codes and the located error message every core call returns. */
#ifndef HK_STATUS_H
#define HK_STATUS_H

#include <stddef.h>

enum hk_status {
    HK_OK = 0,
    HK_EINVAL,     /* invalid argument or option */
    HK_ENOMEM,     /* out of memory, or a size over a limit */
    HK_EIO,        /* a file could not be read or written */
    HK_EFORMAT,    /* a file's contents are not what they claim */
    HK_ESHAPE,     /* tensor shapes do not fit */
    HK_EBUSY,      /* a run is going and the request needs the model idle */
    HK_ECANCELLED  /* stopped on request */
};

/* An error: the status and a message that names the object and what was expected. */
struct hk_error {
    enum hk_status status;
    char msg[512];
};

/* Fill err (may be NULL) with status and a printf-style message; returns status. */
enum hk_status hk_fail(struct hk_error *err, enum hk_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to HK_OK with an empty message. */
void hk_error_clear(struct hk_error *err);

/* A short fixed name for a status ("bad format"); never NULL. */
const char *hk_status_name(enum hk_status status);

/* The text of OS error e (an errno value) in buf of n bytes, thread-safely; returns the text. */
const char *hk_os_error(int e, char *buf, size_t n);

#endif
