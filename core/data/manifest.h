/* manifest.h: data manifests: one line per picture file of the loaded sets (split, label, state,
 * SHA-256 of the file's bytes as loaded, path relative to the set's folder), written atomically,
 * parsed back with located errors, and compared with the sets loaded now.
 *
 * The text format, UTF-8 or any bytes, lines ending in '\n':
 *
 *   husky-manifest 1                                     the first line, exactly
 *   # a comment                                          ignored, as are empty lines
 *   train<TAB>husky<TAB>ok<TAB>SHA256<TAB>husky/a.jpg
 *   val<TAB>not_husky<TAB>skipped<TAB>-<TAB>not_husky/big.png
 *
 * state is "ok" (loaded) or "skipped" (not loaded: undecodable, over a limit); SHA256 is 64 hex
 * digits, or "-" when the bytes were never read. Fields are escaped: backslash, tab, newline and
 * carriage return are written \\ \t \n \r, other control bytes \xHH. Lines are at most
 * HK_MANIFEST_MAX_LINE bytes, the file at most HK_MANIFEST_MAX_BYTES. */
#ifndef HK_MANIFEST_H
#define HK_MANIFEST_H

#include <stddef.h>

#include "dataset.h"
#include "sha256.h"
#include "status.h"

#define HK_MANIFEST_MAX_LINE 8192
#define HK_MANIFEST_MAX_BYTES ((size_t)256 << 20)
#define HK_MANIFEST_MAGIC "husky-manifest 1"

/* One picture file. */
struct hk_manifest_entry {
    char *split;  /* "train", "val", ... */
    char *label;  /* the class folder name */
    char *path;   /* relative to the set's folder: "husky/a.jpg" */
    int skipped;  /* 1: the file was not loaded */
    int hashed;   /* 1: sha256 is set */
    unsigned char sha256[HK_SHA256_BYTES];
};

/* A list of entries. Fields are read-only for callers; free with hk_manifest_free. */
struct hk_manifest {
    size_t count;
    struct hk_manifest_entry *entries;
};

/* Free a manifest; NULL is a no-op. */
void hk_manifest_free(struct hk_manifest *m);

/* The entries of the loaded sets sets[0..nsets) named names[i] (NULL sets are left out): every
 * loaded picture, then every skipped file, per set, in load order. *out is owned by the caller. */
enum hk_status hk_manifest_from_sets(const struct hk_dataset *const *sets, const char *const *names, int nsets,
                                     struct hk_manifest **out, struct hk_error *err);

/* Write m to path atomically (temporary file in the same folder, fsync, rename). */
enum hk_status hk_manifest_write(const struct hk_manifest *m, const char *path, struct hk_error *err);

/* Parse n bytes of manifest text (need not be NUL-terminated). name is used in messages, which
 * read "NAME:LINE: what is wrong". *out is owned by the caller. */
enum hk_status hk_manifest_parse(const char *text, size_t n, const char *name, struct hk_manifest **out,
                                 struct hk_error *err);

/* Read and parse a manifest file (at most HK_MANIFEST_MAX_BYTES). */
enum hk_status hk_manifest_read(const char *path, struct hk_manifest **out, struct hk_error *err);

enum hk_manifest_change {
    HK_MANIFEST_ADDED,   /* in the sets now, not in the manifest */
    HK_MANIFEST_REMOVED, /* in the manifest, not in the sets now */
    HK_MANIFEST_CHANGED, /* same split and path, different bytes (or state) */
    HK_MANIFEST_MOVED,   /* same bytes under another path: another label, split or name */
    HK_MANIFEST_CHANGE_COUNT
};

/* One difference; was and now are borrowed from the two manifests compared (NULL where absent). */
struct hk_manifest_difference {
    enum hk_manifest_change kind;
    const struct hk_manifest_entry *was, *now;
};

/* The result of a comparison. Free with hk_manifest_diff_free. */
struct hk_manifest_diff {
    size_t same;                              /* entries equal in both */
    size_t counts[HK_MANIFEST_CHANGE_COUNT];  /* differences per kind */
    size_t count;                             /* all differences, sorted by kind */
    struct hk_manifest_difference *v;
};

/* Compare the manifest `was` (from a file) with `now` (from the loaded sets). Entries match by
 * (split, path); the unmatched ones with equal SHA-256 are moves; the rest are removed and added. */
enum hk_status hk_manifest_compare(const struct hk_manifest *was, const struct hk_manifest *now,
                                   struct hk_manifest_diff *out, struct hk_error *err);

/* Free the differences list of a diff; the struct itself is the caller's. */
void hk_manifest_diff_free(struct hk_manifest_diff *d);

/* Name of a change kind ("moved"). */
const char *hk_manifest_change_name(enum hk_manifest_change kind);

#endif
