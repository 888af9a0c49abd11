/* checkpoint.h: `train ... checkpoint=DIR`: after every epoch, and once more when a run is
 * stopped, DIR/last.hkm receives the model with its full training state; DIR/best.hkm receives it
 * whenever the monitored metric improves (Keras ModelCheckpoint with save_best_only: the mode is
 * max for a metric with "acc" in its name, else min; improvement is strict). Written on the
 * compute worker between batches, so the weights cannot change during a save. */
#ifndef HK_CHECKPOINT_H
#define HK_CHECKPOINT_H

#include "history.h"
#include "modelfile.h"
#include "train.h"
#include "train_state.h"

#define HK_CHECKPOINT_LAST "last.hkm"
#define HK_CHECKPOINT_BEST "best.hkm"

/* A checkpointer writing into folder dir (created if missing; its parent must exist), watching
 * monitor (loss, accuracy, val_loss or val_accuracy), with the class names, rescale and provenance
 * of meta (copied; may be NULL). NULL with err set on a bad folder or metric. Owned:
 * hk_checkpoint_free. */
struct hk_checkpoint *hk_checkpoint_new(const char *dir, enum hk_metric monitor, const struct hk_model_meta *meta,
                                        struct hk_error *err);

/* Free; NULL is a no-op. */
void hk_checkpoint_free(struct hk_checkpoint *cp);

/* 1 when larger values of the metric are better (Keras mode "auto"). */
int hk_checkpoint_mode_max(enum hk_metric monitor);

/* The metric watched, and in *best the best value so far (returns 0 while there is none). */
enum hk_metric hk_checkpoint_monitor(const struct hk_checkpoint *cp);
int hk_checkpoint_best(const struct hk_checkpoint *cp, double *best);

/* Start from a best value already reached (a resumed run's). */
void hk_checkpoint_set_best(struct hk_checkpoint *cp, double best);

/* The state of run with the checkpointer's metric and best value (cp NULL: no checkpoint), as
 * hk_train_state_capture. Owned: hk_train_state_free; NULL when out of memory. */
struct hk_train_state *hk_checkpoint_capture(const struct hk_checkpoint *cp, const struct hk_train_run *run);

/* On the worker, between batches: write DIR/last.hkm, and DIR/best.hkm when rec (the epoch just
 * finished; NULL when the run was stopped mid-way) improves the monitored metric. Both files hold
 * the weights, the optimizer state and hk_checkpoint_capture(cp, run). HK_EIO names the file.
 * With cp as user, this is a run's epoch_end hook (train.h). */
enum hk_status hk_checkpoint_write(void *cp, struct hk_train_run *run, const struct hk_epoch_record *rec,
                                   struct hk_error *err);

#endif
