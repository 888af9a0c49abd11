/* activation.c: relu, relu6 (min(max(x, 0), 6), Keras ReLU(max_value=6)), sigmoid, tanh, softmax forward and backward, computed from the output. */
#include "activation.h"

#include <math.h>
#include <string.h>

static const char *const act_names[HK_ACT_COUNT] = {"linear", "relu", "sigmoid", "tanh", "softmax", "relu6"};

const char *hk_act_name(enum hk_act act)
{
    return (unsigned)act < HK_ACT_COUNT ? act_names[act] : NULL;
}

const char *hk_act_list(void)
{
    return "linear, relu, relu6, sigmoid, tanh, softmax";
}

enum hk_act hk_act_find(const char *name)
{
    for (int i = 0; i < HK_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0)
            return (enum hk_act)i;
    return HK_ACT_COUNT;
}

static float sigmoidf(float z)
{
    if (z >= 0) {
        float e = expf(-z);
        return 1.0f / (1.0f + e);
    }
    float e = expf(z);
    return e / (1.0f + e);
}

void hk_act_forward(enum hk_act act, float *y, size_t rows, size_t width)
{
    size_t n = rows * width;
    switch (act) {
    case HK_ACT_LINEAR:
    case HK_ACT_COUNT:
        break;
    case HK_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
        break;
    case HK_ACT_RELU6:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0 ? (y[i] < 6 ? y[i] : 6) : 0;
        break;
    case HK_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            y[i] = sigmoidf(y[i]);
        break;
    case HK_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(y[i]);
        break;
    case HK_ACT_SOFTMAX:
        for (size_t r = 0; r < rows; r++) {
            float *row = y + r * width, max = row[0], sum = 0;
            for (size_t j = 1; j < width; j++)
                max = row[j] > max ? row[j] : max;
            for (size_t j = 0; j < width; j++)
                sum += row[j] = expf(row[j] - max);
            for (size_t j = 0; j < width; j++)
                row[j] /= sum;
        }
        break;
    }
}

void hk_act_backward(enum hk_act act, const float *y, float *dy, size_t rows, size_t width)
{
    size_t n = rows * width;
    switch (act) {
    case HK_ACT_LINEAR:
    case HK_ACT_COUNT:
        break;
    case HK_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0 ? dy[i] : 0;
        break;
    case HK_ACT_RELU6:
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0;
        break;
    case HK_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dy[i] *= y[i] * (1 - y[i]);
        break;
    case HK_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dy[i] *= 1 - y[i] * y[i];
        break;
    case HK_ACT_SOFTMAX:
        for (size_t r = 0; r < rows; r++) {
            const float *yr = y + r * width;
            float *dr = dy + r * width, dot = 0;
            for (size_t j = 0; j < width; j++)
                dot += yr[j] * dr[j];
            for (size_t j = 0; j < width; j++)
                dr[j] = yr[j] * (dr[j] - dot);
        }
        break;
    }
}
