/* loss.h: losses fused with the output activation (binary cross-entropy on sigmoid logits,
 * categorical cross-entropy on softmax logits), stable for large logits. */
#ifndef HK_LOSS_H
#define HK_LOSS_H

#include <stddef.h>

#include "activation.h"

enum hk_loss { HK_LOSS_BCE, HK_LOSS_CCE, HK_LOSS_COUNT };

/* Name as written in commands ("binary_crossentropy"); NULL for an invalid value. */
const char *hk_loss_name(enum hk_loss loss);

/* Look a name up (also accepts "bce", "cce"); HK_LOSS_COUNT when unknown. */
enum hk_loss hk_loss_find(const char *name);

/* The output activation a loss is fused with (sigmoid for BCE, softmax for CCE). */
enum hk_act hk_loss_activation(enum hk_loss loss);

/* Weighted mean loss over n samples from logits (n x k; BCE needs k = 1) and labels (class
 * indices; BCE: 0 or 1). sample_weight (n values) may be NULL for all ones. If dlogits is not
 * NULL it receives d(loss)/d(logits) (n x k). Returns the loss (sum of w_i * l_i over n, as Keras). */
double hk_loss_eval(enum hk_loss loss, const float *logits, const int *labels, const float *sample_weight,
                    int n, int k, float *dlogits);

/* The logit margin (Carlini and Wagner's loss) of n samples, as attacks use it: with softmax the
 * largest other logit minus the label's, with one sigmoid logit z: -z for label 1, z for label 0.
 * Unlike cross-entropy its gradient never rounds to zero on confident outputs. Returns the mean;
 * dlogits (may be NULL) receives its gradient (n x k). */
double hk_loss_margin(const float *logits, const int *labels, int n, int k, float *dlogits);

#endif
