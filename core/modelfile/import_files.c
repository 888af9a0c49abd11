/* import_files.c: hk_import_tfjs: model.json read from a regular file within the size limit, the
 * weight shards its manifest names (plain file names next to it) checked against the manifest's
 * byte counts before they are read, then the import. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import_internal.h"
#include "import_tfjs.h"

/* Open a regular file for reading (without blocking on a FIFO) and give its size. */
static enum hk_status open_regular(const char *path, const char *shown, int *fd, uint64_t *size,
                                   struct hk_error *err)
{
    char why[128];
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (*fd < 0 || fstat(*fd, &st) != 0) {
        int e = errno;
        if (*fd >= 0)
            close(*fd);
        return hk_fail(err, HK_EIO, "cannot read '%.200s': %s", shown, hk_os_error(e, why, sizeof why));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return hk_fail(err, HK_EIO, "'%.200s' is not a regular file", shown);
    }
    *size = (uint64_t)st.st_size;
    return HK_OK;
}

/* Read exactly n bytes of fd into buf; a file that changed size is an error. Closes fd. */
static enum hk_status read_exact(int fd, const char *shown, unsigned char *buf, uint64_t n, struct hk_error *err)
{
    uint64_t got = 0;
    char why[128], extra;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got > (1u << 30) ? (1u << 30) : (size_t)(n - got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return r < 0 ? hk_fail(err, HK_EIO, "cannot read '%.200s': %s", shown, hk_os_error(e, why, sizeof why))
                         : hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", shown);
        }
        got += (uint64_t)r;
    }
    ssize_t r = read(fd, &extra, 1);
    close(fd);
    if (r != 0)
        return hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", shown);
    return HK_OK;
}

/* path's folder joined with a weight file name that must be a plain name in it. */
static enum hk_status shard_path(const char *json_path, const char *file, const char *shard, char *out, size_t cap,
                                 struct hk_error *err)
{
    if (!shard[0] || strchr(shard, '/') || strchr(shard, '\\') || !strcmp(shard, ".") || !strcmp(shard, ".."))
        return tj_fail(err, HK_EFORMAT, file, "weight file '%.80s' must be a plain file name next to the model "
                                              "JSON",
                       shard);
    const char *slash = strrchr(json_path, '/');
    int dir = slash ? (int)(slash - json_path) + 1 : 0;
    if (snprintf(out, cap, "%.*s%s", dir, json_path, shard) >= (int)cap)
        return tj_fail(err, HK_EFORMAT, file, "the path of weight file '%.80s' is too long", shard);
    return HK_OK;
}

/* Check each group's weight files against its tensors' bytes, then read them all into *out. */
static enum hk_status read_shards(const char *json_path, const char *file, const struct tj_manifest *m,
                                  unsigned char **out, struct hk_error *err)
{
    char path[4096];
    enum hk_status st;
    *out = NULL;
    for (int g = 0; g < m->ngroups; g++) {
        uint64_t have = 0;
        const json_t *paths = m->group_paths[g];
        for (size_t k = 0; k < json_array_size(paths); k++) {
            const char *s = json_string_value(json_array_get(paths, k));
            int fd;
            uint64_t size;
            if (!s)
                return tj_fail(err, HK_EFORMAT, file, "weightsManifest group %d: paths must be file names", g + 1);
            if ((st = shard_path(json_path, file, s, path, sizeof path, err)) != HK_OK ||
                (st = open_regular(path, path, &fd, &size, err)) != HK_OK)
                return st;
            close(fd);
            have += size > HK_IMPORT_MAX_WEIGHT_BYTES ? HK_IMPORT_MAX_WEIGHT_BYTES + 1 : size;
        }
        if (have != m->group_bytes[g])
            return tj_fail(err, HK_EFORMAT, file, "the weight files of group %d (%.80s%s) hold %llu bytes; the "
                                                  "manifest's tensors need %llu (a truncated download, or weights "
                                                  "that do not belong to this model)",
                           g + 1, json_string_value(json_array_get(paths, 0)) ? json_string_value(json_array_get(paths, 0)) : "none",
                           json_array_size(paths) > 1 ? ", ..." : "", (unsigned long long)have,
                           (unsigned long long)m->group_bytes[g]);
    }
    if (!(*out = malloc(m->total ? (size_t)m->total : 1)))
        return tj_fail(err, HK_ENOMEM, file, "out of memory for %llu bytes of weights", (unsigned long long)m->total);
    uint64_t at = 0;
    for (int g = 0; g < m->ngroups; g++) {
        const json_t *paths = m->group_paths[g];
        for (size_t k = 0; k < json_array_size(paths); k++) {
            int fd;
            uint64_t size;
            shard_path(json_path, file, json_string_value(json_array_get(paths, k)), path, sizeof path, err);
            if ((st = open_regular(path, path, &fd, &size, err)) != HK_OK)
                break;
            if (size > m->total - at) {
                close(fd);
                st = hk_fail(err, HK_EFORMAT, "'%.200s' changed size while it was read", path);
                break;
            }
            if ((st = read_exact(fd, path, *out + at, size, err)) != HK_OK)
                break;
            at += size;
        }
        if (st != HK_OK)
            break;
    }
    if (st == HK_OK && at != m->total)
        st = tj_fail(err, HK_EFORMAT, file, "the weight files changed while they were read");
    if (st != HK_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

enum hk_status hk_import_tfjs(const char *path, uint64_t seed, struct hk_model **out, struct hk_import_info *info,
                              struct hk_error *err)
{
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    const char *slash = strrchr(path, '/'), *file = slash ? slash + 1 : path;
    int fd;
    uint64_t size;
    enum hk_status st = open_regular(path, path, &fd, &size, err);
    if (st != HK_OK)
        return st;
    if (size > HK_IMPORT_MAX_JSON_BYTES) {
        close(fd);
        return tj_fail(err, HK_ENOMEM, file, "%llu bytes; the limit for a model JSON is %zu",
                       (unsigned long long)size, HK_IMPORT_MAX_JSON_BYTES);
    }
    char *text = malloc((size_t)size + 1);
    if (!text) {
        close(fd);
        return tj_fail(err, HK_ENOMEM, file, "out of memory");
    }
    if ((st = read_exact(fd, path, (unsigned char *)text, size, err)) != HK_OK) {
        free(text);
        return st;
    }
    struct tj_ctx *c = calloc(1, sizeof *c);
    json_t *root = NULL;
    unsigned char *weights = NULL;
    if (!c)
        st = tj_fail(err, HK_ENOMEM, file, "out of memory");
    if (st == HK_OK) {
        c->file = file;
        c->err = err;
        st = tj_parse(file, text, (size_t)size, &root, err);
    }
    free(text);
    if (st == HK_OK)
        st = tj_manifest_read(file, root, &c->man, err);
    if (st == HK_OK)
        st = read_shards(path, file, &c->man, &weights, err);
    if (st == HK_OK) {
        c->weights = weights;
        st = tj_run(c, root, seed, out, info);
    }
    free(weights);
    json_decref(root);
    tj_ctx_free(c);
    return st;
}
