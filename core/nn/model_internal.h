/* model_internal.h: the model's struct, shared by model.c (building, arenas, workspace) and
 * model_pass.c (the forward, backward and update passes). Not for use outside core/nn. It does
 * not include model.h (whose HK_MODEL_MAX_LAYERS is HK_GRAPH_MAX_LAYERS), so that model.c and
 * model.h stay one module without an include cycle. */
#ifndef HK_MODEL_INTERNAL_H
#define HK_MODEL_INTERNAL_H

#include "graph.h"
#include "layer.h"
#include "loss.h"
#include "optim.h"
#include "status.h"
#include "team.h"

struct hk_model {
    struct hk_shape input;
    uint64_t seed;
    int count;
    struct hk_layer layers[HK_GRAPH_MAX_LAYERS];
    int name_serial[HK_LAYER_NAME_SLOTS]; /* next Keras-style suffix per kind (and re_lu) */

    size_t nparams;
    float *params, *grads, *mom1, *mom2; /* one allocation each */
    size_t nstate;
    float *state;                        /* non-trainable state (batchnorm moving statistics) */

    int compiled;
    struct hk_optim optim;
    enum hk_loss loss;
    uint64_t step;

    hk_sync_fn sync;    /* data-parallel statistics (batchnorm), NULL alone */
    void *sync_user;
    double share;

    int ws_batch;       /* batch the workspace is sized for (0 = none) */
    void *workspace;    /* layer outputs, aux, two gradient buffers, a scratch per part, logits */
    int gbuf[HK_GRAPH_MAX_LAYERS]; /* gradient buffer of each layer's output (hk_graph_grad_plan) */
    int ngbuf, ntemp;
    float *dbuf[HK_GRAPH_MAX_LAYERS + 2]; /* ngbuf gradient buffers, then ntemp for adding into one */
    float *scratch[HK_TEAM_PARTS];
    float *logits;
};

/* Size the workspace for a batch of n (kept when it is big enough). */
enum hk_status hk_model_reserve(struct hk_model *m, int n, struct hk_error *err);

#endif
