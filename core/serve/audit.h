/* audit.h: the server's audit log: JSON lines appended to a file and flushed one by one, so that
 * every request and every model change leaves a line even if the process dies next (the blog's
 * answer to repudiation, without auditd). Thread-safe. The one file husky writes without
 * atomic_file.c: a log grows, it is never replaced. */
#ifndef HK_AUDIT_H
#define HK_AUDIT_H

#include "json.h"
#include "status.h"

struct hk_audit;

/* Open path for appending (created 0666 less the umask). HK_EIO names the path and the reason.
 * *out is owned: hk_audit_close. */
enum hk_status hk_audit_open(const char *path, struct hk_audit **out, struct hk_error *err);

/* Close; NULL is a no-op. */
void hk_audit_close(struct hk_audit *a);

/* Start a line in j (empty): {"time":"2026-12-06T18:29:47.911Z" (UTC),"event":EVENT. */
void hk_audit_begin(struct hk_json *j, const char *event);

/* Close the object begun in j, append it as one line and flush it. a NULL: nothing is written. A
 * line whose building ran out of memory is dropped. */
void hk_audit_write(struct hk_audit *a, struct hk_json *j);

#endif
