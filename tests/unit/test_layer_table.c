/* test_layer_table.c: the one table of layer kinds (struct hk_layer_ops): every kind describes
 * itself completely (word, Keras names, usage, help, options, positional counts, tensors); the
 * Keras-style automatic names that the model and the model file share (hk_layer_auto_name); and
 * the "same parameters" test that decides which layers keep their weights after an edit. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "layer.h"

static void check_kinds(void)
{
    for (int k = 0; k < HK_LAYER_KIND_COUNT; k++) {
        const struct hk_layer_ops *ops = hk_layer_ops_of((enum hk_layer_kind)k);
        CHECK(ops && ops->word && ops->keras_name && ops->keras_class && ops->infer && ops->forward &&
                  ops->backward, "kind %d: incomplete ops", k);
        if (!ops || !ops->word)
            continue;
        size_t n = strlen(ops->word);
        CHECK(ops->usage && strncmp(ops->usage, ops->word, n) == 0 && (ops->usage[n] == ' ' || !ops->usage[n]),
              "%s: usage '%s' does not start with the word", ops->word, ops->usage ? ops->usage : "(null)");
        CHECK(ops->help && strlen(ops->help) > 10, "%s: no help", ops->word);
        CHECK(ops->required >= 0 && ops->required <= ops->positional && ops->positional <= 2,
              "%s: positional %d, required %d", ops->word, ops->positional, ops->required);
        for (int i = 0; ops->options && ops->options[i]; i++)
            CHECK(ops->usage && strstr(ops->usage, ops->options[i]), "%s: option %s missing from its usage",
                  ops->word, ops->options[i]);
        CHECK(hk_layer_ops_of((enum hk_layer_kind)k) != NULL, "kind %d has no ops", k);
    }
    CHECK(hk_layer_ops_of(HK_LAYER_KIND_COUNT) == NULL, "ops of an invalid kind");
}

static void check_names(void)
{
    int serial[HK_LAYER_NAME_SLOTS] = {0};
    struct hk_layer taken[3];
    memset(taken, 0, sizeof taken);
    struct hk_layer_spec conv = {.kind = HK_LAYER_CONV2D}, relu6 = {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_RELU6};
    struct hk_layer_spec relu = {.kind = HK_LAYER_ACTIVATION, .act = HK_ACT_RELU};
    hk_layer_auto_name(taken[0].name, &conv, serial, taken, 0);
    CHECK(strcmp(taken[0].name, "conv2d") == 0, "first conv2d named %s", taken[0].name);
    snprintf(taken[1].name, sizeof taken[1].name, "conv2d_1"); /* as if a name= took it */
    hk_layer_auto_name(taken[2].name, &conv, serial, taken, 2);
    CHECK(strcmp(taken[2].name, "conv2d_2") == 0, "a taken name is skipped: got %s", taken[2].name);
    char name[HK_LAYER_NAME_MAX];
    hk_layer_auto_name(name, &relu6, serial, taken, 3);
    CHECK(strcmp(name, "re_lu") == 0, "activation relu6 named %s", name);
    hk_layer_auto_name(name, &relu, serial, taken, 3);
    CHECK(strcmp(name, "activation") == 0, "activation relu named %s (re_lu counts apart)", name);
    hk_layer_auto_name(name, &relu6, serial, taken, 3);
    CHECK(strcmp(name, "re_lu_1") == 0, "second relu6 named %s", name);
}

/* A layer of this spec over an input of c x side x side, inferred. */
static struct hk_layer layer(struct hk_layer_spec spec, int c, int side)
{
    struct hk_layer l;
    memset(&l, 0, sizeof l);
    l.spec = spec;
    l.ops = hk_layer_ops_of(spec.kind);
    l.in = (struct hk_shape){c, side, side};
    snprintf(l.name, sizeof l.name, "x");
    struct hk_error err;
    CHECK(l.ops->infer(&l, &err) == HK_OK, "infer %s", l.ops->word);
    return l;
}

static void check_same_params(void)
{
    struct hk_layer_spec c33 = {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1};
    struct hk_layer_spec c33r = c33, c31 = c33, c13 = c33, c33s = c33;
    c33r.act = HK_ACT_RELU;
    c31.kh = 1, c31.kw = 9; /* same count of weights as 3x3, another shape */
    c13.kh = 9, c13.kw = 1;
    c33s.same = 1, c33s.sh = c33s.sw = 2;
    struct hk_layer a = layer(c33, 2, 12);
    struct hk_layer b = layer(c33r, 2, 12);
    CHECK(hk_layer_same_params(&a, &b), "another activation keeps the weights");
    b = layer(c33s, 2, 12);
    CHECK(hk_layer_same_params(&a, &b), "other strides and padding keep the weights");
    struct hk_layer c = layer(c31, 2, 12), d = layer(c13, 2, 12);
    CHECK(c.wcount == d.wcount && !hk_layer_same_params(&c, &d), "1x9 and 9x1 kernels differ");
    b = layer(c33, 3, 12);
    CHECK(!hk_layer_same_params(&a, &b), "another input depth differs");
    struct hk_layer_spec d1 = {.kind = HK_LAYER_DENSE, .units = 6}, d2 = {.kind = HK_LAYER_DENSE, .units = 4};
    c = layer(d1, 4, 1);
    d = layer(d2, 6, 1);
    CHECK(c.wcount == d.wcount && !hk_layer_same_params(&c, &d), "dense 4->6 and 6->4 differ");
    uint64_t dims[4];
    CHECK(hk_layer_kernel_dims(&c, dims) == 2 && dims[0] == 4 && dims[1] == 6, "dense kernel is inputs x units");
    CHECK(hk_layer_kernel_dims(&a, dims) == 4 && dims[0] == 4 && dims[1] == 2 && dims[2] == 3 && dims[3] == 3,
          "conv2d kernel is filters x channels x rows x columns");
}

int main(void)
{
    check_kinds();
    check_names();
    check_same_params();
    return check_summary();
}
