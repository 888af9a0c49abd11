/* fuzz_manifest.c: fuzz target for the data manifest reader (core/data/manifest.h), as `data verify
 * FILE` uses it: hk_manifest_parse on the input bytes. Checked properties: a refusal has a
 * message that names the input and a line, and returns no manifest; a parsed manifest writes
 * (hk_manifest_write) and reads back (hk_manifest_read) to the same entries, escapes included;
 * compared with itself it has no added, removed or moved files (and no changed ones unless a
 * (split, path) repeats), compared with an empty manifest every entry is removed, and the other
 * way round added. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_files.h"
#include "manifest.h"

#define NAME "fuzz-input"

static int same_entry(const struct hk_manifest_entry *a, const struct hk_manifest_entry *b)
{
    return !strcmp(a->split, b->split) && !strcmp(a->label, b->label) && !strcmp(a->path, b->path) &&
           a->skipped == b->skipped && a->hashed == b->hashed &&
           (!a->hashed || !memcmp(a->sha256, b->sha256, HK_SHA256_BYTES));
}

static void check_round_trip(const struct hk_manifest *m)
{
    struct hk_error err;
    const char *path = fuzz_temp_path("again.manifest");
    if (hk_manifest_write(m, path, &err) != HK_OK) {
        fprintf(stderr, "write after parse failed: %s\n", err.msg);
        FUZZ_CHECK(0);
    }
    struct hk_manifest *back = NULL;
    if (hk_manifest_read(path, &back, &err) != HK_OK) {
        fprintf(stderr, "read after write failed: %s\n", err.msg);
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(back->count == m->count);
    for (size_t i = 0; i < m->count; i++)
        FUZZ_CHECK(same_entry(&back->entries[i], &m->entries[i]));
    hk_manifest_free(back);
    unlink(path);
}

/* Whether two entries share (split, path), the key compare matches on. */
static int has_repeated_key(const struct hk_manifest *m)
{
    for (size_t i = 0; i < m->count; i++)
        for (size_t j = i + 1; j < m->count; j++)
            if (!strcmp(m->entries[i].split, m->entries[j].split) && !strcmp(m->entries[i].path, m->entries[j].path))
                return 1;
    return 0;
}

static void check_compare(const struct hk_manifest *m)
{
    struct hk_error err;
    struct hk_manifest_diff d;
    FUZZ_CHECK(hk_manifest_compare(m, m, &d, &err) == HK_OK);
    FUZZ_CHECK(d.counts[HK_MANIFEST_ADDED] == 0 && d.counts[HK_MANIFEST_REMOVED] == 0 &&
               d.counts[HK_MANIFEST_MOVED] == 0);
    FUZZ_CHECK(d.same + d.counts[HK_MANIFEST_CHANGED] == m->count && d.count == d.counts[HK_MANIFEST_CHANGED]);
    if (d.counts[HK_MANIFEST_CHANGED])
        FUZZ_CHECK(has_repeated_key(m));
    hk_manifest_diff_free(&d);

    struct hk_manifest empty = {0, NULL};
    FUZZ_CHECK(hk_manifest_compare(m, &empty, &d, &err) == HK_OK);
    FUZZ_CHECK(d.same == 0 && d.count == m->count && d.counts[HK_MANIFEST_REMOVED] == m->count);
    for (size_t i = 0; i < d.count; i++)
        FUZZ_CHECK(d.v[i].was && !d.v[i].now);
    hk_manifest_diff_free(&d);
    FUZZ_CHECK(hk_manifest_compare(&empty, m, &d, &err) == HK_OK);
    FUZZ_CHECK(d.same == 0 && d.count == m->count && d.counts[HK_MANIFEST_ADDED] == m->count);
    hk_manifest_diff_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hk_error err;
    struct hk_manifest *m = (struct hk_manifest *)1;
    if (hk_manifest_parse((const char *)data, size, NAME, &m, &err) != HK_OK) {
        FUZZ_CHECK(m == NULL);
        long line = 0;
        char colon = 0;
        FUZZ_CHECK(sscanf(err.msg, NAME ":%ld%c", &line, &colon) == 2 && line >= 1 && colon == ':');
        return 0;
    }
    FUZZ_CHECK(m != NULL);
    check_round_trip(m);
    check_compare(m);
    hk_manifest_free(m);
    return 0;
}
