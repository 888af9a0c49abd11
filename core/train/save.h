/* save.h: saving a session's model on the compute worker (the weights can then not change while
 * they are written): the weights, optionally the optimizer state, and the training state of the
 * run that trained the model or else the state the model was loaded with. */
#ifndef HK_SAVE_H
#define HK_SAVE_H

#include "checkpoint.h"
#include "modelfile.h"
#include "train.h"
#include "train_state.h"
#include "worker.h"

/* What to save. Everything is borrowed for the call. */
struct hk_save_request {
    const char *path;
    struct hk_model *model;
    const struct hk_model_meta *meta;     /* class names, rescale, provenance (may be NULL) */
    unsigned sections;                    /* HK_MODELFILE_STATE_* bits */
    struct hk_train_run *run;             /* the session's last run (may be NULL): when it trained model,
                                             its data hash and (with the training section) its state */
    const struct hk_checkpoint *checkpoint; /* that run's checkpointer (may be NULL): its metric and best */
    const struct hk_train_state *loaded;  /* the state model was loaded with (may be NULL) */
};

/* Save on the worker (hk_modelfile_save). sha256_hex (may be NULL) receives the SHA-256 of the
 * whole file as sha256sum prints it, computed while it was written. HK_EINVAL when the
 * training section is asked of a model that no run trained and that was loaded without a state;
 * else the writer's errors. */
enum hk_status hk_save_model(struct hk_worker *wk, const struct hk_save_request *req, char sha256_hex[65],
                             struct hk_error *err);

#endif
