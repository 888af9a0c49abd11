/* csv.c: atomic CSV output with RFC 4180 quoting. */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int csv_open(struct csv *c, const char *path)
{
    memset(c, 0, sizeof *c);
    size_t len = strlen(path) + 16;
    c->path = path;
    c->tmp = malloc(len);
    if (!c->tmp)
        return ENOMEM;
    snprintf(c->tmp, len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(c->tmp);
    if (fd >= 0)
        c->f = fdopen(fd, "w");
    if (!c->f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(c->tmp);
        }
        free(c->tmp);
        c->tmp = NULL;
        return e;
    }
    fchmod(fd, 0644);
    return 0;
}

static void separator(struct csv *c)
{
    if (c->fields++)
        fputc(',', c->f);
}

void csv_field(struct csv *c, const char *s)
{
    separator(c);
    size_t len = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, c->f);
        return;
    }
    fputc('"', c->f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', c->f);
        fputc(*s, c->f);
    }
    fputc('"', c->f);
}

void csv_fieldf(struct csv *c, const char *fmt, ...)
{
    separator(c);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->f, fmt, ap);
    va_end(ap);
}

void csv_end_row(struct csv *c)
{
    fputc('\n', c->f);
    c->fields = 0;
}

int csv_commit(struct csv *c)
{
    int e = 0;
    errno = 0;
    if (fflush(c->f) != 0 || ferror(c->f) || fsync(fileno(c->f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(c->f) != 0 && !e)
        e = errno;
    if (!e && rename(c->tmp, c->path) != 0)
        e = errno;
    if (e)
        unlink(c->tmp);
    free(c->tmp);
    c->f = NULL;
    c->tmp = NULL;
    return e;
}

void csv_abort(struct csv *c)
{
    if (c->f)
        fclose(c->f);
    if (c->tmp)
        unlink(c->tmp);
    free(c->tmp);
    c->f = NULL;
    c->tmp = NULL;
}
