/* csv.h: CSV files written atomically (a temporary file in the same folder, synced, then renamed
 * over the target) with RFC 4180 quoting, for history save and predict out=. */
#ifndef HUSKY_CSV_H
#define HUSKY_CSV_H

#include <stdio.h>

struct csv {
    FILE *f;
    char *tmp;       /* the temporary file's name (owned) */
    const char *path;
    int fields;      /* fields written in the current row */
};

/* Start writing path (the caller keeps path alive until commit/abort). 0, or an errno value. */
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

#endif
