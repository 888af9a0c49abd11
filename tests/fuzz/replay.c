/* replay.c: a plain main() for the fuzz targets when libFuzzer is not there (gcc builds): runs
 * every file named on the command line, and every file inside every folder named there (sorted,
 * not recursive), through LLVMFuzzerTestOneInput once. A crash, a sanitizer report or a failed
 * assertion inside the target is the test failing; otherwise it prints how many inputs ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Run one file through the target; 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    unsigned char *data = malloc(cap);
    for (;;) {
        if (!data)
            break;
        n += fread(data + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *grown = realloc(data, cap * 2);
        if (!grown) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        cap *= 2;
    }
    int bad = ferror(f) || !data;
    fclose(f);
    if (bad) {
        free(data);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* an exact-size copy, so that reading past the input is caught by ASan as with libFuzzer */
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) {
        free(data);
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
    int inputs = 0, failures = 0;
    for (int a = 1; a < argc; a++) {
        if (!is_dir(argv[a])) {
            failures += run_file(argv[a]) != 0;
            inputs++;
            continue;
        }
        struct dirent **names;
        int count = scandir(argv[a], &names, NULL, alphasort);
        if (count < 0) {
            fprintf(stderr, "replay: cannot list %s\n", argv[a]);
            failures++;
            continue;
        }
        for (int i = 0; i < count; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], names[i]->d_name);
            if (names[i]->d_name[0] != '.' && !is_dir(path)) {
                failures += run_file(path) != 0;
                inputs++;
            }
            free(names[i]);
        }
        free(names);
    }
    printf("%d inputs replayed, %d unreadable\n", inputs, failures);
    return failures || inputs == 0 ? 1 : 0;
}
