/* atomic_file.c: temporary file, sync, rename, folder sync. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
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

int hk_atomic_open(struct hk_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path)
        return ENOENT;
    size_t tmp_size = strlen(path) + 16;
    if (!(a->tmp = malloc(tmp_size)))
        return ENOMEM;
    int fd = open_temp(path, a->tmp, tmp_size);
    if (fd >= 0 && !(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        errno = e;
    }
    if (!a->f) {
        int e = errno ? errno : EIO;
        free(a->tmp);
        a->tmp = NULL;
        return e;
    }
    struct stat st; /* a replaced file keeps its permissions */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        fchmod(fd, st.st_mode & 0777);
    a->path = path;
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
    if (!e && rename(a->tmp, a->path) != 0)
        e = errno ? errno : EIO;
    if (e)
        unlink(a->tmp);
    else
        sync_folder(a->path);
    free(a->tmp);
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
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_os_error(e, ebuf, sizeof ebuf));
    errno = 0;
    if (!write(a.f, user, why, sizeof why)) {
        if (!why[0])
            snprintf(why, sizeof why, "%s", hk_os_error(errno ? errno : EIO, ebuf, sizeof ebuf));
        hk_atomic_abort(&a);
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, why);
    }
    if ((e = hk_atomic_commit(&a)) != 0)
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_os_error(e, ebuf, sizeof ebuf));
    return HK_OK;
}
