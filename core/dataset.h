/* dataset.h: a class-per-folder image set decoded once, resized and cached as 8-bit pixels. */
#ifndef HK_DATASET_H
#define HK_DATASET_H

#include <stddef.h>

#include "image.h"
#include "status.h"

/* A file that was not loaded, and why. */
struct hk_skip {
    char *path;
    char *reason;
};

/* A loaded set. Fields are read-only for callers; free with hk_dataset_free. */
struct hk_dataset {
    char *root;              /* the folder it was loaded from */
    int height, width;       /* every image is stored at this size, RGB, HWC uint8 */
    size_t count;            /* images loaded */
    unsigned char *pixels;   /* count * height * width * 3 bytes */
    int *labels;             /* count class indices */
    char **paths;            /* count paths, as found under root */
    int class_count;         /* sub-folders of root, sorted by name (strcmp) */
    char **class_names;
    size_t *class_counts;    /* images loaded per class */
    size_t skipped_count;
    struct hk_skip *skipped; /* files that were not loaded, with the reason */
};

/* Load root/CLASS/FILE for every sub-folder CLASS of root (sorted by name; the label is the
 * exact folder name). Files are decoded with lim, resized to width x height and cached.
 * Decoding uses `threads` threads (<= 0: all cores). Files that cannot be decoded are recorded in
 * skipped and never stop the load. Hidden files (starting with '.') are ignored.
 * Fails only when root is not a readable folder, has no class folders, or memory runs out.
 * On success *out is owned by the caller. */
enum hk_status hk_dataset_load(const char *root, int width, int height, const struct hk_image_limits *lim,
                               int threads, struct hk_dataset **out, struct hk_error *err);

/* Free a set; NULL is a no-op. */
void hk_dataset_free(struct hk_dataset *ds);

/* Pixels of image i (borrowed). */
const unsigned char *hk_dataset_image(const struct hk_dataset *ds, size_t i);

#endif
