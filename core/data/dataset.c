/* dataset.c: scanning a class-per-folder image tree, decoding and resizing it in parallel into one
 * uint8 cache, with every file that could not be loaded recorded with its reason. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growable list of owned strings. */
struct names {
    char **v;
    size_t n, cap;
};

/* One file found under a class folder: decoded unless reason is already set by the scan. */
struct item {
    char *path;
    char *reason;
    int label;
    uint64_t hash; /* of the decoded pixels */
    int hashed;    /* sha256 is set: the file's bytes were read */
    unsigned char sha256[32];
};

struct items {
    struct item *v;
    size_t n, cap;
};

/* What the decoding workers share. Each item index is claimed by exactly one worker. */
struct work {
    struct item *items;
    size_t count;
    unsigned char *pixels;
    size_t stride;
    struct hk_size size;
    const struct hk_image_limits *lim;
    atomic_size_t next;
    atomic_size_t done;         /* items finished, for progress */
    atomic_int out_of_memory;
    hk_dataset_progress_fn progress; /* may be NULL; called by the loading thread only */
    void *progress_user;
};

/* a + "/" + b, owned; NULL when memory runs out. */
static char *join_path(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    char *p = malloc(alen + blen + 2);
    if (!p)
        return NULL;
    memcpy(p, a, alen);
    p[alen] = '/';
    memcpy(p + alen + 1, b, blen + 1);
    return p;
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Append s (taking ownership); on failure s is freed and 0 returned. */
static int names_push(struct names *l, char *s)
{
    if (!s)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = cap <= SIZE_MAX / sizeof *v ? realloc(l->v, cap * sizeof *v) : NULL;
        if (!v) {
            free(s);
            return 0;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void items_free(struct items *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].reason);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Append an item for path (taking ownership), with an optional reason to skip it (copied). */
static int items_push(struct items *l, char *path, int label, const char *reason)
{
    if (!path)
        return 0;
    char *r = reason ? strdup(reason) : NULL;
    if (reason && !r) {
        free(path);
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct item *v = cap <= SIZE_MAX / sizeof *v ? realloc(l->v, cap * sizeof *v) : NULL;
        if (!v) {
            free(path);
            free(r);
            return 0;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].path = path;
    l->v[l->n].reason = r;
    l->v[l->n].label = label;
    l->v[l->n].hash = 0;
    l->v[l->n].hashed = 0;
    l->n++;
    return 1;
}

/* The non-hidden entry names of an open folder, sorted with strcmp. Returns 0 when memory runs
 * out, -1 (errno set) when the folder cannot be read, 1 on success. Closes dir. */
static int list_folder(DIR *dir, struct names *out)
{
    int rc = 1;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno)
                rc = -1;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (!names_push(out, strdup(de->d_name))) {
            rc = 0;
            break;
        }
    }
    int e = errno;
    closedir(dir);
    errno = e;
    if (rc == 1 && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, compare_names);
    return rc;
}

/* Record every entry of class folder dir_path (label) as an item, sorted by name. */
static enum hk_status scan_class(const char *dir_path, int label, struct items *items, struct hk_error *err)
{
    char ebuf[128];
    struct names entries = { 0 };
    DIR *dir = opendir(dir_path);
    if (!dir) {
        const char *why = hk_os_error(errno, ebuf, sizeof ebuf);
        char reason[200];
        snprintf(reason, sizeof reason, "cannot open folder: %s", why);
        char *p = strdup(dir_path);
        if (!items_push(items, p, label, reason))
            return hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", dir_path);
        return HK_OK;
    }
    int rc = list_folder(dir, &entries);
    if (rc == 0) {
        names_free(&entries);
        return hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", dir_path);
    }
    if (rc < 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "cannot read folder: %s", hk_os_error(errno, ebuf, sizeof ebuf));
        names_free(&entries);
        if (!items_push(items, strdup(dir_path), label, reason))
            return hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", dir_path);
        return HK_OK;
    }

    size_t dlen = strlen(dir_path);
    for (size_t i = 0; i < entries.n; i++) {
        char *path = join_path(dir_path, dlen, entries.v[i]);
        if (!path) {
            names_free(&entries);
            return hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", dir_path);
        }
        struct stat st;
        const char *reason = NULL;
        if (stat(path, &st) != 0)
            reason = hk_os_error(errno, ebuf, sizeof ebuf);
        else if (S_ISDIR(st.st_mode))
            reason = "is a directory";
        else if (!S_ISREG(st.st_mode))
            reason = "not a regular file";
        if (!items_push(items, path, label, reason)) {
            names_free(&entries);
            return hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", dir_path);
        }
    }
    names_free(&entries);
    return HK_OK;
}

/* Decode items until none is left; the loading thread (caller) also reports progress. */
static void decode_items(struct work *w, int caller)
{
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->count)
            break;
        size_t done = atomic_fetch_add(&w->done, 1) + 1; /* counted as it starts: close enough */
        if (caller && w->progress)
            w->progress(w->progress_user, done, w->count);
        struct item *it = &w->items[i];
        if (it->reason)
            continue;
        struct hk_error e;
        hk_error_clear(&e);
        unsigned char *dst = w->pixels + i * w->stride;
        if (hk_image_load_resized_digest(it->path, w->lim, dst, w->size, it->sha256, &it->hashed, &e) !=
            HK_OK) {
            it->reason = strdup(e.msg[0] ? e.msg : hk_status_name(e.status));
            if (!it->reason)
                atomic_store(&w->out_of_memory, 1);
        } else {
            it->hash = hk_dataset_pixel_hash(dst, w->stride);
        }
    }
}

static void *decode_worker(void *arg)
{
    decode_items(arg, 0);
    return NULL;
}

/* Decode every pending item with `threads` threads, the calling thread being one of them. */
static void decode_all(struct work *w, int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 && n < 1024 ? (int)n : 1;
    }
    if ((size_t)threads > w->count)
        threads = w->count ? (int)w->count : 1;
    pthread_t *tids = threads > 1 ? malloc((size_t)(threads - 1) * sizeof *tids) : NULL;
    int started = 0;
    if (tids) {
        while (started < threads - 1 && pthread_create(&tids[started], NULL, decode_worker, w) == 0)
            started++;
    }
    decode_items(w, 1);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    if (w->progress)
        w->progress(w->progress_user, w->count, w->count);
}

void hk_dataset_free(struct hk_dataset *ds)
{
    if (!ds)
        return;
    free(ds->root);
    free(ds->pixels);
    free(ds->labels);
    if (ds->paths)
        for (size_t i = 0; i < ds->count; i++)
            free(ds->paths[i]);
    free(ds->paths);
    if (ds->class_names)
        for (int c = 0; c < ds->class_count; c++)
            free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->class_counts);
    free(ds->pixel_hash);
    free(ds->file_sha256);
    if (ds->skipped)
        for (size_t i = 0; i < ds->skipped_count; i++) {
            free(ds->skipped[i].path);
            free(ds->skipped[i].reason);
        }
    free(ds->skipped);
    free(ds);
}

const unsigned char *hk_dataset_image(const struct hk_dataset *ds, size_t i)
{
    if (!ds || i >= ds->count)
        return NULL;
    return ds->pixels + i * (size_t)ds->width * (size_t)ds->height * 3;
}

uint64_t hk_dataset_pixel_hash(const unsigned char *pixels, size_t n)
{
    /* 8 bytes at a time, multiply-xorshift mixing (splitmix64's finaliser), then the tail. */
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, pixels + i, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ pixels[i]) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

const char *hk_dataset_relative_path(const struct hk_dataset *ds, const char *path)
{
    size_t rlen = strlen(ds->root);
    while (rlen > 1 && ds->root[rlen - 1] == '/')
        rlen--;
    if (rlen == 1 && ds->root[0] == '/')
        rlen = 0;
    if (strncmp(path, ds->root, rlen) == 0 && path[rlen] == '/')
        return path + rlen + 1;
    return path;
}

/* Move the decoded items into ds (in order) and the others into ds->skipped; items end up empty. */
static enum hk_status collect(struct hk_dataset *ds, struct items *items, unsigned char *pixels, size_t stride,
                              struct hk_error *err)
{
    size_t ok = 0, bad = 0;
    for (size_t i = 0; i < items->n; i++)
        if (items->v[i].reason)
            bad++;
        else
            ok++;
    ds->labels = malloc((ok ? ok : 1) * sizeof *ds->labels);
    ds->paths = calloc(ok ? ok : 1, sizeof *ds->paths);
    ds->pixel_hash = malloc((ok ? ok : 1) * sizeof *ds->pixel_hash);
    ds->file_sha256 = malloc((ok ? ok : 1) * sizeof *ds->file_sha256);
    ds->skipped = calloc(bad ? bad : 1, sizeof *ds->skipped);
    if (!ds->labels || !ds->paths || !ds->pixel_hash || !ds->file_sha256 || !ds->skipped) {
        free(pixels);
        return hk_fail(err, HK_ENOMEM, "out of memory loading '%s'", ds->root);
    }

    for (size_t i = 0; i < items->n; i++) {
        struct item *it = &items->v[i];
        if (it->reason) {
            ds->skipped[ds->skipped_count].path = it->path;
            ds->skipped[ds->skipped_count].reason = it->reason;
            ds->skipped[ds->skipped_count].label = it->label;
            ds->skipped[ds->skipped_count].hashed = it->hashed;
            memcpy(ds->skipped[ds->skipped_count].sha256, it->sha256, sizeof it->sha256);
            ds->skipped_count++;
        } else {
            if (ds->count != i)
                memmove(pixels + ds->count * stride, pixels + i * stride, stride);
            ds->labels[ds->count] = it->label;
            ds->paths[ds->count] = it->path;
            ds->pixel_hash[ds->count] = it->hash;
            memcpy(ds->file_sha256[ds->count], it->sha256, sizeof it->sha256);
            ds->class_counts[it->label]++;
            ds->count++;
        }
        it->path = it->reason = NULL;
    }
    size_t slots = items->n;
    items->n = 0;

    if (ds->count == 0) {
        free(pixels);
        pixels = NULL;
    } else if (ds->count < slots) {
        unsigned char *shrunk = realloc(pixels, ds->count * stride);
        if (shrunk)
            pixels = shrunk;
    }
    ds->pixels = pixels;
    return HK_OK;
}

enum hk_status hk_dataset_load(const char *root, struct hk_size size, const struct hk_image_limits *lim,
                               int threads, struct hk_dataset **out, struct hk_error *err)
{
    return hk_dataset_load_progress(root, size, lim, threads, NULL, NULL, out, err);
}

enum hk_status hk_dataset_load_progress(const char *root, struct hk_size size, const struct hk_image_limits *lim,
                                        int threads, hk_dataset_progress_fn progress, void *user,
                                        struct hk_dataset **out, struct hk_error *err)
{
    int width = size.w, height = size.h;
    char ebuf[128];
    struct hk_image_limits defaults = hk_image_limits_default();
    if (!out)
        return hk_fail(err, HK_EINVAL, "data: no output");
    *out = NULL;
    if (!root || !*root)
        return hk_fail(err, HK_EINVAL, "data: no folder given");
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        return hk_fail(err, HK_EINVAL, "data '%s': bad image size %dx%d", root, height, width);
    if (!lim)
        lim = &defaults;

    /* The folder prefix of every path: root without trailing slashes (but "/" stays "/"). */
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/')
        rlen--;
    if (rlen == 1 && root[0] == '/')
        rlen = 0;

    DIR *dir = opendir(root);
    if (!dir)
        return hk_fail(err, HK_EIO, "cannot open data folder '%s': %s", root, hk_os_error(errno, ebuf, sizeof ebuf));
    struct names entries = { 0 }, classes = { 0 };
    struct items items = { 0 };
    struct hk_dataset *ds = NULL;
    unsigned char *pixels = NULL;
    enum hk_status st = HK_OK;

    int rc = list_folder(dir, &entries);
    if (rc == 0) {
        st = hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", root);
        goto fail;
    }
    if (rc < 0) {
        st = hk_fail(err, HK_EIO, "cannot read data folder '%s': %s", root, hk_os_error(errno, ebuf, sizeof ebuf));
        goto fail;
    }
    for (size_t i = 0; i < entries.n; i++) {
        char *path = join_path(root, rlen, entries.v[i]);
        if (!path) {
            st = hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", root);
            goto fail;
        }
        struct stat sb;
        int is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(path);
        if (is_dir) {
            if (!names_push(&classes, entries.v[i])) {
                entries.v[i] = NULL;
                st = hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", root);
                goto fail;
            }
            entries.v[i] = NULL;
        }
    }
    names_free(&entries);
    if (classes.n == 0) {
        st = hk_fail(err, HK_EINVAL, "data folder '%s' has no class sub-folders (expected %s/CLASS/IMAGE files)",
                     root, root);
        goto fail;
    }
    if (classes.n > INT_MAX) {
        st = hk_fail(err, HK_EINVAL, "data folder '%s' has too many class sub-folders", root);
        goto fail;
    }

    for (size_t c = 0; c < classes.n; c++) {
        char *cdir = join_path(root, rlen, classes.v[c]);
        if (!cdir) {
            st = hk_fail(err, HK_ENOMEM, "out of memory scanning '%s'", root);
            goto fail;
        }
        st = scan_class(cdir, (int)c, &items, err);
        free(cdir);
        if (st != HK_OK)
            goto fail;
    }

    size_t stride = (size_t)width * (size_t)height * 3;
    size_t slots = items.n ? items.n : 1;
    if (slots > SIZE_MAX / stride || !(pixels = malloc(slots * stride))) {
        st = hk_fail(err, HK_ENOMEM, "out of memory: %zu images of %dx%d pixels in '%s'", items.n, height, width,
                     root);
        goto fail;
    }

    struct work work = { .items = items.v,
                         .count = items.n,
                         .pixels = pixels,
                         .stride = stride,
                         .size = size,
                         .lim = lim,
                         .progress = progress,
                         .progress_user = user };
    atomic_init(&work.next, 0);
    atomic_init(&work.done, 0);
    atomic_init(&work.out_of_memory, 0);
    decode_all(&work, threads);
    if (atomic_load(&work.out_of_memory)) {
        st = hk_fail(err, HK_ENOMEM, "out of memory loading '%s'", root);
        goto fail;
    }

    ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->root = strdup(root)) || !(ds->class_counts = calloc(classes.n, sizeof *ds->class_counts))) {
        st = hk_fail(err, HK_ENOMEM, "out of memory loading '%s'", root);
        goto fail;
    }
    ds->width = width;
    ds->height = height;
    ds->class_count = (int)classes.n;
    ds->class_names = classes.v;
    classes.v = NULL;
    classes.n = classes.cap = 0;
    st = collect(ds, &items, pixels, stride, err);
    pixels = NULL;
    if (st != HK_OK)
        goto fail;
    items_free(&items);
    *out = ds;
    return HK_OK;

fail:
    hk_dataset_free(ds);
    free(pixels);
    items_free(&items);
    names_free(&classes);
    names_free(&entries);
    return st;
}
