/* fuzz_files.h: temporary files for the fuzz targets that go through the file system: one private
 * folder per process (under $TMPDIR or /tmp), made at first use. */
#ifndef HK_FUZZ_FILES_H
#define HK_FUZZ_FILES_H

#include <stddef.h>

/* The path of NAME inside the private folder. The two most recent results stay valid. */
const char *fuzz_temp_path(const char *name);

/* Write size bytes to path, replacing it; a failure is a failed property. */
void fuzz_write_file(const char *path, const void *data, size_t size);

#endif
