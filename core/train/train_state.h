/* train_state.h: everything besides the weights and the optimizer that a stopped or finished run
 * needs to continue exactly: its options, its position, the checkpoint's best value, the training
 * set it ran on and the history. Captured on the compute worker, stored in model files
 * (HK_MODELFILE_STATE_TRAINING), restored before `train resume`. */
#ifndef HK_TRAIN_STATE_H
#define HK_TRAIN_STATE_H

#include <stddef.h>

#include "history.h"
#include "train.h"

#define HK_TRAIN_STATE_MAX_EPOCHS 100000        /* history lines a model file may hold */
#define HK_TRAIN_STATE_MAX_BATCHES ((size_t)1 << 26)

struct hk_train_state {
    struct hk_train_config config;  /* the run's options: epochs, batch, seed, rescale, augmentation,
                                       until, class weights (class_count of them are meaningful) */
    int class_count;                /* classes of the training set */
    struct hk_train_position pos;   /* where the run stopped */
    enum hk_metric monitor;         /* the checkpoint's metric; HK_METRIC_COUNT: no checkpoint */
    int has_best;                   /* with a monitor: best holds the best value so far */
    double best;
    size_t images;                  /* pictures in the training set */
    char data_sha256[65];           /* hk_train_manifest of the training set */
    struct hk_epoch_record *epochs; /* the history (owned) */
    size_t nepochs;
    float *batch_losses;            /* per-batch losses (owned) */
    size_t nbatches;
};

/* Free s and what it owns; NULL is a no-op. */
void hk_train_state_free(struct hk_train_state *s);

/* A copy of the state of run (its config, position, history) with the checkpoint's metric
 * (HK_METRIC_COUNT: no checkpoint) and best value so far (NULL: none yet); on the worker, or when
 * no run is going. NULL when out of memory. Owned: hk_train_state_free. */
struct hk_train_state *hk_train_state_capture(const struct hk_train_run *run, enum hk_metric monitor,
                                              const double *best);

/* Replace the contents of history h with the state's records. HK_ENOMEM when out of memory. */
enum hk_status hk_train_state_restore_history(const struct hk_train_state *s, struct hk_history *h,
                                              struct hk_error *err);

/* The manifest hash of a training set, as 64 hex digits: SHA-256 of "HxW CLASSES\n", each class
 * name with a NUL after it, then for each picture in load order "LABEL CLASS/FILE" and a NUL (the
 * path below the set's folder). Another class layout or picture size, a renamed, added or missing
 * picture give another hash; the folder's own path and the pixels themselves do not count. */
void hk_train_manifest(const struct hk_dataset *ds, char hex[65]);

/* Can state s continue on model m with training set ds (and validation set val)? Checks the data
 * (count and manifest) and the run's options against them; err says what differs. */
enum hk_status hk_train_state_check(const struct hk_train_state *s, const struct hk_model *m,
                                    const struct hk_dataset *ds, const struct hk_dataset *val, struct hk_error *err);

#endif
