/* save.c: saving a session's model on the compute worker (see save.h). */
#include "save.h"

#include <string.h>

#include "sha256.h"

struct save_call {
    const struct hk_save_request *req;
    unsigned char sha256[32]; /* of the file written */
    enum hk_status st;
    struct hk_error err;
};

static void save_on_worker(void *arg)
{
    struct save_call *c = arg;
    const struct hk_save_request *r = c->req;
    struct hk_model_meta meta;
    struct hk_train_state *state = NULL;
    char manifest[65];
    int trained = r->run && r->run->model == r->model;
    if (r->meta)
        meta = *r->meta; /* a shallow copy: the pointers stay the caller's */
    else
        hk_model_meta_init(&meta);
    if (trained && r->run->train) {
        hk_train_manifest(r->run->train, manifest); /* the data this model was trained on */
        meta.data_sha256 = manifest;
    }
    if (r->sections & HK_MODELFILE_STATE_TRAINING) {
        if (trained)
            state = hk_checkpoint_capture(r->checkpoint, r->run);
        meta.training = state ? state : (struct hk_train_state *)r->loaded;
        if (!meta.training) {
            c->st = hk_fail(&c->err, HK_EINVAL, trained ? "out of memory capturing the training state"
                                                        : "this model has not been trained in this session and was "
                                                          "not loaded with a training state; there is no run to save");
            return;
        }
    }
    c->st = hk_modelfile_save_hashed(r->path, r->model, &meta, r->sections, c->sha256, &c->err);
    hk_train_state_free(state);
}

enum hk_status hk_save_model(struct hk_worker *wk, const struct hk_save_request *req, char sha256_hex[65],
                             struct hk_error *err)
{
    struct save_call c = {.req = req, .st = HK_OK};
    hk_worker_call(wk, save_on_worker, &c);
    if (c.st != HK_OK) {
        if (err)
            *err = c.err;
        return c.st;
    }
    if (sha256_hex)
        hk_sha256_hex(c.sha256, sha256_hex); /* computed while writing; the file is not read back */
    return HK_OK;
}
