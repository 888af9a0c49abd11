/* audit.h: looking for poisoned training pictures in a model's own activations: spectral
 * signatures (Tran, Li and Madry 2018). Within each class, the pictures' activations at one layer
 * are centred and projected on their top singular vector; poisoned pictures, which the model
 * separates by their trigger, stand out with large squared projections. */
#ifndef HK_AUDIT_H
#define HK_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "status.h"
#include "worker.h"

/* The output of layer `layer` (after its activation, inference mode) for every picture of ds,
 * into act (ds->count x that layer's output size), computed on the worker in chunks. */
enum hk_status hk_audit_activations(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                    float rescale, int layer, float *act, struct hk_error *err);

/* Spectral-signature scores of n rows of d activations with labels (classes): score[i] is the
 * squared projection of row i, centred on its class mean, on the class's top right singular
 * vector (found by power iteration from a fixed start). Classes with fewer than 2 rows score 0. */
enum hk_status hk_audit_spectral(const float *act, size_t n, int d, const int *labels, int classes, double *score,
                                 struct hk_error *err);

#endif
