/* activation.h: element-wise activations applied to a layer's output, and their gradients. */
#ifndef HK_ACTIVATION_H
#define HK_ACTIVATION_H

#include <stddef.h>

enum hk_act { HK_ACT_LINEAR, HK_ACT_RELU, HK_ACT_SIGMOID, HK_ACT_TANH, HK_ACT_SOFTMAX, HK_ACT_RELU6, HK_ACT_COUNT };

/* Name as written in commands ("relu"); NULL for an invalid value. */
const char *hk_act_name(enum hk_act act);

/* The names, comma-separated ("linear, relu, ..."), for messages and help. */
const char *hk_act_list(void);

/* Look a name up; returns HK_ACT_COUNT when unknown. */
enum hk_act hk_act_find(const char *name);

/* In place over n rows of `width` values (softmax works per row). */
void hk_act_forward(enum hk_act act, float *y, size_t rows, size_t width);

/* dy := dy * f'(.) expressed through the output y, over n rows of `width` values. */
void hk_act_backward(enum hk_act act, const float *y, float *dy, size_t rows, size_t width);

#endif
