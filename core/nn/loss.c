/* loss.c: binary and categorical cross-entropy computed from logits. */
#include "loss.h"

#include <math.h>
#include <string.h>

static const char *const loss_names[HK_LOSS_COUNT] = {"binary_crossentropy", "categorical_crossentropy"};

const char *hk_loss_name(enum hk_loss loss)
{
    return (unsigned)loss < HK_LOSS_COUNT ? loss_names[loss] : NULL;
}

enum hk_loss hk_loss_find(const char *name)
{
    if (strcmp(name, "bce") == 0)
        return HK_LOSS_BCE;
    if (strcmp(name, "cce") == 0 || strcmp(name, "sparse_categorical_crossentropy") == 0)
        return HK_LOSS_CCE;
    for (int i = 0; i < HK_LOSS_COUNT; i++)
        if (strcmp(name, loss_names[i]) == 0)
            return (enum hk_loss)i;
    return HK_LOSS_COUNT;
}

enum hk_act hk_loss_activation(enum hk_loss loss)
{
    return loss == HK_LOSS_BCE ? HK_ACT_SIGMOID : HK_ACT_SOFTMAX;
}

/* BCE(z, y) = max(z, 0) - z*y + log(1 + exp(-|z|));  d/dz = sigmoid(z) - y */
static double bce(const float *z, const int *labels, const float *sw, int n, float *dz)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        double zi = z[i], y = labels[i] ? 1.0 : 0.0, w = sw ? sw[i] : 1.0;
        total += w * ((zi > 0 ? zi : 0) - zi * y + log1p(exp(-fabs(zi))));
        if (dz) {
            double p = zi >= 0 ? 1.0 / (1.0 + exp(-zi)) : exp(zi) / (1.0 + exp(zi));
            dz[i] = (float)(w * (p - y) / n);
        }
    }
    return total / n;
}

/* CCE(z, y) = logsumexp(z) - z_y;  d/dz_j = softmax(z)_j - [j == y] */
static double cce(const float *z, const int *labels, const float *sw, int n, int k, float *dz)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *row = z + (size_t)i * k;
        double max = row[0], sum = 0, w = sw ? sw[i] : 1.0;
        for (int j = 1; j < k; j++)
            max = row[j] > max ? row[j] : max;
        for (int j = 0; j < k; j++)
            sum += exp(row[j] - max);
        total += w * (max + log(sum) - row[labels[i]]);
        if (dz)
            for (int j = 0; j < k; j++)
                dz[(size_t)i * k + j] = (float)(w * (exp(row[j] - max) / sum - (j == labels[i])) / n);
    }
    return total / n;
}

double hk_loss_eval(enum hk_loss loss, const float *logits, const int *labels, const float *sample_weight,
                    int n, int k, float *dlogits)
{
    if (n <= 0)
        return 0;
    return loss == HK_LOSS_BCE ? bce(logits, labels, sample_weight, n, dlogits)
                               : cce(logits, labels, sample_weight, n, k, dlogits);
}

double hk_loss_margin(const float *logits, const int *labels, int n, int k, float *dlogits)
{
    double total = 0;
    float g = n > 0 ? 1.0f / (float)n : 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float *d = dlogits ? dlogits + (size_t)i * k : NULL;
        int y = labels[i];
        if (k == 1) {
            total += y ? -(double)z[0] : (double)z[0];
            if (d)
                d[0] = y ? -g : g;
            continue;
        }
        int other = y == 0 ? 1 : 0;
        for (int j = 0; j < k; j++)
            if (j != y && z[j] > z[other])
                other = j;
        total += (double)z[other] - z[y];
        if (d) {
            for (int j = 0; j < k; j++)
                d[j] = 0;
            d[other] = g;
            d[y] = -g;
        }
    }
    return n > 0 ? total / n : 0;
}
