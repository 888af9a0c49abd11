/* atomic_file.h: writing a file so that a crash never leaves half of it: a temporary file in the
 * same folder (created exclusively, mode 0666 less the umask), written, synced, then renamed over
 * the target. */
#ifndef HK_ATOMIC_FILE_H
#define HK_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

/* Writes the contents to f. Returns 1 on success; on failure 0 with a short reason in why (n
 * bytes), or why left empty when the stream's errno says it. */
typedef int (*hk_file_writer)(FILE *f, void *user, char *why, size_t n);

/* Write path atomically with write(f, user, ...). On failure the temporary file is removed, path
 * is untouched, and err reads "cannot write 'PATH': reason". */
enum hk_status hk_file_write_atomic(const char *path, hk_file_writer write, void *user, struct hk_error *err);

#endif
