/* fuzz_files.c: temporary files for the fuzz targets (fuzz_files.h). */
#include "fuzz_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

const char *fuzz_temp_path(const char *name)
{
    static char dir[64];
    static char path[2][128];
    static int next;
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/hkfuzz.XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
    }
    char *p = path[next++ % 2];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}
