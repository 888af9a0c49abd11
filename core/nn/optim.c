/* optim.c: the update rules, written as Keras (TF 2.x) applies them. */
#include "optim.h"

#include <math.h>
#include <string.h>

static const char *const optim_names[HK_OPTIM_COUNT] = {"sgd", "rmsprop", "adam"};

struct hk_optim hk_optim_default(enum hk_optim_kind kind)
{
    struct hk_optim o = {kind, 0.001f, 0.0f, 0, 0.9f, 0.9f, 0.999f, 1e-7f};
    if (kind == HK_OPTIM_SGD)
        o.lr = 0.01f;
    return o;
}

const char *hk_optim_name(enum hk_optim_kind kind)
{
    return (unsigned)kind < HK_OPTIM_COUNT ? optim_names[kind] : NULL;
}

enum hk_optim_kind hk_optim_find(const char *name)
{
    for (int i = 0; i < HK_OPTIM_COUNT; i++)
        if (strcmp(name, optim_names[i]) == 0)
            return (enum hk_optim_kind)i;
    return HK_OPTIM_COUNT;
}

void hk_optim_step(const struct hk_optim *o, uint64_t t, float *param, const float *grad, float *m, float *v,
                   size_t n)
{
    float lr = o->lr;
    switch (o->kind) {
    case HK_OPTIM_SGD:
        if (o->momentum == 0.0f) {
            for (size_t i = 0; i < n; i++)
                param[i] -= lr * grad[i];
        } else {
            /* v = momentum*v - lr*g; p += v (Nesterov: p += momentum*v - lr*g) */
            for (size_t i = 0; i < n; i++) {
                m[i] = o->momentum * m[i] - lr * grad[i];
                param[i] += o->nesterov ? o->momentum * m[i] - lr * grad[i] : m[i];
            }
        }
        break;
    case HK_OPTIM_RMSPROP:
        for (size_t i = 0; i < n; i++) {
            v[i] = o->rho * v[i] + (1.0f - o->rho) * grad[i] * grad[i];
            param[i] -= lr * grad[i] / (sqrtf(v[i]) + o->epsilon);
        }
        break;
    case HK_OPTIM_ADAM: {
        /* alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); p -= alpha * m / (sqrt(v) + eps) */
        double b1t = pow(o->beta1, (double)t), b2t = pow(o->beta2, (double)t);
        float alpha = (float)(lr * sqrt(1.0 - b2t) / (1.0 - b1t));
        float b1 = o->beta1, b2 = o->beta2, eps = o->epsilon;
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0f - b2) * grad[i] * grad[i];
            param[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
        }
        break;
    }
    case HK_OPTIM_COUNT:
        break;
    }
}
