/* train.h: one training run on the compute worker: shuffled batches from the cached pictures,
 * optional augmentation and class weights, validation after each epoch, a stop-at-target
 * condition, cooperative stop, guards against a non-finite loss or gradient (the run stops, the
 * weights from before that batch are kept) and an exploding loss (reported), progress events for
 * the front end. */
#ifndef HK_TRAIN_H
#define HK_TRAIN_H

#include <stdatomic.h>
#include <stdint.h>

#include "augment.h"
#include "dataset.h"
#include "feature_cache.h"
#include "history.h"
#include "model.h"
#include "worker.h"

enum hk_compare { HK_CMP_GE, HK_CMP_GT, HK_CMP_LE, HK_CMP_LT };

#define HK_TRAIN_MAX_CLASSES 64 /* classes a training set may have (class weights, model files) */

struct hk_train_config {
    int epochs;                 /* >= 1 */
    int batch;                  /* >= 1 */
    uint64_t seed;              /* shuffling and augmentation draws */
    float rescale;              /* pixel * rescale is the network input */
    struct hk_augment augment;  /* applied to training pictures only */
    enum hk_metric until;       /* stop when this metric meets the target; HK_METRIC_COUNT: never */
    enum hk_compare until_cmp;
    double until_value;
    float class_weight[HK_TRAIN_MAX_CLASSES]; /* per class loss weight (all 1 for none) */
    int no_cache;               /* 1: never use a feature cache (feature_cache.h); 0: use one when the
                                   model has a cache point, nothing is augmented (adversarial neither)
                                   and it fits in memory */
    int adversarial;            /* 0: none; 1 + enum hk_attack_method: the first half of each batch is
                                   replaced by its FGSM or PGD pictures (untargeted, on the weights of
                                   that step; PGD 10 steps of 2.5 x eps / 10); not saved for resume */
    double adversarial_eps;     /* their budget, 0..1 of the 0..255 pixel range */
};

/* The defaults of `train`: 10 epochs, batch 32, seed 0, rescale 1/255, no augmentation, no
 * target, every class weight 1. */
struct hk_train_config hk_train_config_default(void);

/* The batch a run of c on a training set of `count` pictures uses: c->batch, at most count. */
int hk_train_batch(const struct hk_train_config *c, size_t count);

/* Where a run is: enough, with the model's optimizer state and the history, to continue it
 * exactly (every random draw is derived from the seeds, the global epoch and the optimizer step).
 * The worker keeps run->pos current; a save queued between two batches sees the position of the
 * weights it saves. */
struct hk_train_position {
    int epoch;          /* epochs of this run completed */
    int batch;          /* batches of the next epoch completed (0 between epochs) */
    int first_epoch;    /* history epochs before this run began: the global epoch base */
    double loss_sum;    /* the epoch in progress so far: summed sample loss, */
    long correct, seen; /* samples classified right and samples seen */
};

enum hk_train_event_kind { HK_TRAIN_EPOCH_END, HK_TRAIN_FINISHED, HK_TRAIN_WARNING };

/* A batch loss over this many times the run's first batch loss (and over HK_TRAIN_EXPLODE_MIN)
 * is reported once per run as an exploding loss (HK_TRAIN_WARNING); training goes on. */
#define HK_TRAIN_EXPLODE_FACTOR 100.0
#define HK_TRAIN_EXPLODE_MIN 10.0

struct hk_train_event {
    enum hk_train_event_kind kind;
    int epoch, epochs;           /* epoch of this run (1-based) */
    struct hk_epoch_record rec;  /* with HK_TRAIN_EPOCH_END */
    enum hk_status status;       /* with HK_TRAIN_FINISHED: ok, cancelled or an error */
    char message[512];           /* with HK_TRAIN_FINISHED: why it ended; with HK_TRAIN_WARNING: what */
};

/* Called on the worker thread; must not block for long. */
typedef void (*hk_train_progress_fn)(void *user, const struct hk_train_event *ev);

struct hk_train_run;

/* Called on the worker after each epoch with its record (after the progress event), and once
 * more with rec NULL when the run is stopped, between two batches (a checkpointer saves then).
 * Non-OK (err set) ends the run with that error. */
typedef enum hk_status (*hk_train_epoch_fn)(void *user, struct hk_train_run *run, const struct hk_epoch_record *rec,
                                            struct hk_error *err);

/* What one process sends into the per-step reduction of data-parallel training. */
enum hk_train_sum { HK_SUM_LOSS, HK_SUM_CORRECT, HK_SUM_SAMPLES, HK_SUM_STOP, HK_SUM_FAILED, HK_SUM_COUNT };

/* Called once per step on the worker with this process's gradient arena (count floats, already
 * scaled by its share of the global batch) and sums[HK_SUM_COUNT] (loss * samples, correct,
 * samples, stop requested, step failed). It must replace both, in place, with their sums over all
 * processes, which every process then applies identically. Non-OK (err set) ends the run. */
typedef enum hk_status (*hk_train_reduce_fn)(void *user, float *grads, size_t count, double *sums,
                                             struct hk_error *err);

/* Data-parallel training: process `rank` of `ranks` computes samples [n*rank/ranks,
 * n*(rank+1)/ranks) of each global batch of n and `reduce` combines the shares. All zero (or
 * ranks <= 1): a single process. */
struct hk_train_share {
    int rank, ranks;
    hk_train_reduce_fn reduce;
    void *user;
    hk_sync_fn sync; /* all-reduce of batch statistics inside a step (batchnorm); gets `user` */
};

/* Everything one run needs. The caller owns it and keeps it (and what it points to) alive and
 * unchanged until the run has ended (hk_worker_wait). */
struct hk_train_run {
    struct hk_model *model;
    const struct hk_dataset *train;
    const struct hk_dataset *val;   /* may be NULL */
    struct hk_train_config config;
    struct hk_history *history;
    struct hk_worker *worker;       /* for servicing queued calls between batches */
    hk_train_progress_fn progress;  /* may be NULL */
    void *progress_user;
    hk_train_epoch_fn epoch_end;    /* may be NULL */
    void *epoch_end_user;
    int resume;                     /* 1: start at `pos` (a saved position) instead of the beginning */
    struct hk_train_position pos;   /* where the run is (kept current by the worker) */
    struct hk_train_share share;    /* zero: a single process */
    atomic_int stop;                /* set to 1 to stop after the current batch */
    enum hk_status status;          /* result when finished */
    struct hk_error err;
    double step_seconds;            /* when finished: time of the training steps (wait included) */
    double data_wait_seconds;       /* of which the worker waited for the next batch's pictures */
    struct hk_feature_cache *cache[2]; /* the training and validation pictures' features (see
                                        * feature_cache.h), kept after the run: a later run of the
                                        * same run struct reuses them when their key still holds,
                                        * else frees them. Free with hk_train_run_release. */
};

/* Free what a finished run keeps (its feature caches); the struct itself stays the caller's. */
void hk_train_run_release(struct hk_train_run *run);

/* What a run starts from: everything hk_train_start puts into a run. Borrowed; what it points to
 * must stay alive and unchanged until the run has ended. */
struct hk_train_setup {
    struct hk_model *model;
    const struct hk_dataset *train;
    const struct hk_dataset *val;   /* may be NULL */
    struct hk_train_config config;
    struct hk_history *history;
    struct hk_worker *worker;
    const struct hk_train_position *resume; /* NULL: from the beginning; else continue there */
    hk_train_progress_fn progress;  /* may be NULL */
    void *progress_user;
    hk_train_epoch_fn epoch_end;    /* may be NULL */
    void *epoch_end_user;
    struct hk_train_share share;    /* zero: a single process */
};

/* Check that a batch fits the memory limit (hk_model_check_batch at hk_train_batch: HK_ENOMEM),
 * fill run (owned by the caller, kept until the run ends) from setup and start it on the worker
 * (HK_EBUSY when a run is going). The configuration must have passed hk_train_check (or, for a
 * resume, the saved state's check). */
enum hk_status hk_train_start(struct hk_train_run *run, const struct hk_train_setup *setup, struct hk_error *err);

/* Check a configuration against the model and data before a run; err says what does not fit. */
enum hk_status hk_train_check(const struct hk_model *m, const struct hk_dataset *train,
                              const struct hk_dataset *val, const struct hk_train_config *c,
                              struct hk_error *err);

/* The job to pass to hk_worker_start with a struct hk_train_run *. */
void hk_train_job(void *run);

/* Balanced class weights, as Keras/scikit-learn compute them: n / (classes * n_c). */
void hk_train_balanced_weights(const struct hk_dataset *ds, float *weights);

#endif
