/* manifest.c: building data manifests from loaded sets, writing them atomically, parsing them
 * back (from memory, with file:line errors and bounded lines), and comparing two of them. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

#define FIELDS 5

static const char *const change_names[HK_MANIFEST_CHANGE_COUNT] = {"added", "removed", "changed", "moved"};

const char *hk_manifest_change_name(enum hk_manifest_change kind)
{
    return (unsigned)kind < HK_MANIFEST_CHANGE_COUNT ? change_names[kind] : "?";
}

static void entry_free(struct hk_manifest_entry *e)
{
    free(e->split);
    free(e->label);
    free(e->path);
}

void hk_manifest_free(struct hk_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        entry_free(&m->entries[i]);
    free(m->entries);
    free(m);
}

/* Append an entry with copies of the strings; 0 when memory runs out. */
static int add_entry(struct hk_manifest *m, size_t *cap, const char *split, const char *label, const char *path,
                     int skipped, int hashed, const unsigned char *sha256)
{
    if (m->count == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        struct hk_manifest_entry *v = c <= SIZE_MAX / sizeof *v ? realloc(m->entries, c * sizeof *v) : NULL;
        if (!v)
            return 0;
        m->entries = v;
        *cap = c;
    }
    struct hk_manifest_entry *e = &m->entries[m->count];
    memset(e, 0, sizeof *e);
    e->split = strdup(split);
    e->label = strdup(label);
    e->path = strdup(path);
    e->skipped = skipped;
    e->hashed = hashed;
    if (hashed)
        memcpy(e->sha256, sha256, HK_SHA256_BYTES);
    if (!e->split || !e->label || !e->path) {
        entry_free(e);
        return 0;
    }
    m->count++;
    return 1;
}

enum hk_status hk_manifest_from_sets(const struct hk_dataset *const *sets, const char *const *names, int nsets,
                                     struct hk_manifest **out, struct hk_error *err)
{
    *out = NULL;
    struct hk_manifest *m = calloc(1, sizeof *m);
    size_t cap = 0;
    if (!m)
        return hk_fail(err, HK_ENOMEM, "out of memory building a manifest");
    for (int s = 0; s < nsets; s++) {
        const struct hk_dataset *ds = sets[s];
        for (size_t i = 0; ds && i < ds->count; i++)
            if (!add_entry(m, &cap, names[s], ds->class_names[ds->labels[i]],
                           hk_dataset_relative_path(ds, ds->paths[i]), 0, 1, ds->file_sha256[i]))
                goto oom;
        for (size_t i = 0; ds && i < ds->skipped_count; i++) {
            const struct hk_skip *k = &ds->skipped[i];
            if (!add_entry(m, &cap, names[s], ds->class_names[k->label], hk_dataset_relative_path(ds, k->path), 1,
                           k->hashed, k->sha256))
                goto oom;
        }
    }
    *out = m;
    return HK_OK;
oom:
    hk_manifest_free(m);
    return hk_fail(err, HK_ENOMEM, "out of memory building a manifest");
}

/* Write a field with \\ \t \n \r and \xHH escapes for the other control bytes. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\': fputs("\\\\", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
}

static int manifest_writer(FILE *f, void *user, char *why, size_t n)
{
    const struct hk_manifest *m = user;
    (void)why;
    (void)n;
    fprintf(f, "%s\n# split\tlabel\tstate\tsha256\tpath (relative to the set's folder)\n", HK_MANIFEST_MAGIC);
    for (size_t i = 0; i < m->count; i++) {
        const struct hk_manifest_entry *e = &m->entries[i];
        char hex[2 * HK_SHA256_BYTES + 1] = "-";
        if (e->hashed)
            hk_sha256_hex(e->sha256, hex);
        put_escaped(f, e->split);
        fputc('\t', f);
        put_escaped(f, e->label);
        fprintf(f, "\t%s\t%s\t", e->skipped ? "skipped" : "ok", hex);
        put_escaped(f, e->path);
        fputc('\n', f);
    }
    return !ferror(f);
}

enum hk_status hk_manifest_write(const struct hk_manifest *m, const char *path, struct hk_error *err)
{
    return hk_file_write_atomic(path, manifest_writer, (void *)m, err);
}

/* Unescape field [p, end) into a new string; NULL with *why set when malformed or out of memory. */
static char *unescape(const char *p, const char *end, const char **why)
{
    char *out = malloc((size_t)(end - p) + 1), *o = out;
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    while (p < end) {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20 || c == 0x7f) {
            *why = "a raw control character (write it as \\xHH)";
            goto bad;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (p == end) {
            *why = "a backslash at the end of a field";
            goto bad;
        }
        c = (unsigned char)*p++;
        if (c == '\\')
            *o++ = '\\';
        else if (c == 't')
            *o++ = '\t';
        else if (c == 'n')
            *o++ = '\n';
        else if (c == 'r')
            *o++ = '\r';
        else if (c == 'x' && end - p >= 2 && hk_hex_digit(p[0]) >= 0 && hk_hex_digit(p[1]) >= 0) {
            int v = hk_hex_digit(p[0]) * 16 + hk_hex_digit(p[1]);
            if (v == 0) {
                *why = "\\x00 in a field";
                goto bad;
            }
            *o++ = (char)v;
            p += 2;
        } else {
            *why = "an unknown escape (expected \\\\, \\t, \\n, \\r or \\xHH)";
            goto bad;
        }
    }
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Parse one data line [p, end) into e; NULL on success, else what is wrong. */
static const char *parse_line(const char *p, const char *end, struct hk_manifest_entry *e)
{
    const char *field[FIELDS], *field_end[FIELDS];
    int n = 0;
    field[0] = p;
    for (const char *q = p; q < end; q++) {
        if (*q != '\t')
            continue;
        if (n == FIELDS - 1)
            return "more than 5 tab-separated fields (split, label, state, sha256, path)";
        field_end[n++] = q;
        field[n] = q + 1;
    }
    if (n != FIELDS - 1)
        return "fewer than 5 tab-separated fields (split, label, state, sha256, path)";
    field_end[n] = end;
    for (int i = 0; i < FIELDS; i++)
        if (field[i] == field_end[i])
            return i == 0 ? "empty split" : i == 1 ? "empty label" : i == 2 ? "empty state" : i == 3 ? "empty sha256"
                                                                                                  : "empty path";
    size_t slen = (size_t)(field_end[2] - field[2]);
    if (slen == 2 && memcmp(field[2], "ok", 2) == 0)
        e->skipped = 0;
    else if (slen == 7 && memcmp(field[2], "skipped", 7) == 0)
        e->skipped = 1;
    else
        return "the state must be 'ok' or 'skipped'";
    size_t hlen = (size_t)(field_end[3] - field[3]);
    if (hlen == 1 && field[3][0] == '-') {
        e->hashed = 0;
    } else {
        char hex[2 * HK_SHA256_BYTES + 1];
        if (hlen != 2 * HK_SHA256_BYTES)
            return "the sha256 must be 64 hex digits or '-'";
        memcpy(hex, field[3], hlen);
        hex[hlen] = '\0';
        if (!hk_sha256_parse_hex(hex, e->sha256))
            return "the sha256 must be 64 hex digits or '-'";
        e->hashed = 1;
    }
    if (!e->skipped && !e->hashed)
        return "a loaded ('ok') file needs a sha256";
    const char *why = NULL;
    if (!(e->split = unescape(field[0], field_end[0], &why)) || !(e->label = unescape(field[1], field_end[1], &why)) ||
        !(e->path = unescape(field[4], field_end[4], &why)))
        return why;
    return NULL;
}

enum hk_status hk_manifest_parse(const char *text, size_t n, const char *name, struct hk_manifest **out,
                                 struct hk_error *err)
{
    *out = NULL;
    if (!name)
        name = "manifest";
    if (n > HK_MANIFEST_MAX_BYTES)
        return hk_fail(err, HK_ENOMEM, "%s: too large: %zu bytes (limit %zu)", name, n, HK_MANIFEST_MAX_BYTES);
    struct hk_manifest *m = calloc(1, sizeof *m);
    size_t cap = 0;
    if (!m)
        return hk_fail(err, HK_ENOMEM, "out of memory reading %s", name);
    const char *p = text, *end = text + n;
    long line = 0;
    enum hk_status st = HK_OK;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (stop - p > HK_MANIFEST_MAX_LINE) {
            st = hk_fail(err, HK_EFORMAT, "%s:%ld: line longer than %d bytes", name, line, HK_MANIFEST_MAX_LINE);
            break;
        }
        if (memchr(p, '\0', (size_t)(stop - p))) {
            st = hk_fail(err, HK_EFORMAT, "%s:%ld: a NUL byte", name, line);
            break;
        }
        const char *last = stop > p && stop[-1] == '\r' ? stop - 1 : stop;
        if (line == 1) {
            size_t mlen = strlen(HK_MANIFEST_MAGIC);
            if ((size_t)(last - p) != mlen || memcmp(p, HK_MANIFEST_MAGIC, mlen) != 0) {
                st = hk_fail(err, HK_EFORMAT, "%s:1: not a husky manifest (the first line must be '%s')", name,
                             HK_MANIFEST_MAGIC);
                break;
            }
        } else if (last > p && *p != '#') {
            if (m->count == cap) {
                size_t c = cap ? cap * 2 : 256;
                struct hk_manifest_entry *v = realloc(m->entries, c * sizeof *v);
                if (!v) {
                    st = hk_fail(err, HK_ENOMEM, "out of memory reading %s", name);
                    break;
                }
                m->entries = v;
                cap = c;
            }
            struct hk_manifest_entry *e = &m->entries[m->count];
            memset(e, 0, sizeof *e);
            const char *why = parse_line(p, last, e);
            if (why) {
                entry_free(e);
                st = hk_fail(err, HK_EFORMAT, "%s:%ld: %s", name, line, why);
                break;
            }
            m->count++;
        }
        p = nl ? nl + 1 : end;
    }
    if (st == HK_OK && line == 0)
        st = hk_fail(err, HK_EFORMAT, "%s:1: empty file (expected '%s')", name, HK_MANIFEST_MAGIC);
    if (st != HK_OK) {
        hk_manifest_free(m);
        return st;
    }
    *out = m;
    return HK_OK;
}

enum hk_status hk_manifest_read(const char *path, struct hk_manifest **out, struct hk_error *err)
{
    char ebuf[128];
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return hk_fail(err, HK_EIO, "cannot open '%s': %s", path, hk_os_error(errno, ebuf, sizeof ebuf));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return hk_fail(err, HK_EIO, "'%s' is not a regular file", path);
    }
    if ((uintmax_t)sb.st_size > HK_MANIFEST_MAX_BYTES) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "'%s' is too large: %jd bytes (limit %zu)", path, (intmax_t)sb.st_size,
                       HK_MANIFEST_MAX_BYTES);
    }
    size_t size = (size_t)sb.st_size, got = 0;
    char *text = malloc(size ? size : 1);
    if (!text) {
        close(fd);
        return hk_fail(err, HK_ENOMEM, "out of memory reading '%s'", path);
    }
    while (got < size) {
        ssize_t r = read(fd, text + got, size - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    int e = errno;
    close(fd);
    if (got < size) {
        free(text);
        return hk_fail(err, HK_EIO, "cannot read '%s': %s", path, hk_os_error(e ? e : EIO, ebuf, sizeof ebuf));
    }
    enum hk_status st = hk_manifest_parse(text, got, path, out, err);
    free(text);
    return st;
}

/* Sorting entries (by pointer) on (split, path) and on sha256. */
static int by_key(const void *pa, const void *pb)
{
    const struct hk_manifest_entry *a = *(const struct hk_manifest_entry *const *)pa;
    const struct hk_manifest_entry *b = *(const struct hk_manifest_entry *const *)pb;
    int c = strcmp(a->split, b->split);
    return c ? c : strcmp(a->path, b->path);
}

static int by_hash(const void *pa, const void *pb)
{
    const struct hk_manifest_entry *a = *(const struct hk_manifest_entry *const *)pa;
    const struct hk_manifest_entry *b = *(const struct hk_manifest_entry *const *)pb;
    if (a->hashed != b->hashed)
        return a->hashed - b->hashed;
    int c = memcmp(a->sha256, b->sha256, HK_SHA256_BYTES);
    return c ? c : (a > b) - (a < b);
}

static int same_content(const struct hk_manifest_entry *a, const struct hk_manifest_entry *b)
{
    return a->skipped == b->skipped && a->hashed == b->hashed &&
           (!a->hashed || memcmp(a->sha256, b->sha256, HK_SHA256_BYTES) == 0);
}

static void add_difference(struct hk_manifest_diff *d, enum hk_manifest_change kind,
                           const struct hk_manifest_entry *was, const struct hk_manifest_entry *now)
{
    d->v[d->count++] = (struct hk_manifest_difference){kind, was, now};
    d->counts[kind]++;
}

static int by_kind(const void *pa, const void *pb)
{
    const struct hk_manifest_difference *a = pa, *b = pb;
    if (a->kind != b->kind)
        return (int)a->kind - (int)b->kind;
    const struct hk_manifest_entry *x = a->was ? a->was : a->now, *y = b->was ? b->was : b->now;
    int c = strcmp(x->split, y->split);
    return c ? c : strcmp(x->path, y->path);
}

enum hk_status hk_manifest_compare(const struct hk_manifest *was, const struct hk_manifest *now,
                                   struct hk_manifest_diff *out, struct hk_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nw = was->count, nn = now->count;
    const struct hk_manifest_entry **w = malloc((nw ? nw : 1) * sizeof *w);
    const struct hk_manifest_entry **n = malloc((nn ? nn : 1) * sizeof *n);
    unsigned char *wused = calloc(nw ? nw : 1, 1), *nused = calloc(nn ? nn : 1, 1);
    out->v = malloc((nw + nn ? nw + nn : 1) * sizeof *out->v);
    if (!w || !n || !wused || !nused || !out->v) {
        free(w), free(n), free(wused), free(nused);
        hk_manifest_diff_free(out);
        return hk_fail(err, HK_ENOMEM, "out of memory comparing manifests");
    }
    for (size_t i = 0; i < nw; i++)
        w[i] = &was->entries[i];
    for (size_t i = 0; i < nn; i++)
        n[i] = &now->entries[i];

    /* 1. the same (split, path) in both: equal or changed */
    qsort(w, nw, sizeof *w, by_key);
    qsort(n, nn, sizeof *n, by_key);
    for (size_t i = 0, j = 0; i < nw && j < nn;) {
        int c = by_key(&w[i], &n[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            if (same_content(w[i], n[j]))
                out->same++;
            else
                add_difference(out, HK_MANIFEST_CHANGED, w[i], n[j]);
            wused[i] = nused[j] = 1;
            i++, j++;
        }
    }

    /* 2. the rest with equal bytes: moved; 3. what is left: removed and added */
    size_t rw = 0, rn = 0;
    for (size_t i = 0; i < nw; i++)
        if (!wused[i])
            w[rw++] = w[i];
    for (size_t j = 0; j < nn; j++)
        if (!nused[j])
            n[rn++] = n[j];
    memset(wused, 0, rw);
    memset(nused, 0, rn);
    qsort(w, rw, sizeof *w, by_hash);
    qsort(n, rn, sizeof *n, by_hash);
    for (size_t i = 0, j = 0; i < rw && j < rn;) {
        if (!w[i]->hashed) {
            i++;
            continue;
        }
        if (!n[j]->hashed) {
            j++;
            continue;
        }
        int c = memcmp(w[i]->sha256, n[j]->sha256, HK_SHA256_BYTES);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            add_difference(out, HK_MANIFEST_MOVED, w[i], n[j]);
            wused[i] = nused[j] = 1;
            i++, j++;
        }
    }
    for (size_t i = 0; i < rw; i++)
        if (!wused[i])
            add_difference(out, HK_MANIFEST_REMOVED, w[i], NULL);
    for (size_t j = 0; j < rn; j++)
        if (!nused[j])
            add_difference(out, HK_MANIFEST_ADDED, NULL, n[j]);
    qsort(out->v, out->count, sizeof *out->v, by_kind);
    free(w), free(n), free(wused), free(nused);
    return HK_OK;
}

void hk_manifest_diff_free(struct hk_manifest_diff *d)
{
    if (!d)
        return;
    free(d->v);
    d->v = NULL;
    d->count = 0;
}
