/* atomic_file.c: temporary file, sync, rename: the one way the core writes files. */
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

enum hk_status hk_file_write_atomic(const char *path, hk_file_writer write, void *user, struct hk_error *err)
{
    char ebuf[128];
    if (!path || !*path || !write)
        return hk_fail(err, HK_EINVAL, "write: missing path");
    size_t tmp_size = strlen(path) + 16;
    char *tmp = malloc(tmp_size);
    if (!tmp)
        return hk_fail(err, HK_ENOMEM, "cannot write '%s': out of memory", path);
    int fd = open_temp(path, tmp, tmp_size);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_os_error(e, ebuf, sizeof ebuf));
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, hk_os_error(e, ebuf, sizeof ebuf));
    }

    char why[200] = "";
    const char *what = NULL;
    errno = 0;
    if (!write(fp, user, why, sizeof why))
        what = why[0] ? why : hk_os_error(errno ? errno : EIO, ebuf, sizeof ebuf);
    else if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0)
        what = hk_os_error(errno ? errno : EIO, ebuf, sizeof ebuf);
    if (fclose(fp) != 0 && !what)
        what = hk_os_error(errno, ebuf, sizeof ebuf);
    if (!what && rename(tmp, path) != 0)
        what = hk_os_error(errno, ebuf, sizeof ebuf);
    if (what) {
        unlink(tmp);
        free(tmp);
        return hk_fail(err, HK_EIO, "cannot write '%s': %s", path, what);
    }
    free(tmp);
    return HK_OK;
}
