/* test_modelfile_train.c: the training-state sections of .hkm model files: a run's state saved
 * and loaded bit for bit (options, position, history, batch losses, optimizer step), the weights
 * hash ignoring it, and training-state header lines that lie refused with a located message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "modelfile_files.h"
#include "sha256.h"

/* ---- the full training state ------------------------------------------------------------- */

/* A training state as a run would leave it: odd values, a missing value (NaN), a mid-epoch position. */
static struct hk_train_state *sample_state(void)
{
    struct hk_train_state *s = calloc(1, sizeof *s);
    s->config.epochs = 7, s->config.batch = 5, s->config.seed = 18446744073709551557ull;
    s->config.rescale = 1.0f / 255;
    s->config.augment = hk_augment_default();
    s->config.augment.rotation_range = 30, s->config.augment.width_shift = 0.1f;
    s->config.augment.zoom_lo = 0.8f, s->config.augment.zoom_hi = 1.2f, s->config.augment.horizontal_flip = 1;
    s->config.augment.fill = HK_FILL_REFLECT;
    s->config.until = HK_METRIC_VAL_ACCURACY, s->config.until_cmp = HK_CMP_GT, s->config.until_value = 0.975;
    s->config.class_weight[0] = 0.75f, s->config.class_weight[1] = 1.5f;
    s->class_count = 2;
    s->pos = (struct hk_train_position){3, 2, 1, 1.0 / 3.0, 7, 10};
    s->monitor = HK_METRIC_VAL_LOSS, s->has_best = 1, s->best = 0.1234567890123456789;
    s->images = 23;
    snprintf(s->data_sha256, sizeof s->data_sha256, "%s",
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    s->nepochs = 4;
    s->epochs = calloc(4, sizeof *s->epochs);
    for (int i = 0; i < 4; i++) {
        s->epochs[i].epoch = i + 1;
        for (int k = 0; k < HK_METRIC_COUNT; k++)
            s->epochs[i].v[k] = 1.0 / (3.0 + i + k);
    }
    s->epochs[0].v[HK_METRIC_VAL_LOSS] = NAN;
    s->nbatches = 19;
    s->batch_losses = malloc(19 * sizeof *s->batch_losses);
    for (int i = 0; i < 19; i++)
        s->batch_losses[i] = 1.0f / (float)(i + 7);
    return s;
}

static void test_training_state(void)
{
    struct hk_error err;
    struct hk_model *m = small_model(3), *back = NULL;
    struct hk_model_meta meta, got;
    hk_model_meta_init(&meta);
    memset(&got, 0, sizeof got);
    const char *names[] = {"husky", "not_husky"};
    hk_model_meta_set_classes(&meta, names, 2, &err);
    meta.training = sample_state();
    unsigned both = HK_MODELFILE_STATE_OPTIMIZER | HK_MODELFILE_STATE_TRAINING;
    CHECK(hk_modelfile_save(in_dir("state.hkm"), m, &meta, HK_MODELFILE_STATE_TRAINING, &err) == HK_EINVAL,
          "training state without optimizer state is refused");
    CHECK(hk_modelfile_save(in_dir("state.hkm"), m, &meta, both, &err) == HK_OK, "save with training state: %s",
          err.msg);
    CHECK(hk_modelfile_load(in_dir("state.hkm"), NULL, &back, &got, &err) == HK_OK, "load: %s", err.msg);
    const struct hk_train_state *a = meta.training, *b = got.training;
    CHECK(b != NULL && got.state == both, "state sections %u", got.state);
    if (b) {
        CHECK(memcmp(&a->config.augment, &b->config.augment, sizeof a->config.augment) == 0, "augmentation");
        char *text = NULL;
        struct hk_model_meta info;
        memset(&info, 0, sizeof info);
        CHECK(hk_modelfile_info(in_dir("state.hkm"), &info, &text, &err) == HK_OK && text &&
                  strstr(text, " flip=horizontal ") != NULL,
              "the file writes flip with the shell's word");
        free(text);
        hk_model_meta_free(&info);
        CHECK(a->config.epochs == b->config.epochs && a->config.batch == b->config.batch &&
                  a->config.seed == b->config.seed && a->config.rescale == b->config.rescale,
              "epochs, batch, seed %llu, rescale", (unsigned long long)b->config.seed);
        CHECK(b->config.until == HK_METRIC_VAL_ACCURACY && b->config.until_cmp == HK_CMP_GT &&
                  b->config.until_value == 0.975,
              "until");
        CHECK(b->config.class_weight[0] == 0.75f && b->config.class_weight[1] == 1.5f &&
                  b->config.class_weight[2] == 1.0f,
              "class weights");
        CHECK(memcmp(&a->pos, &b->pos, sizeof a->pos) == 0, "position bit for bit (loss_sum %.17g)", b->pos.loss_sum);
        CHECK(b->monitor == HK_METRIC_VAL_LOSS && b->has_best && b->best == a->best, "checkpoint best");
        CHECK(b->images == 23 && b->class_count == 2 && strcmp(a->data_sha256, b->data_sha256) == 0, "data");
        int same = b->nepochs == 4;
        for (size_t i = 0; same && i < 4; i++)
            for (int k = 0; k < HK_METRIC_COUNT; k++)
                same &= b->epochs[i].epoch == (int)i + 1 &&
                        (isnan(a->epochs[i].v[k]) ? isnan(b->epochs[i].v[k]) : a->epochs[i].v[k] == b->epochs[i].v[k]);
        CHECK(same, "history epochs bit for bit, NaN kept");
        CHECK(b->nbatches == 19 && b->batch_losses &&
                  memcmp(a->batch_losses, b->batch_losses, 19 * sizeof *b->batch_losses) == 0,
              "batch losses bit for bit");
    }
    CHECK(back && hk_model_optim_step(back) == 3, "optimizer step");
    hk_model_meta_free(&got);
    hk_model_free(back);
    back = NULL;

    /* info reads the state without the weights or the batch losses */
    CHECK(hk_modelfile_info(in_dir("state.hkm"), &got, NULL, &err) == HK_OK && got.training &&
              got.training->nbatches == 19 && !got.training->batch_losses && got.training->pos.batch == 2,
          "info: %s", err.msg);
    hk_model_meta_free(&got);

    /* check: the weights hash ignores everything but the weights */
    struct hk_modelfile_report r1, r2;
    CHECK(hk_modelfile_save(in_dir("plain.hkm"), m, &meta, 0, &err) == HK_OK, "save plain");
    CHECK(hk_modelfile_check(in_dir("state.hkm"), &r1, &err) == HK_OK &&
              hk_modelfile_check(in_dir("plain.hkm"), &r2, &err) == HK_OK,
          "check: %s", err.msg);
    CHECK(strcmp(r1.weights_sha256, r2.weights_sha256) == 0 && strcmp(r1.file_sha256, r2.file_sha256) != 0 &&
              r1.state == both && r2.state == 0 && r1.param_count == hk_model_param_count(m),
          "weights hash equal across sections, file hash not");
    /* the weights hash is SHA-256 of the weights' little-endian bytes, in table order */
    size_t n = hk_model_param_count(m);
    unsigned char *le = malloc(4 * n), digest[32];
    char hex[65];
    size_t at = 0;
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        for (int part = 0; part < 2; part++) {
            const float *x = part ? l->b : l->w;
            size_t count = part ? l->bcount : l->wcount;
            for (size_t k = 0; k < count; k++, at += 4) {
                uint32_t u;
                memcpy(&u, &x[k], 4);
                for (int j = 0; j < 4; j++)
                    le[at + (size_t)j] = (unsigned char)(u >> (8 * j));
            }
        }
    }
    hk_sha256(le, at, digest);
    hk_sha256_hex(digest, hex);
    CHECK(at == 4 * n && strcmp(hex, r1.weights_sha256) == 0, "weights hash %s vs %s", hex, r1.weights_sha256);
    free(le);
    /* a lie the checker must catch like the loader does */
    unsigned char *file;
    size_t size;
    file = read_file(in_dir("state.hkm"), &size);
    file[size - 40] ^= 1;
    write_file(in_dir("flip.hkm"), file, size);
    CHECK(hk_modelfile_check(in_dir("flip.hkm"), &r1, &err) == HK_EFORMAT && strstr(err.msg, "SHA-256 mismatch"),
          "check refuses a flipped bit: %s", err.msg);
    free(file);

    meta.training->nbatches = (size_t)1 << 27;
    CHECK(hk_modelfile_save(in_dir("state.hkm"), m, &meta, both, &err) == HK_EINVAL, "too many batches refused");
    hk_model_meta_free(&meta);
    hk_model_free(m);
}

/* Training-state lines that lie. */
static void test_training_lies(void)
{
    const char *model = "husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3\nflatten\ndense 1 "
                        "activation=sigmoid\ncompile\noptimizer_step 6\n";
    const char *run = "train_run epochs=4 batch=8 seed=42 rescale=1 images=16 classes=2 data_sha256=none "
                      "until=none until_op=ge until_value=0 class_weight=1,1\n";
    const char *aug = "train_augment rotation=0 width_shift=0 height_shift=0 shear=0 zoom=1,1 flip=0,0 "
                      "brightness=0,0 fill=nearest cval=0\n";
    const char *pos = "train_position epoch=2 batch=0 first_epoch=0 loss_sum=0 correct=0 seen=0 batch_losses=4\n";
    const char *hist = "train_history 1 0.7 0.5 nan nan 1 16\ntrain_history 2 0.6 0.6 nan nan 1 16\n";
    /* 29 parameters: 116 bytes of weights, the same of each moment, 4 batch losses */
    struct entry ok[7] = {{"conv2d/kernel", 4, {2, 1, 3, 3}, 0, 72},
                          {"conv2d/bias", 1, {2}, 72, 8},
                          {"dense/kernel", 2, {8, 1}, 80, 32},
                          {"dense/bias", 1, {1}, 112, 4},
                          {"optimizer/m", 1, {29}, 116, 116},
                          {"optimizer/v", 1, {29}, 232, 116},
                          {"history/batch_loss", 1, {4}, 348, 16}};
    char h[4096];
#define HEADER(r, a, p, hi) (snprintf(h, sizeof h, "%s%s%s%s%s", model, r, a, p, hi), h)
    EXPECT(HEADER(run, aug, pos, hist), ok, 7, 364, HK_OK, "");
    EXPECT(HEADER(run, aug, pos, hist), ok, 6, 348, HK_EFORMAT, "missing 'history/batch_loss'");
    EXPECT(HEADER(run, aug, "train_position epoch=2 batch=0 first_epoch=0 loss_sum=0 correct=0 seen=0 "
                            "batch_losses=67108864\n", hist),
           ok, 7, 364, HK_EFORMAT, "'history/batch_loss' has shape (4), but the header's model needs (67108864)");
    EXPECT(HEADER(run, aug, "train_position epoch=2 batch=0 first_epoch=0 loss_sum=0 correct=0 seen=0 "
                            "batch_losses=67108865\n", hist),
           ok, 7, 364, HK_EFORMAT, "must be whole numbers in range");
    EXPECT(HEADER(run, aug, "train_position epoch=5 batch=0 first_epoch=0 loss_sum=0 correct=0 seen=0 "
                            "batch_losses=4\n", hist),
           ok, 7, 364, HK_EFORMAT, "is not inside a run of 4 epochs of 2 batches");
    EXPECT(HEADER(run, aug, "train_position epoch=1 batch=3 first_epoch=0 loss_sum=0 correct=0 seen=8 "
                            "batch_losses=4\n", hist),
           ok, 7, 364, HK_EFORMAT, "is not inside a run");
    EXPECT(HEADER(run, aug, "train_position epoch=1 batch=1 first_epoch=0 loss_sum=0 correct=9 seen=8 "
                            "batch_losses=4\n", hist),
           ok, 7, 364, HK_EFORMAT, "is not inside a run");
    EXPECT(HEADER(run, aug, pos, "train_history 1 0.7 0.5 nan nan 1 16\n"), ok, 7, 364, HK_EFORMAT,
           "the history has 1 epochs, but the position says 0 before the run and 2 in it");
    EXPECT(HEADER(run, aug, pos, "train_history 1 0.7 0.5 nan nan 1 16\ntrain_history 3 0.6 0.6 nan nan 1 16\n"),
           ok, 7, 364, HK_EFORMAT, "train_history: expected epoch 2, found '3'");
    EXPECT(HEADER(run, aug, pos, "train_history 1 0.7 0.5 nan nan 1\n"), ok, 7, 364, HK_EFORMAT,
           "expected the epoch and 6 values");
    EXPECT(HEADER(run, "", pos, hist), ok, 7, 364, HK_EFORMAT, "training state but no train_augment line");
    EXPECT(HEADER(run, aug, aug, hist), ok, 7, 364, HK_EFORMAT, "a second train_augment");
    EXPECT(HEADER("train_run epochs=4 batch=8 seed=42 rescale=1 images=16 classes=2 data_sha256=none until=none "
                  "until_op=ge until_value=0 class_weight=1\n", aug, pos, hist),
           ok, 7, 364, HK_EFORMAT, "class_weight must be one number >= 0 per class");
    EXPECT(HEADER("train_run epochs=4 batch=8 seed=42 rescale=1 images=16 classes=2 data_sha256=none until=none "
                  "until_op=ge until_value=0 class_weight=1,1,1\n", aug, pos, hist),
           ok, 7, 364, HK_EFORMAT, "more weights than classes");
    EXPECT(HEADER("train_run epochs=4 batch=8 seed=42 rescale=1 images=0 classes=2 data_sha256=none until=none "
                  "until_op=ge until_value=0 class_weight=1,1\n", aug, pos, hist),
           ok, 7, 364, HK_EFORMAT, "images must be");
    EXPECT(HEADER("train_run epochs=4 batch=8 seed=42 rescale=1 images=16 classes=2 data_sha256=none until=seconds "
                  "until_op=ge until_value=0 class_weight=1,1\n", aug, pos, hist),
           ok, 7, 364, HK_EFORMAT, "until must be");
    EXPECT(HEADER("train_run epochs=4 batch=8 seed=42 rescale=1 images=16 classes=2 data_sha256=none until=none "
                  "until_op=ge until_value=0 class_weight=1,1 exec=rm\n", aug, pos, hist),
           ok, 7, 364, HK_EFORMAT, "train_run: unexpected 'exec=rm'");
    EXPECT(HEADER(run, "train_augment rotation=0 width_shift=0 height_shift=0 shear=0 zoom=1,1 flip=2,0 "
                       "brightness=0,0 fill=nearest cval=0\n", pos, hist),
           ok, 7, 364, HK_EFORMAT, "flip must be none, horizontal, vertical or both");
    EXPECT(HEADER(run, "train_augment rotation=0 width_shift=0 height_shift=0 shear=0 zoom=1,1 flip=sideways "
                       "brightness=0,0 fill=nearest cval=0\n", pos, hist),
           ok, 7, 364, HK_EFORMAT, "flip must be none, horizontal, vertical or both");
    EXPECT(HEADER(run, "train_augment rotation=0 width_shift=0 height_shift=0 shear=0 zoom=1,1 flip=both "
                       "brightness=0,0 fill=nearest cval=0\n", pos, hist),
           ok, 7, 364, HK_OK, "");
    EXPECT(HEADER(run, "train_augment rotation=0 width_shift=0 height_shift=0 shear=0 zoom=1.5,1 flip=0,0 "
                       "brightness=0,0 fill=nearest cval=0\n", pos, hist),
           ok, 7, 364, HK_EFORMAT, "train_augment: ");
    EXPECT(HEADER(run, aug, pos, "train_checkpoint monitor=seconds best=none\n"), ok, 7, 364, HK_EFORMAT,
           "monitor must be");
    EXPECT(HEADER(run, aug, pos, "train_rogue x=1\n"), ok, 7, 364, HK_EFORMAT, "unknown training-state line");
    char nostep[1024];
    snprintf(nostep, sizeof nostep, "husky 0.1.0\nmodel new input=4x4x1 seed=3\nconv2d 2 3x3\nflatten\ndense 1 "
                                    "activation=sigmoid\ncompile\n%s%s%s%s", run, aug, pos, hist);
    EXPECT(nostep, ok, 4, 116, HK_EFORMAT, "training state but no optimizer_step line");
#undef HEADER
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/hk_modelfile_train_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_training_state();
    test_training_lies();
    remove_dir();
    return check_summary();
}
