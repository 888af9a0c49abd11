/* atomic_file.h: writing a file so that a crash or a full disk never leaves half of it: a
 * temporary file in the same folder (created exclusively; the mode of the file it replaces, else
 * 0666 less the umask), written, synced, renamed over the target, and the folder synced. The one
 * way husky writes files (model files, manifests, CSVs, plots).
 * A symbolic link is followed (to the end of a chain) and its target replaced, as editors do: the
 * temporary file is made next to the target and the link stays. A target that exists and is not a
 * regular file (a directory, FIFO, socket or device) is refused and left as it is. */
#ifndef HK_ATOMIC_FILE_H
#define HK_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

struct hk_atomic_file {
    FILE *f;          /* write here (or let another program write to `tmp` by name) */
    char *tmp;        /* the temporary file's name (owned) */
    char *target;     /* the file replaced: path with symbolic links followed (owned) */
};

/* hk_atomic_open's refusals of a target that is not a regular file, beyond errno's values (a
 * directory is EISDIR). hk_atomic_strerror words them. */
enum { HK_ATOMIC_EFIFO = 0x10000, HK_ATOMIC_ESOCKET, HK_ATOMIC_EDEVICE };

/* Create the temporary file for path. Returns 0, or an errno value or HK_ATOMIC_E* (nothing is
 * left behind, nothing existing is touched). */
int hk_atomic_open(struct hk_atomic_file *a, const char *path);

/* Words for an error of these functions (an errno value or HK_ATOMIC_E*), in buf (n bytes) or a
 * constant string. */
const char *hk_atomic_strerror(int e, char *buf, size_t n);

/* Flush, sync and close the temporary file, rename it over the target, sync the folder. Returns
 * 0, or an errno value with the temporary file removed and the target untouched. Frees what
 * hk_atomic_open allocated either way. */
int hk_atomic_commit(struct hk_atomic_file *a);

/* Close and remove the temporary file; the target is untouched. */
void hk_atomic_abort(struct hk_atomic_file *a);

/* Writes the contents to f. Returns 1 on success; on failure 0 with a short reason in why (n
 * bytes), or why left empty when the stream's errno says it. */
typedef int (*hk_file_writer)(FILE *f, void *user, char *why, size_t n);

/* Write path atomically with write(f, user, ...). On failure the temporary file is removed, path
 * is untouched, and err reads "cannot write 'PATH': reason". */
enum hk_status hk_file_write_atomic(const char *path, hk_file_writer write, void *user, struct hk_error *err);

#endif
