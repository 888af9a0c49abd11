/* compile_spec.c: parsing and formatting of the compile command. */
#include "compile_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_key { K_OPTIMIZER, K_LR, K_MOMENTUM, K_NESTEROV, K_RHO, K_BETA1, K_BETA2, K_EPSILON, K_LOSS, K_COUNT };

const char *const hk_compile_keys[K_COUNT + 1] = {"optimizer", "lr", "momentum", "nesterov", "rho",
                                              "beta1", "beta2", "epsilon", "loss", NULL};

/* Which keys each optimizer takes (bit per enum opt_key); optimizer and loss always apply. */
#define BIT(k) (1u << (k))
static const unsigned applies[HK_OPTIM_COUNT] = {
    [HK_OPTIM_SGD] = BIT(K_LR) | BIT(K_MOMENTUM) | BIT(K_NESTEROV),
    [HK_OPTIM_RMSPROP] = BIT(K_LR) | BIT(K_RHO) | BIT(K_EPSILON),
    [HK_OPTIM_ADAM] = BIT(K_LR) | BIT(K_BETA1) | BIT(K_BETA2) | BIT(K_EPSILON),
};

const char hk_compile_usage[] = "compile [optimizer=sgd|rmsprop|adam] [lr=X] [momentum=X] [nesterov=yes|no] [rho=X] "
                            "[beta1=X] [beta2=X] [epsilon=X] [loss=binary_crossentropy|categorical_crossentropy]";

static int key_index(const char *key)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(hk_compile_keys[k], key) == 0)
            return k;
    return -1;
}

/* The keys that apply to kind, as "lr, beta1, ..." for messages. */
static void list_keys(enum hk_optim_kind kind, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < K_COUNT && n < cap; k++)
        if (applies[kind] & BIT(k))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", hk_compile_keys[k]);
}

/* A float option: finite, representable as float, in [lo, hi) (hi_incl: in [lo, hi]); with
 * positive, also > 0 after rounding to float. */
static enum hk_status parse_value(const char *key, const char *text, double lo, double hi, int positive,
                                  float *out, struct hk_error *err)
{
    double v;
    if (!hk_parse_float(text, &v))
        return hk_fail(err, HK_EINVAL, "%s must be a number, got '%s'", key, text);
    float f = (float)v;
    if (!isfinite(f) || v < lo || v >= hi || (positive && !(f > 0))) {
        if (positive)
            return hk_fail(err, HK_EINVAL, "%s must be a number greater than 0 and below %g, got '%s'", key, hi,
                           text);
        return hk_fail(err, HK_EINVAL, "%s must be a number from %g up to (not including) %g, got '%s'", key, lo,
                       hi, text);
    }
    *out = f;
    return HK_OK;
}

static enum hk_status parse_bool(const char *key, const char *text, int *out, struct hk_error *err)
{
    if (!strcmp(text, "yes") || !strcmp(text, "true") || !strcmp(text, "on") || !strcmp(text, "1"))
        *out = 1;
    else if (!strcmp(text, "no") || !strcmp(text, "false") || !strcmp(text, "off") || !strcmp(text, "0"))
        *out = 0;
    else
        return hk_fail(err, HK_EINVAL, "%s must be yes or no, got '%s'", key, text);
    return HK_OK;
}

static enum hk_status apply(int k, const char *value, struct hk_optim *o, enum hk_loss *loss, struct hk_error *err)
{
    switch (k) {
    case K_LR:
        return parse_value("lr", value, 0, 1e6, 1, &o->lr, err);
    case K_MOMENTUM:
        return parse_value("momentum", value, 0, 1, 0, &o->momentum, err);
    case K_NESTEROV:
        return parse_bool("nesterov", value, &o->nesterov, err);
    case K_RHO:
        return parse_value("rho", value, 0, 1, 0, &o->rho, err);
    case K_BETA1:
        return parse_value("beta1", value, 0, 1, 0, &o->beta1, err);
    case K_BETA2:
        return parse_value("beta2", value, 0, 1, 0, &o->beta2, err);
    case K_EPSILON:
        return parse_value("epsilon", value, 0, 1, 1, &o->epsilon, err);
    case K_LOSS: {
        *loss = hk_loss_find(value);
        if (*loss != HK_LOSS_COUNT)
            return HK_OK;
        static const char *const names[] = {"binary_crossentropy", "categorical_crossentropy", "bce", "cce", NULL};
        const char *near = hk_closest(value, names);
        return hk_fail(err, HK_EINVAL, "unknown loss '%s'%s%s%s (one of binary_crossentropy, categorical_crossentropy)",
                       value, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    }
    default:
        return HK_OK; /* optimizer: handled before */
    }
}

enum hk_status hk_compile_parse(const struct hk_words *words, int first, struct hk_optim *opt, enum hk_loss *loss,
                                int *bad, struct hk_error *err)
{
    *bad = first;
    int seen[K_COUNT] = {0};
    enum hk_optim_kind kind = HK_OPTIM_ADAM;
    /* first pass: every word is a known option given once; the optimizer decides the defaults */
    for (int i = first + 1; i < words->count; i++) {
        const struct hk_word *w = &words->w[i];
        *bad = i;
        if (!w->key)
            return hk_fail(err, HK_EINVAL, "unexpected argument '%s'; compile takes only options: %s", w->text,
                           hk_compile_usage);
        int k = key_index(w->key);
        if (k < 0) {
            const char *near = hk_closest(w->key, hk_compile_keys);
            if (near)
                return hk_fail(err, HK_EINVAL, "unknown option '%s'; did you mean '%s'?", w->key, near);
            return hk_fail(err, HK_EINVAL, "unknown option '%s'; usage: %s", w->key, hk_compile_usage);
        }
        if (seen[k])
            return hk_fail(err, HK_EINVAL, "option '%s' is given twice", w->key);
        seen[k] = i;
        if (k == K_OPTIMIZER) {
            kind = hk_optim_find(w->value);
            if (kind == HK_OPTIM_COUNT) {
                static const char *const names[] = {"sgd", "rmsprop", "adam", NULL};
                const char *near = hk_closest(w->value, names);
                return hk_fail(err, HK_EINVAL, "unknown optimizer '%s'%s%s%s (one of sgd, rmsprop, adam)", w->value,
                               near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
            }
        }
    }
    /* second pass, in word order: options of the chosen optimizer on top of its defaults */
    *opt = hk_optim_default(kind);
    *loss = HK_LOSS_BCE;
    for (int i = first + 1; i < words->count; i++) {
        const struct hk_word *w = &words->w[i];
        int k = key_index(w->key);
        *bad = i;
        if (k != K_OPTIMIZER && k != K_LOSS && !(applies[kind] & BIT(k))) {
            char list[128];
            list_keys(kind, list, sizeof list);
            return hk_fail(err, HK_EINVAL, "option '%s' does not apply to optimizer %s (it takes %s)", w->key,
                           hk_optim_name(kind), list);
        }
        enum hk_status st = apply(k, w->value, opt, loss, err);
        if (st != HK_OK)
            return st;
    }
    *bad = -1;
    return HK_OK;
}

void hk_compile_format(const struct hk_optim *opt, enum hk_loss loss, char *buf, size_t cap)
{
    if (!cap)
        return;
    enum hk_optim_kind kind = (unsigned)opt->kind < HK_OPTIM_COUNT ? opt->kind : HK_OPTIM_ADAM;
    size_t n = (size_t)snprintf(buf, cap, "compile optimizer=%s", hk_optim_name(kind));
    const float *vals[K_COUNT] = {
        [K_LR] = &opt->lr, [K_MOMENTUM] = &opt->momentum, [K_RHO] = &opt->rho,
        [K_BETA1] = &opt->beta1, [K_BETA2] = &opt->beta2, [K_EPSILON] = &opt->epsilon,
    };
    for (int k = 0; k < K_COUNT && n < cap; k++) {
        if (!(applies[kind] & BIT(k)))
            continue;
        n += (size_t)snprintf(buf + n, cap - n, " %s=", hk_compile_keys[k]);
        if (n >= cap)
            break;
        if (k == K_NESTEROV)
            n += (size_t)snprintf(buf + n, cap - n, "%s", opt->nesterov ? "yes" : "no");
        else
            n += (size_t)hk_format_float(buf + n, cap - n, *vals[k]);
    }
    const char *lname = hk_loss_name(loss);
    if (n < cap)
        snprintf(buf + n, cap - n, " loss=%s", lname ? lname : "binary_crossentropy");
}
