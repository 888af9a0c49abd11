/* optim.h: SGD (momentum, Nesterov), RMSprop and Adam with Keras' update rules and defaults,
 * each one flat loop over the parameter arena. */
#ifndef HK_OPTIM_H
#define HK_OPTIM_H

#include <stddef.h>
#include <stdint.h>

enum hk_optim_kind { HK_OPTIM_SGD, HK_OPTIM_RMSPROP, HK_OPTIM_ADAM, HK_OPTIM_COUNT };

struct hk_optim {
    enum hk_optim_kind kind;
    float lr;
    float momentum; /* sgd */
    int nesterov;   /* sgd */
    float rho;      /* rmsprop */
    float beta1, beta2;
    float epsilon;
};

/* Keras defaults: sgd lr 0.01 momentum 0; rmsprop lr 0.001 rho 0.9; adam lr 0.001 0.9 0.999;
 * epsilon 1e-7. */
struct hk_optim hk_optim_default(enum hk_optim_kind kind);

/* Name as written in commands ("adam"); NULL for an invalid value. */
const char *hk_optim_name(enum hk_optim_kind kind);

/* Look a name up; HK_OPTIM_COUNT when unknown. */
enum hk_optim_kind hk_optim_find(const char *name);

/* One update of n parameters at step t (1-based). m and v are the optimizer's moment arenas
 * (n floats each, zero at t = 1). */
void hk_optim_step(const struct hk_optim *o, uint64_t t, float *param, const float *grad, float *m, float *v,
                   size_t n);

#endif
