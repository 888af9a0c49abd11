/* csv.c: atomic CSV output with RFC 4180 quoting. */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int csv_open(struct csv *c, const char *path)
{
    c->fields = 0;
    c->stream = path && !strcmp(path, "-");
    if (c->stream) {
        c->file = (struct hk_atomic_file){.f = stdout};
        return 0;
    }
    return hk_atomic_open(&c->file, path);
}

static void separator(struct csv *c)
{
    if (c->fields++)
        fputc(',', c->file.f);
}

void csv_field(struct csv *c, const char *s)
{
    separator(c);
    size_t len = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, c->file.f);
        return;
    }
    fputc('"', c->file.f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', c->file.f);
        fputc(*s, c->file.f);
    }
    fputc('"', c->file.f);
}

void csv_fieldf(struct csv *c, const char *fmt, ...)
{
    separator(c);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->file.f, fmt, ap);
    va_end(ap);
}

void csv_end_row(struct csv *c)
{
    fputc('\n', c->file.f);
    c->fields = 0;
}

int csv_commit(struct csv *c)
{
    if (c->stream)
        return fflush(stdout) != 0 || ferror(stdout) ? EIO : 0;
    return hk_atomic_commit(&c->file);
}

void csv_abort(struct csv *c)
{
    if (c->stream)
        fflush(stdout); /* what was written stays written */
    else
        hk_atomic_abort(&c->file);
}

const char *csv_strerror(int e)
{
    static char buf[128];
    return hk_atomic_strerror(e, buf, sizeof buf);
}
