/* folder.h: the files under a folder, recursively and in a fixed order, for commands that take a
 * FOLDER of pictures (predict). */
#ifndef HUSKY_FOLDER_H
#define HUSKY_FOLDER_H

#include <stddef.h>

#define FOLDER_MAX_DEPTH 32

struct folder_list {
    char **paths;  /* owned; free with folder_list_free */
    size_t count, cap;
};

/* Append the files under dir: each folder's entries sorted by name (strcmp), sub-folders entered
 * where they sort, hidden entries (".name") skipped, symbolic links to folders not followed, at
 * most FOLDER_MAX_DEPTH levels. A sub-folder that cannot be read is appended as a path (opening it
 * later says why). Returns 0, or an errno value when dir itself cannot be read or memory runs out. */
int folder_list_files(const char *dir, struct folder_list *out);

void folder_list_free(struct folder_list *l);

#endif
