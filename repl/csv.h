/* csv.h: CSV files written atomically (a temporary file in the same folder, synced, then renamed
 * over the target) with RFC 4180 quoting, for history save and predict out=; the path "-" is
 * standard output. */
#ifndef HUSKY_CSV_H
#define HUSKY_CSV_H

#include "atomic_file.h"

struct csv {
    struct hk_atomic_file file;
    int fields; /* fields written in the current row */
    int stream; /* writing to standard output (path "-"): nothing to rename, nothing to take back */
};

/* Start writing path ("-": standard output). 0, or an errno value (or HK_ATOMIC_E*: path is a
 * FIFO, socket or device, left as it is). */
int csv_open(struct csv *c, const char *path);

/* One field, quoted when it holds a comma, a quote, a line break or starts/ends with a blank. */
void csv_field(struct csv *c, const char *s);

/* One field from a printf format (numbers; never needs quoting). */
void csv_fieldf(struct csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* End the current row. */
void csv_end_row(struct csv *c);

/* Flush, sync, close and rename over the target. 0, or an errno value (the temporary file is
 * removed). Frees what csv_open allocated either way. */
int csv_commit(struct csv *c);

/* Drop the temporary file. */
void csv_abort(struct csv *c);

/* Words for an error of csv_open or csv_commit (or hk_atomic_*): an errno value, or a target
 * that is a FIFO, socket or device. Valid until the next call. */
const char *csv_strerror(int e);

#endif
