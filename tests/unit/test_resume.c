/* test_resume.c: exact resume from a run stopped in the middle of an epoch. On one BLAS thread, the
 * stripes set with augmentation and dropout: (a) 4 epochs straight; (b) the same run with
 * checkpoint=DIR, stopped between two batches inside an epoch after the first (the stop writes
 * DIR/last.hkm), then last.hkm loaded into a fresh model and history and resumed to the end. The weights, the
 * optimizer moments and the per-epoch losses of (a) and (b) must be equal bit for bit. A third run
 * resumed from the same file but with the position moved back one batch must differ, so the
 * comparison can fail. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "layer_spec.h"
#include "modelfile.h"
#include "train.h"
#include "train_state.h"

static struct hk_words words; /* large: not on the stack */
static const char *root;

static struct hk_model *stripes_model(void)
{
    static const char *const lines[] = {"conv2d 8 3x3 activation=relu", "maxpool 2x2", "dropout 0.3",
                                        "conv2d 16 3x3 activation=relu", "flatten", "dense 16 activation=relu",
                                        "dropout 0.2", "dense 1 activation=sigmoid"};
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 16, 16}, 42, &err);
    for (int i = 0; i < 8; i++) {
        struct hk_layer_spec spec;
        int col, bad;
        if (hk_lex(lines[i], &words, &col, &err) != HK_OK || hk_layer_spec_parse(&words, 0, &spec, &bad, &err) ||
            hk_model_insert(m, i, &spec, NULL, &err) != HK_OK) {
            fprintf(stderr, "%s: %s\n", lines[i], err.msg);
            exit(1);
        }
    }
    struct hk_optim o = hk_optim_default(HK_OPTIM_ADAM);
    o.lr = 0.01f;
    hk_model_compile(m, &o, HK_LOSS_BCE, &err);
    return m;
}

static struct hk_train_config stripes_config(void)
{
    struct hk_train_config c = {.epochs = 4, .batch = 8, .seed = 42, .rescale = 1.0f / 255,
                                .augment = hk_augment_default(), .until = HK_METRIC_COUNT};
    c.augment.rotation_range = 20, c.augment.width_shift = c.augment.height_shift = 0.1f;
    c.augment.zoom_lo = 0.8f, c.augment.zoom_hi = 1.2f, c.augment.horizontal_flip = 1;
    for (int k = 0; k < HK_TRAIN_MAX_CLASSES; k++)
        c.class_weight[k] = 1.0f;
    return c;
}

struct stop_at {
    struct hk_train_run *run;
    int reached;
};

/* On the worker, between two batches: stop once the run is past its first epoch and inside an
 * epoch (1 to 5 of its 6 batches done). The stop is seen before the next batch, so the run stops
 * exactly where this call saw it. */
static void stop_inside_epoch(void *arg)
{
    struct stop_at *s = arg;
    const struct hk_train_position *p = &s->run->pos;
    if (!s->reached && p->epoch >= 1 && p->batch >= 1 && p->batch <= 5) {
        atomic_store(&s->run->stop, 1);
        s->reached = 1;
    }
}

static void run_to_end(struct hk_worker *w, struct hk_train_run *run)
{
    struct hk_error err;
    CHECK(hk_worker_start(w, hk_train_job, run, &err) == HK_OK, "start: %s", err.msg);
    hk_worker_wait(w);
}

static void setup_run(struct hk_train_run *run, struct hk_model *m, struct hk_dataset *train, struct hk_dataset *val,
                      struct hk_history *h, struct hk_worker *w)
{
    memset(run, 0, sizeof *run);
    run->model = m, run->train = train, run->val = val, run->history = h, run->worker = w;
    run->config = stripes_config();
}

/* A fresh model and history continued from the state in path; pos_shift moves its position. */
static struct hk_model *resume_from(const char *path, struct hk_dataset *train, struct hk_dataset *val,
                                    struct hk_worker *w, int pos_shift, struct hk_history **hist)
{
    struct hk_error err;
    struct hk_model *m = NULL;
    struct hk_model_meta meta;
    memset(&meta, 0, sizeof meta);
    *hist = hk_history_new();
    if (hk_modelfile_load(path, NULL, &m, &meta, &err) != HK_OK || !meta.training) {
        CHECK(0, "load %s: %s", path, err.msg);
        return NULL;
    }
    CHECK(hk_train_state_check(meta.training, m, train, val, &err) == HK_OK, "state fits the data: %s", err.msg);
    hk_train_state_restore_history(meta.training, *hist, &err);
    struct hk_train_run run;
    setup_run(&run, m, train, val, *hist, w);
    run.config = meta.training->config;
    run.resume = 1;
    run.pos = meta.training->pos;
    run.pos.batch += pos_shift;
    run_to_end(w, &run);
    CHECK(run.status == HK_OK, "resumed run: %s", run.err.msg);
    hk_model_meta_free(&meta);
    return m;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : ".";
    char dir[64] = "/tmp/hk_resume_XXXXXX", path[512];
    if (!mkdtemp(dir))
        return 1;
    struct hk_error err;
    struct hk_image_limits lim = hk_image_limits_default();
    struct hk_dataset *train = NULL, *val = NULL;
    snprintf(path, sizeof path, "%s/tests/fixtures/stripes/train", root);
    if (hk_dataset_load(path, (struct hk_size){.h = 16, .w = 16}, &lim, 1, &train, &err) != HK_OK)
        return fprintf(stderr, "%s\n", err.msg), 1;
    snprintf(path, sizeof path, "%s/tests/fixtures/stripes/val", root);
    if (hk_dataset_load(path, (struct hk_size){.h = 16, .w = 16}, &lim, 1, &val, &err) != HK_OK)
        return fprintf(stderr, "%s\n", err.msg), 1;
    /* the manifest, against hashlib over the same fields (python3, see train_state.h):
     * "16x16 2\n", "horizontal\0vertical\0", then "LABEL CLASS/FILE\0" for the sorted files */
    char manifest[65];
    hk_train_manifest(train, manifest);
    CHECK(strcmp(manifest, "b3c7f0e6afd065736b8025a5692a5b4a049620801f23246d3c8b4f43b228e958") == 0,
          "manifest %s", manifest);
    struct hk_dataset *other = NULL;
    snprintf(path, sizeof path, "%s/tests/fixtures/stripes/./train/", root);
    CHECK(hk_dataset_load(path, (struct hk_size){.h = 16, .w = 16}, &lim, 1, &other, &err) == HK_OK, "load: %s", err.msg);
    hk_train_manifest(other, path);
    CHECK(strcmp(manifest, path) == 0, "the same set through another path has the same manifest");
    hk_dataset_free(other);
    hk_train_manifest(val, path);
    CHECK(strcmp(manifest, path) != 0, "another set has another manifest");
    struct hk_worker *w = hk_worker_new(&err);
    hk_worker_set_threads(w, 1);

    /* (a) straight through */
    struct hk_model *a = stripes_model();
    struct hk_history *ha = hk_history_new();
    struct hk_train_run run;
    setup_run(&run, a, train, val, ha, w);
    run_to_end(w, &run);
    CHECK(run.status == HK_OK && hk_history_epoch_count(ha) == 4, "straight run: %s", run.err.msg);

    /* (b) checkpointed, stopped inside an epoch after the first (a busy machine may let a run
     * finish before the main thread gets a call in: then it is tried again) */
    struct hk_model *b = NULL;
    struct hk_history *hb = NULL;
    struct stop_at stop = {&run, 0};
    for (int attempt = 0; attempt < 20 && !stop.reached; attempt++) {
        hk_model_free(b);
        hk_history_free(hb);
        b = stripes_model();
        hb = hk_history_new();
        setup_run(&run, b, train, val, hb, w);
        run.epoch_end = hk_checkpoint_write;
        run.epoch_end_user = hk_checkpoint_new(dir, HK_METRIC_LOSS, NULL, &err);
        CHECK(run.epoch_end_user != NULL, "checkpoint: %s", err.msg);
        CHECK(hk_worker_start(w, hk_train_job, &run, &err) == HK_OK, "start: %s", err.msg);
        while (hk_worker_busy(w))
            hk_worker_call(w, stop_inside_epoch, &stop);
        hk_worker_wait(w);
        if (!stop.reached)
            hk_checkpoint_free(run.epoch_end_user);
    }
    CHECK(stop.reached && run.status == HK_ECANCELLED, "stopped (status %d)", (int)run.status);
    CHECK(run.pos.epoch >= 1 && run.pos.batch >= 1 && run.pos.batch <= 5 && run.pos.seen == 8L * run.pos.batch,
          "stopped inside an epoch: after %d epochs and %d batches", run.pos.epoch, run.pos.batch);
    printf("stopped after %d epochs and %d of 6 batches\n", run.pos.epoch, run.pos.batch);
    snprintf(path, sizeof path, "%s/%s", dir, HK_CHECKPOINT_BEST);
    CHECK(access(path, R_OK) == 0, "best.hkm written after epoch 1");
    hk_checkpoint_free(run.epoch_end_user);
    snprintf(path, sizeof path, "%s/%s", dir, HK_CHECKPOINT_LAST);
    struct hk_model_meta info;
    memset(&info, 0, sizeof info);
    CHECK(hk_modelfile_info(path, &info, NULL, &err) == HK_OK && info.training &&
              memcmp(&info.training->pos, &run.pos, sizeof run.pos) == 0,
          "last.hkm holds the stop position: %s", err.msg);
    hk_model_meta_free(&info);

    struct hk_history *hr;
    struct hk_model *r = resume_from(path, train, val, w, 0, &hr);
    size_t n = hk_model_param_count(a);
    if (r) {
        CHECK(same_floats(hk_model_params(a), hk_model_params(r), n), "weights equal bit for bit");
        float *ma, *va, *mr, *vr;
        hk_model_optim_state(a, &ma, &va, NULL);
        hk_model_optim_state(r, &mr, &vr, NULL);
        CHECK(same_floats(ma, mr, n) && same_floats(va, vr, n) && hk_model_optim_step(a) == hk_model_optim_step(r),
              "optimizer moments and step equal (step %llu)", (unsigned long long)hk_model_optim_step(r));
        size_t ea, er, ba, br;
        struct hk_epoch_record *ra = hk_history_epochs(ha, &ea), *rr = hk_history_epochs(hr, &er);
        float *la = hk_history_batches(ha, &ba), *lr = hk_history_batches(hr, &br);
        int same = ea == 4 && er == 4 && ba == br && same_floats(la, lr, ba);
        for (size_t i = 0; same && i < 4; i++)
            for (int k = 0; k < HK_METRIC_SECONDS; k++)
                same &= ra[i].epoch == rr[i].epoch && ra[i].v[k] == rr[i].v[k];
        CHECK(same, "history (losses, accuracies, per-batch losses) equal bit for bit");
        free(ra), free(rr), free(la), free(lr);
    }
    struct hk_history *hs;
    struct hk_model *s = resume_from(path, train, val, w, -1, &hs);
    CHECK(s && !same_floats(hk_model_params(a), hk_model_params(s), n),
          "control: resuming one batch early gives other weights");

    hk_model_free(a), hk_model_free(b), hk_model_free(r), hk_model_free(s);
    hk_history_free(ha), hk_history_free(hb), hk_history_free(hr), hk_history_free(hs);
    hk_worker_free(w);
    hk_dataset_free(train);
    hk_dataset_free(val);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    return check_summary();
}
