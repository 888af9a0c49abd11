/* dataset.h: a class-per-folder image set decoded once, resized and cached as 8-bit pixels. */
#ifndef HK_DATASET_H
#define HK_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "status.h"

/* A file that was not loaded, and why. */
struct hk_skip {
    char *path;
    char *reason;
    int label;               /* the class folder it was found in */
    int hashed;              /* 1: sha256 holds the SHA-256 of the file's bytes (they were read) */
    unsigned char sha256[32];
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
    uint64_t *pixel_hash;    /* count hashes of the cached pixels (hk_dataset_pixel_hash) */
    unsigned char (*file_sha256)[32]; /* count SHA-256 digests of the files' bytes as loaded */
    double split_fraction;   /* > 0: this set came out of hk_dataset_split with this fraction */
    uint64_t split_seed;     /* and this seed */
    int split_is_val;        /* 1: the carved-out part, 0: the rest */
};

/* Load root/CLASS/FILE for every sub-folder CLASS of root (sorted by name; the label is the
 * exact folder name). Files are decoded with lim, resized to size and cached.
 * Decoding uses `threads` threads (<= 0: all cores). Files that cannot be decoded are recorded in
 * skipped and never stop the load. Hidden files (starting with '.') are ignored.
 * Fails only when root is not a readable folder, has no class folders, or memory runs out.
 * On success *out is owned by the caller. */
enum hk_status hk_dataset_load(const char *root, struct hk_size size, const struct hk_image_limits *lim,
                               int threads, struct hk_dataset **out, struct hk_error *err);

/* Progress of a load: done of total files read so far. Called on the thread that loads, every
 * file it takes or so, and once at the end with done == total; must be quick. */
typedef void (*hk_dataset_progress_fn)(void *user, size_t done, size_t total);

/* hk_dataset_load that reports its progress to `progress` (may be NULL) with `user`. */
enum hk_status hk_dataset_load_progress(const char *root, struct hk_size size, const struct hk_image_limits *lim,
                                        int threads, hk_dataset_progress_fn progress, void *user,
                                        struct hk_dataset **out, struct hk_error *err);

/* Free a set; NULL is a no-op. */
void hk_dataset_free(struct hk_dataset *ds);

/* Pixels of image i (borrowed). */
const unsigned char *hk_dataset_image(const struct hk_dataset *ds, size_t i);

/* The 64-bit hash of n cached pixel bytes that pixel_hash holds (equal pixels, equal hash). */
uint64_t hk_dataset_pixel_hash(const unsigned char *pixels, size_t n);

/* A path of ds (loaded or skipped) relative to ds->root ("husky/a.jpg"); borrowed from path.
 * path itself when it does not start with the root. */
const char *hk_dataset_relative_path(const struct hk_dataset *ds, const char *path);

/* Two pictures with the same cached pixels in different classes or different sets. */
struct hk_duplicate {
    int set_a, set_b; /* indices into the sets given to hk_dataset_duplicates */
    size_t a, b;      /* image indices in those sets; set_a <= set_b, and a < b within one set */
};

/* Counts of such pairs. */
struct hk_duplicate_counts {
    size_t cross_set;   /* pairs in two different sets (e.g. train and val) */
    size_t cross_class; /* pairs in one set but two classes */
};

/* Find pictures whose cached pixels are equal (compared byte for byte; pixel_hash only groups
 * them) and that sit in more than one of sets[0..nsets) or in more than one class of a set.
 * Sets must have the same picture size; NULL sets are ignored. Up to max pairs are written to
 * pairs (caller-owned, may be NULL when max is 0), in a fixed order (by pixel hash); *listed receives how
 * many, *counts all of them. HK_ENOMEM when the scratch space cannot be allocated. */
enum hk_status hk_dataset_duplicates(const struct hk_dataset *const *sets, int nsets, struct hk_duplicate *pairs,
                                     size_t max, size_t *listed, struct hk_duplicate_counts *counts,
                                     struct hk_error *err);

/* Split ds in two, class by class (stratified): in each class of n pictures, round(fraction * n)
 * (at most n - 1) chosen by a shuffle seeded from (seed, class) go to *carved, the others to
 * *rest; both keep ds's order, class names and picture size; skipped files stay with *rest.
 * Copies of one picture (equal cached pixels) all go where the first of them (in ds's order)
 * went, so no picture is on both sides; the counts can then differ from round(fraction * n).
 * 0 < fraction < 1; HK_EINVAL when no picture would be carved. ds is only read; on success both
 * outputs are owned by the caller. */
enum hk_status hk_dataset_split(const struct hk_dataset *ds, double fraction, uint64_t seed,
                                struct hk_dataset **rest, struct hk_dataset **carved, struct hk_error *err);

#endif
