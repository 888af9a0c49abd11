/* audit.h: looking for poisoned training pictures in a model's own activations. Within each
 * class, the pictures' activations at one layer are centred; poisoned pictures, which the model
 * separates by their trigger, stand out: with large squared projections on the top singular vector
 * (spectral signatures, Tran, Li and Madry 2018), or as the smaller of two clusters (activation
 * clustering, Chen et al. 2018). */
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

/* Activation clustering: within each class, rows centred on the class mean are projected on the
 * class's top 10 singular vectors (fewer when d is smaller; Chen et al. use ICA to 10 dimensions,
 * this uses the principal ones) and split by 2-means. score[i] is how much nearer row i lies to
 * the smaller cluster's centre than to the larger's (positive: in the smaller cluster, the
 * suspect one); share[c] (classes values) receives the smaller cluster's share of class c, which
 * Chen et al. read as poisoned when well under a half (0 for classes under 2 rows). */
enum hk_status hk_audit_cluster(const float *act, size_t n, int d, const int *labels, int classes, double *score,
                                double *share, struct hk_error *err);

#endif
