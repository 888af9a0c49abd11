/* model.h: a network as a graph of layers in script order (graph.h) over one parameter arena, one
 * gradient arena, one pair of optimizer-moment arenas and one arena of non-trainable state;
 * forward, backward, training step and prediction. */
#ifndef HK_MODEL_H
#define HK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "layer.h"
#include "loss.h"
#include "optim.h"
#include "status.h"

struct hk_model;

/* Limits on what a model may allocate, checked before any allocation. */
#define HK_MODEL_MAX_LAYERS HK_GRAPH_MAX_LAYERS
#define HK_MODEL_MAX_PARAMS ((size_t)1 << 28) /* 268 M parameters, 1 GiB of float32 */
#define HK_MODEL_DEFAULT_MEMORY ((size_t)4 << 30) /* 4 GB: see hk_model_memory_limit */

/* The memory one model may use, process-wide: its parameters with their gradients and optimizer
 * moments (16 bytes each) and its per-batch workspace. Adding or changing a layer is refused
 * when the parameters and one picture's activations would not fit; a forward pass (training,
 * prediction) is refused when its batch would not fit. Checked before anything is allocated.
 * Default HK_MODEL_DEFAULT_MEMORY; the setter is for the shell's `model limits memory=`. */
size_t hk_model_memory_limit(void);
void hk_model_set_memory_limit(size_t bytes);

/* A new empty model for inputs of the given shape, with all randomness from seed.
 * Returns NULL when out of memory. Owned: free with hk_model_free. */
struct hk_model *hk_model_new(struct hk_shape input, uint64_t seed, struct hk_error *err);

/* Free a model; NULL is a no-op. */
void hk_model_free(struct hk_model *m);

struct hk_shape hk_model_input(const struct hk_model *m);
uint64_t hk_model_seed(const struct hk_model *m);
int hk_model_count(const struct hk_model *m);

/* Layer i (borrowed; valid until the model changes). */
const struct hk_layer *hk_model_layer(const struct hk_model *m, int i);

/* Index of the layer with this name, or -1. */
int hk_model_find(const struct hk_model *m, const char *name);

/* The output shape of the whole model (the input shape when it has no layers). */
struct hk_shape hk_model_output(const struct hk_model *m);

/* Total number of parameters. */
size_t hk_model_param_count(const struct hk_model *m);

/* The parameter arena (borrowed, hk_model_param_count floats). Writable so that a loader can
 * fill it; the layer views w and b point into it. */
float *hk_model_params(struct hk_model *m);

/* Non-trainable state values (batchnorm moving mean and variance), and their arena (borrowed,
 * hk_model_state_count floats; writable for a loader; the layer views `state` point into it).
 * Out of the optimizer, L2, the gradient arena and the gradient all-reduce. */
size_t hk_model_state_count(const struct hk_model *m);
float *hk_model_state(struct hk_model *m);

/* Data-parallel training: training passes call sync to take batch statistics over the global
 * batch, share being this process's samples / the global batch's (see hk_sync_fn). NULL (the
 * default) for one process. */
void hk_model_set_sync(struct hk_model *m, hk_sync_fn sync, void *user, double share);

/* For a process with no samples in a data-parallel step: make the sync calls a training step
 * makes (with nothing of its own), so the other processes' calls are answered; the batchnorm
 * moving statistics follow the global batch's. HK_OK at once without a sync hook; else fails
 * only for memory. */
enum hk_status hk_model_sync_idle(struct hk_model *m, struct hk_error *err);

/* What a change to the architecture did to trained weights. */
struct hk_model_change {
    char reinitialised[512]; /* names of layers whose weights were re-initialised, ", "-separated */
};

/* Insert a layer at position at (0..count; count appends). The whole model is re-checked; on any
 * shape error nothing changes and err names the layer and both shapes. Layers whose parameter
 * shapes are unchanged keep their weights; new or changed ones are initialised (listed in chg,
 * which may be NULL). The optimizer state is reset. */
enum hk_status hk_model_insert(struct hk_model *m, int at, const struct hk_layer_spec *spec,
                               struct hk_model_change *chg, struct hk_error *err);

/* Remove layer at, with the same checks and weight rules as insert. */
enum hk_status hk_model_remove(struct hk_model *m, int at, struct hk_model_change *chg, struct hk_error *err);

/* Replace the spec of layer at (keeping its name), with the same checks and rules as insert. */
enum hk_status hk_model_replace(struct hk_model *m, int at, const struct hk_layer_spec *spec,
                                struct hk_model_change *chg, struct hk_error *err);

/* 1 when some layer reads other than the previous layer's output alone (model summary then
 * prints Keras's functional table with "Connected to"). */
int hk_model_is_graph(const struct hk_model *m);
/* Keep layers 0..last and drop every layer after them (the transfer workflow's `model cut`): the
 * kept layers keep their weights, state and freezing. Refused when a kept layer reads a dropped one
 * (script order forbids it; the connections are checked all the same). The optimizer state is
 * reset and the model needs compile again once a new head is on. */
enum hk_status hk_model_cut(struct hk_model *m, int last, struct hk_model_change *chg, struct hk_error *err);

/* Change the input shape (e.g. a 224x224 network to 128x128): every layer is re-inferred; layers
 * whose parameter shapes are unchanged keep their weights (a convolutional network keeps all of
 * them). On a shape error nothing changes and err names the layer. */
enum hk_status hk_model_set_input(struct hk_model *m, struct hk_shape input, struct hk_model_change *chg,
                                  struct hk_error *err);

/* The feature-cache point: the last layer b whose output, for a given input, is the same in every
 * training pass (layers 0..b are frozen or without weights and state, and none is a dropout) and
 * after which no layer reads anything before b or the input, with at least one layer after it;
 * -1 when there is none, or when no layer up to b has weights (nothing to save). Training may
 * compute layer b's outputs once and then run layers b+1.. only (hk_model_gradients_from). */
int hk_model_cache_point(const struct hk_model *m);

/* The layers that text names: NAME, A..B (both included, A not after B) or all; into *from and
 * *to. Else HK_EINVAL with err naming the unknown layer. */
enum hk_status hk_model_find_range(const struct hk_model *m, const char *text, int *from, int *to,
                                   struct hk_error *err);

/* Freeze (frozen = 1) or unfreeze layers from..to (inclusive). A frozen layer gets no optimizer
 * update and no L2 penalty, its weights stay bit for bit, and a frozen batchnorm runs in
 * inference mode (Keras 2.x). Returns how many of those layers have parameters. */
int hk_model_set_frozen(struct hk_model *m, int from, int to, int frozen);

/* Parameters as Keras counts them: trainable (of layers not frozen) and non-trainable (of frozen
 * layers, and non-trainable state such as batchnorm moving statistics). */
void hk_model_param_split(const struct hk_model *m, size_t *trainable, size_t *non_trainable);

/* Re-initialise every parameter from the seed (as a fresh model would be). */
void hk_model_reinit(struct hk_model *m);

/* Set the optimizer and loss. The loss must match the output: BCE needs 1 unit with sigmoid,
 * CCE needs softmax. Resets the optimizer state. */
enum hk_status hk_model_compile(struct hk_model *m, const struct hk_optim *opt, enum hk_loss loss,
                                struct hk_error *err);

/* 1 when compiled; then *opt and *loss (either may be NULL) receive the settings. */
int hk_model_compiled(const struct hk_model *m, struct hk_optim *opt, enum hk_loss *loss);

/* HK_OK when the model is compiled and its last layer still fits the loss (layers added, removed
 * or changed after compile may not); else why, ending "compile again". Checked by
 * hk_model_gradients, hk_model_evaluate and hk_train_check. */
enum hk_status hk_model_check_compiled(const struct hk_model *m, struct hk_error *err);

/* Optimizer state: the step count and the moment arenas (borrowed, param_count floats each). */
uint64_t hk_model_optim_step(const struct hk_model *m);
void hk_model_optim_state(struct hk_model *m, float **mom1, float **mom2, uint64_t **step);

/* Forward a batch of n inputs (n x input size floats). training: dropout active. With
 * training, sample0 is the position of the first sample within the global batch.
 * Afterwards each layer's y holds its output and the returned pointer (borrowed) the model's
 * output (n x output size). Fails only for memory. */
enum hk_status hk_model_forward(struct hk_model *m, const float *x, int n, int training, uint64_t sample0,
                                const float **out, struct hk_error *err);

/* hk_model_forward from layer first on: x is then layer first-1's outputs (n x its output size),
 * and no layer from first on may read a layer before first-1 or the input (HK_EINVAL). first 0 is
 * hk_model_forward. */
enum hk_status hk_model_forward_from(struct hk_model *m, int first, const float *x, int n, int training,
                                     uint64_t sample0, const float **out, struct hk_error *err);

/* Result of one step's loss. */
struct hk_step_result {
    double loss;  /* mean data loss + L2 penalty */
    int correct;  /* samples classified right */
};

/* Forward (training) and backward for n samples; the gradient arena receives the gradient of the
 * batch-mean loss (zeroed first). sample_weight may be NULL. Needs a compiled model. */
enum hk_status hk_model_gradients(struct hk_model *m, const float *x, const int *labels,
                                  const float *sample_weight, int n, uint64_t sample0,
                                  struct hk_step_result *res, struct hk_error *err);

/* hk_model_gradients from layer first on, x being layer first-1's outputs: first-1 must not be
 * after hk_model_cache_point (HK_EINVAL), so that the result is the one the whole model gives. */
enum hk_status hk_model_gradients_from(struct hk_model *m, int first, const float *x, const int *labels,
                                       const float *sample_weight, int n, uint64_t sample0,
                                       struct hk_step_result *res, struct hk_error *err);

/* The gradient of the batch-mean loss (no L2 penalty) with respect to the input, for attacks:
 * forward in inference mode (dropout off), then backward through every layer. The loss is the
 * compiled one, or with margin the logit margin (hk_loss_margin). dx receives n x input size
 * values; out (may be NULL) the model's output (n x output size, after the last activation), loss
 * (may be NULL) the mean loss. labels as for hk_model_gradients. The gradient arena is changed (it
 * no longer holds a training gradient). Needs a compiled model. */
enum hk_status hk_model_input_gradient(struct hk_model *m, const float *x, const int *labels, int n, int margin,
                                       float *dx, float *out, double *loss, struct hk_error *err);

/* The gradient arena (borrowed, param_count floats): for tests and for all-reduce. */
float *hk_model_grads(struct hk_model *m);

/* Apply one optimizer step from the gradient arena. */
void hk_model_update(struct hk_model *m);

/* hk_model_gradients then hk_model_update. */
enum hk_status hk_model_train_step(struct hk_model *m, const float *x, const int *labels,
                                   const float *sample_weight, int n, struct hk_step_result *res,
                                   struct hk_error *err);

/* Inference for n inputs in chunks of at most `batch`; probs receives n x output size values
 * (the output after its activation). */
enum hk_status hk_model_predict(struct hk_model *m, const float *x, int n, int batch, float *probs,
                                struct hk_error *err);

/* Loss and accuracy of n inputs (inference mode); probs (may be NULL) receives n x output size
 * values, as hk_model_predict gives them. */
enum hk_status hk_model_evaluate(struct hk_model *m, const float *x, const int *labels, int n, int batch,
                                 struct hk_step_result *res, float *probs, struct hk_error *err);

/* hk_model_evaluate from layer first on, x being layer first-1's outputs (as hk_model_forward_from). */
enum hk_status hk_model_evaluate_from(struct hk_model *m, int first, const float *x, const int *labels, int n,
                                      int batch, struct hk_step_result *res, float *probs, struct hk_error *err);

/* Bytes of memory that training at batch n would use for activations and scratch. */
size_t hk_model_workspace_bytes(const struct hk_model *m, int n);

/* Bytes the model needs at batch n: parameters, gradients, optimizer moments and workspace. */
size_t hk_model_memory_bytes(const struct hk_model *m, int n);

/* HK_OK when a forward pass at batch n fits the memory limit (hk_model_memory_limit); else
 * HK_ENOMEM with the memory it would need, the limit and how to raise it. */
enum hk_status hk_model_check_batch(const struct hk_model *m, int n, struct hk_error *err);

#endif
