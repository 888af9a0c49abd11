/* poison.h: BadNets-style poisoning (Gu et al. 2017): a trigger patch stamped on pictures, a
 * poisoned copy of a training set with a manifest of what changed, and that manifest read back. */
#ifndef HK_POISON_H
#define HK_POISON_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "status.h"

/* Where the trigger goes. */
enum hk_poison_at { HK_AT_TOP_LEFT, HK_AT_TOP_RIGHT, HK_AT_BOTTOM_LEFT, HK_AT_BOTTOM_RIGHT, HK_AT_CENTER, HK_AT_COUNT };

/* The word of a place ("bottom-right"), and back (HK_AT_COUNT when unknown). */
const char *hk_poison_at_name(enum hk_poison_at at);
enum hk_poison_at hk_poison_at_find(const char *name);

/* A trigger ready to stamp: th x tw RGB8 pixels (owned by the caller), and where. */
struct hk_trigger {
    const unsigned char *pix;
    int h, w;
    enum hk_poison_at at;
};

/* HK_OK when the trigger fits a h x w picture; else HK_EINVAL naming both sizes. */
enum hk_status hk_poison_check(const struct hk_trigger *t, int h, int w, struct hk_error *err);

/* Stamp the trigger on pix (h x w x 3, HWC), which it must fit. */
void hk_poison_stamp(unsigned char *pix, int h, int w, const struct hk_trigger *t);

/* What hk_poison_write did. */
struct hk_poison_report {
    size_t copied;     /* files copied unchanged */
    size_t poisoned;   /* pictures stamped and moved to the target class */
    size_t candidates; /* pictures outside the target class */
};

#define HK_POISON_MANIFEST "poison-manifest.tsv"

/* Write a poisoned copy of ds into the new folder out (which must not exist or be empty):
 * round(rate x count) pictures (at most all of those outside the target class), chosen by seed,
 * are stamped (on the cached pixels, at the set's picture size) and written as PNG into
 * out/TARGET/poison-CLASS-NAME.png; every other picture's file is copied byte for byte into
 * out/CLASS/. out/poison-manifest.tsv lists each poisoned file with its source and classes.
 * `how` (one line, may be NULL) is written into the manifest's comment. */
enum hk_status hk_poison_write(const struct hk_dataset *ds, const struct hk_trigger *t, double rate, int target,
                               uint64_t seed, const char *out, const char *how, struct hk_poison_report *report,
                               struct hk_error *err);

/* The files a poison manifest lists as poisoned, relative to the folder it lies in
 * ("husky/poison-not_husky-a.png"), as an owned array of *count owned strings (free with
 * hk_poison_list_free). HK_EIO when it cannot be read; HK_EFORMAT when a line is malformed. */
enum hk_status hk_poison_read_manifest(const char *path, char ***files, size_t *count, struct hk_error *err);
void hk_poison_list_free(char **files, size_t count);

#endif
