/* atomic_file.c: symbolic links followed, special files refused, temporary file, sync, rename,
 * folder sync. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Create path.tmp.XXXXXX exclusively with mode 0666 (so the umask applies, unlike mkstemp's 0600);
 * tmp receives the name. Returns the descriptor or -1 with errno set. */
static int open_temp(const char *path, char *tmp, size_t tmp_size)
{
    static atomic_uint counter;
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t v = x + 0x9e3779b97f4a7c15ULL * (atomic_fetch_add(&counter, 1) + 1u);
        v ^= v >> 31;
        v *= 0xbf58476d1ce4e5b9ULL;
        v ^= v >> 29;
        char suffix[7];
        for (int i = 0; i < 6; i++, v /= 62)
            suffix[i] = digits[v % 62];
        suffix[6] = '\0';
        snprintf(tmp, tmp_size, "%s.tmp.%s", path, suffix);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Best effort: make the rename itself durable. */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir)
        return;
    if (dir) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* The file that writing path replaces: path itself, or where the chain of symbolic links that
 * path names ends (a link to a file not made yet names that file). Relative link contents are
 * read from the link's folder. Owned string, or NULL with *e set (ELOOP, ENAMETOOLONG, ENOMEM, or
 * what lstat or readlink said). */
static char *final_target(const char *path, int *e)
{
    char *cur = strdup(path);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT)
                return cur; /* to be created */
            *e = errno;
            free(cur);
            return NULL;
        }
        if (!S_ISLNK(st.st_mode))
            return cur;
        if (hops == 40) {
            *e = ELOOP;
            free(cur);
            return NULL;
        }
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0 || n == (ssize_t)sizeof link - 1) {
            *e = n < 0 ? errno : ENAMETOOLONG;
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t dir = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1; /* keep "folder/" */
        char *next = malloc(dir + (size_t)n + 1);
        if (next) {
            memcpy(next, cur, dir);
            memcpy(next + dir, link, (size_t)n + 1);
        }
        free(cur);
        cur = next;
    }
    *e = ENOMEM;
    return NULL;
}

/* 0 when target may be replaced: it does not exist or is a regular file. */
static int check_kind(const char *target)
{
    struct stat st;
    if (stat(target, &st) != 0)
        return errno == ENOENT ? 0 : errno;
    if (S_ISREG(st.st_mode))
        return 0;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (S_ISFIFO(st.st_mode))
        return HK_ATOMIC_EFIFO;
    if (S_ISSOCK(st.st_mode))
        return HK_ATOMIC_ESOCKET;
    return HK_ATOMIC_EDEVICE;
}

const char *hk_atomic_strerror(int e, char *buf, size_t n)
{
    switch (e) {
    case HK_ATOMIC_EFIFO: return "it is a FIFO (named pipe), not a regular file; it is left as it is";
    case HK_ATOMIC_ESOCKET: return "it is a socket, not a regular file; it is left as it is";
    case HK_ATOMIC_EDEVICE: return "it is a device, not a regular file; it is left as it is";
    default: return hk_os_error(e, buf, n);
    }
}

int hk_atomic_open(struct hk_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path)
        return ENOENT;
    int e = 0;
    char *target = final_target(path, &e);
    if (!target)
        return e;
    if ((e = check_kind(target)) != 0) {
        free(target);
        return e;
    }
    size_t tmp_size = strlen(target) + 16;
    if (!(a->tmp = malloc(tmp_size))) {
        free(target);
        return ENOMEM;
    }
    int fd = open_temp(target, a->tmp, tmp_size);
    if (fd >= 0 && !(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        errno = e;
    }
    if (!a->f) {
        e = errno ? errno : EIO;
        free(a->tmp);
        free(target);
        a->tmp = NULL;
        return e;
    }
    struct stat st; /* a replaced file keeps its permissions */
    if (stat(target, &st) == 0 && S_ISREG(st.st_mode))
        fchmod(fd, st.st_mode & 0777);
    a->target = target;
    return 0;
}

int hk_atomic_commit(struct hk_atomic_file *a)
{
    int e = 0;
    errno = 0;
    if (fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !e)
        e = errno ? errno : EIO;
    if (!e)
        e = check_kind(a->target); /* made meanwhile? still never renamed over */
    if (!e && rename(a->tmp, a->target) != 0)
        e = errno ? errno : EIO;
    if (e)
        unlink(a->tmp);
    else
        sync_folder(a->target);
    free(a->tmp);
    free(a->target);
    memset(a, 0, sizeof *a);
    return e;
}

void hk_atomic_abort(struct hk_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    free(a->target);
    memset(a, 0, sizeof *a);
}

enum hk_status hk_file_write_atomic(const char *path, hk_file_writer write, void *user, struct hk_error *err)
{
    char ebuf[128], why[200] = "";
    struct hk_atomic_file a;
    if (!path || !*path || !write)
        return hk_fail(err, HK_EINVAL, "write: missing path");
    int e = hk_atomic_open(&a, path);
    if (e)
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_atomic_strerror(e, ebuf, sizeof ebuf));
    errno = 0;
    if (!write(a.f, user, why, sizeof why)) {
        if (!why[0])
            snprintf(why, sizeof why, "%s", hk_os_error(errno ? errno : EIO, ebuf, sizeof ebuf));
        hk_atomic_abort(&a);
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, why);
    }
    if ((e = hk_atomic_commit(&a)) != 0)
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_atomic_strerror(e, ebuf, sizeof ebuf));
    return HK_OK;
}
