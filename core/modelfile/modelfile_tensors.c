/* modelfile_tensors.c: the tensors a model file holds for a model: their names, shapes and where
 * their values live in the model. */
#include "modelfile_format.h"

#include <stdio.h>
#include <string.h>

int mf_model_named(const struct hk_model *m)
{
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer_spec *s = &hk_model_layer(m, i)->spec;
        if (s->name[0] || s->input[0] || s->from[0][0] || hk_model_layer(m, i)->frozen)
            return 1;
    }
    return 0;
}

static enum hk_status add_tensor(struct mf_tensor *t, int *nt, const char *lname, const char *suffix, int layer,
                                 enum mf_part part, uint32_t rank, const uint64_t *dims, uint64_t count,
                                 struct hk_error *err)
{
    struct mf_tensor *x = &t[(*nt)++];
    snprintf(x->name, sizeof x->name, "%.32s/%.24s", lname, suffix);
    x->rank = rank;
    x->layer = layer;
    x->part = part;
    x->count = count;
    x->first = 0;
    uint64_t prod = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > UINT32_MAX || !mf_mul_u64(prod, dims[i], &prod))
            return hk_fail(err, HK_ENOMEM, "%s is too large to store", x->name);
        x->dims[i] = (uint32_t)dims[i];
    }
    if (prod != count)
        return hk_fail(err, HK_ENOMEM, "%s: its shape holds %llu values but the layer has %llu", x->name,
                       (unsigned long long)prod, (unsigned long long)count);
    return HK_OK;
}

/* Append the parameter and state tensors of layer l (named lname) to t, as its kind names them. */
enum hk_status mf_layer_tensors(const struct hk_layer *l, int index, const char *lname, struct mf_tensor *t,
                                    int *nt, struct hk_error *err)
{
    const struct hk_layer_ops *ops = hk_layer_ops_of(l->spec.kind);
    enum hk_status st = HK_OK;
    if (l->wcount) {
        uint64_t dims[4];
        uint32_t rank = (uint32_t)hk_layer_kernel_dims(l, dims);
        const char *suffix = ops->kernel_tensor ? ops->kernel_tensor : "kernel";
        st = add_tensor(t, nt, lname, suffix, index, MF_PART_KERNEL, rank, dims, l->wcount, err);
    }
    if (st == HK_OK && l->bcount) {
        uint64_t dims[1] = {l->bcount};
        const char *suffix = ops->bias_tensor ? ops->bias_tensor : "bias";
        st = add_tensor(t, nt, lname, suffix, index, MF_PART_BIAS, 1, dims, l->bcount, err);
    }
    int nstate = 0;
    while (ops->state_tensors && ops->state_tensors[nstate])
        nstate++;
    for (int k = 0; st == HK_OK && l->scount && k < nstate; k++) {
        uint64_t part = l->scount / (uint64_t)nstate, dims[1] = {part};
        st = add_tensor(t, nt, lname, ops->state_tensors[k], index, MF_PART_STATE, 1, dims, part, err);
        if (st == HK_OK)
            t[*nt - 1].first = part * (uint64_t)k;
    }
    return st;
}

/* The optimizer-state tensors of a model with nparams parameters. */
enum hk_status mf_optim_tensors(size_t nparams, struct mf_tensor *t, int *nt, struct hk_error *err)
{
    if (!nparams)
        return HK_OK;
    uint64_t dims[1] = {nparams};
    enum hk_status st = add_tensor(t, nt, "optimizer", "m", -1, MF_PART_OPT_M, 1, dims, nparams, err);
    if (st == HK_OK)
        st = add_tensor(t, nt, "optimizer", "v", -1, MF_PART_OPT_V, 1, dims, nparams, err);
    return st;
}

/* Where tensor x lives in model m (borrowed). */
enum hk_status mf_history_tensors(size_t nbatches, struct mf_tensor *t, int *nt, struct hk_error *err)
{
    if (!nbatches)
        return HK_OK;
    uint64_t dims[1] = {nbatches};
    return add_tensor(t, nt, "history", "batch_loss", -1, MF_PART_BATCH_LOSS, 1, dims, nbatches, err);
}

float *mf_tensor_data(struct hk_model *m, float *batch_losses, const struct mf_tensor *x)
{
    float *m1, *m2;
    switch (x->part) {
    case MF_PART_KERNEL:
        return hk_model_layer(m, x->layer)->w;
    case MF_PART_BIAS:
        return hk_model_layer(m, x->layer)->b;
    case MF_PART_STATE:
        return hk_model_layer(m, x->layer)->state + x->first;
    case MF_PART_OPT_M:
        hk_model_optim_state(m, &m1, NULL, NULL);
        return m1;
    case MF_PART_OPT_V:
        hk_model_optim_state(m, NULL, &m2, NULL);
        return m2;
    case MF_PART_BATCH_LOSS:
        return batch_losses;
    }
    return NULL;
}
