/* history.h: per-epoch metrics and per-batch losses of training runs, plus the live position of
 * the current run; written by the compute worker, read by the front end under a lock. */
#ifndef HK_HISTORY_H
#define HK_HISTORY_H

#include <stddef.h>

enum hk_metric {
    HK_METRIC_LOSS,
    HK_METRIC_ACCURACY,
    HK_METRIC_VAL_LOSS,
    HK_METRIC_VAL_ACCURACY,
    HK_METRIC_SECONDS,
    HK_METRIC_IMAGES_PER_S,
    HK_METRIC_COUNT
};

/* Name of a metric as the language writes it ("val_accuracy"); NULL for an invalid one. */
const char *hk_metric_name(enum hk_metric m);

/* Look a name up (also "acc", "val_acc"); HK_METRIC_COUNT when unknown. */
enum hk_metric hk_metric_find(const char *name);

struct hk_epoch_record {
    int epoch;                  /* 1-based, counted over all runs since the history was cleared */
    double v[HK_METRIC_COUNT];  /* NaN where a value does not exist (no validation set) */
};

/* Where the current run is. */
struct hk_progress {
    int running;
    int epoch, epochs;   /* 1-based epoch of this run, and how many it will do */
    int batch, batches;  /* batches done in this epoch, and per epoch */
    double loss;         /* running mean loss of this epoch */
    double accuracy;     /* running accuracy of this epoch */
    double seconds;      /* since this run began the epoch, as of its last batch */
    int first_batch;     /* batches of the epoch done before this run began it (a resumed epoch) */
};

struct hk_history;

/* Owned: hk_history_free. NULL when out of memory. */
struct hk_history *hk_history_new(void);
void hk_history_free(struct hk_history *h);
void hk_history_clear(struct hk_history *h);

/* Append; HK_ENOMEM-safe: a failed append drops the record silently and returns 0. */
int hk_history_add_epoch(struct hk_history *h, const struct hk_epoch_record *r);
int hk_history_add_batch(struct hk_history *h, float loss);

void hk_history_set_progress(struct hk_history *h, const struct hk_progress *p);
struct hk_progress hk_history_progress(struct hk_history *h);

/* Copies of the records (owned by the caller, free()); *n receives the count. */
struct hk_epoch_record *hk_history_epochs(struct hk_history *h, size_t *n);
float *hk_history_batches(struct hk_history *h, size_t *n);

/* Replace everything recorded with copies of epochs[0..nepochs) and batches[0..nbatches) (a
 * restored run's history). Returns 0 when out of memory, and then h is unchanged. */
int hk_history_replace(struct hk_history *h, const struct hk_epoch_record *epochs, size_t nepochs,
                       const float *batches, size_t nbatches);

/* Number of epochs recorded so far. */
size_t hk_history_epoch_count(struct hk_history *h);

#endif
