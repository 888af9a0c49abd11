/* folder.c: recursive, sorted file listing. */
#include "folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(struct folder_list *l, char *path)
{
    if (!path)
        return ENOMEM;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->paths, cap * sizeof *grown);
        if (!grown) {
            free(path);
            return ENOMEM;
        }
        l->paths = grown;
        l->cap = cap;
    }
    l->paths[l->count++] = path;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list(const char *dir, int depth, struct folder_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return depth ? push(out, strdup(dir)) : errno;
    struct folder_list names = {0};
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d)))
        if (de->d_name[0] != '.')
            rc = push(&names, strdup(de->d_name));
    closedir(d);
    if (names.count > 1)
        qsort(names.paths, names.count, sizeof *names.paths, by_name);
    size_t dlen = strlen(dir);
    int slash = dlen && dir[dlen - 1] == '/';
    for (size_t i = 0; !rc && i < names.count; i++) {
        size_t len = dlen + strlen(names.paths[i]) + 2;
        char *path = malloc(len);
        if (!path) {
            rc = ENOMEM;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, slash ? "" : "/", names.paths[i]);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth + 1 < FOLDER_MAX_DEPTH)
                rc = list(path, depth + 1, out);
            free(path);
        } else {
            rc = push(out, path);
        }
    }
    folder_list_free(&names);
    return rc;
}

int folder_list_files(const char *dir, struct folder_list *out)
{
    return list(dir, 0, out);
}

void folder_list_free(struct folder_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->count = l->cap = 0;
}
