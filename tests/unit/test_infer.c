/* test_infer.c: the inference API (infer.h) against values computed here another way: a picture's
 * input is its resized pixels times rescale in CHW order, from a file or from decoded pixels;
 * predicting files equals predicting their inputs one by one on this thread; unreadable files and
 * folders get a reason and leave the other rows right; evaluating a set gives each picture's
 * output, the binary cross-entropy mean of those outputs as its loss and the share with output
 * >= 0.5 on the right side as accuracy; the activations of the last layer are the prediction; the
 * weights are the layer's; a bad layer index is refused; one weight is set and the old value comes
 * back; the class decided from an output at a threshold; evaluating with tta=flip averages each
 * output with its mirror image's. Also while a run trains the same model, predictions come back
 * finite.
 * usage: test_infer STRIPES_TRAIN_FOLDER */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "infer.h"
#include "train.h"

#define SIDE 8

/* An 8x8x3 -> conv2d 2 3x3 relu -> flatten -> dense 1 sigmoid model compiled with sgd. */
static struct hk_model *small_model(void)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, SIDE, SIDE}, 7, &err);
    struct hk_layer_spec conv = {.kind = HK_LAYER_CONV2D, .units = 2, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .act = HK_ACT_RELU};
    struct hk_layer_spec flat = {.kind = HK_LAYER_FLATTEN};
    struct hk_layer_spec dense = {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID};
    struct hk_optim opt = hk_optim_default(HK_OPTIM_SGD);
    if (!m || hk_model_insert(m, 0, &conv, NULL, &err) || hk_model_insert(m, 1, &flat, NULL, &err) ||
        hk_model_insert(m, 2, &dense, NULL, &err) || hk_model_compile(m, &opt, HK_LOSS_BCE, &err)) {
        fprintf(stderr, "cannot build the model: %s\n", err.msg);
        exit(2);
    }
    return m;
}

static void test_load(const struct hk_model *m, const char *path)
{
    struct hk_infer_prep prep = {NULL, 0.5f};
    unsigned char pix[SIDE * SIDE * 3], want_pix[SIDE * SIDE * 3];
    float x[SIDE * SIDE * 3];
    struct hk_error err;
    CHECK(hk_infer_load(m, &prep, path, pix, x, &err) == HK_OK, "load %s: %s", path, err.msg);
    CHECK(hk_image_load_resized(path, NULL, want_pix, (struct hk_size){.h = SIDE, .w = SIDE}, &err) == HK_OK, "%s", err.msg);
    CHECK(!memcmp(pix, want_pix, sizeof pix), "the picture is the resized file");
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < SIDE * SIDE; i++)
            bad += x[c * SIDE * SIDE + i] != 0.5f * (float)want_pix[i * 3 + c];
    CHECK(bad == 0, "the input is pixel * rescale in CHW order (%d values differ)", bad);
    float x2[SIDE * SIDE * 3];
    CHECK(hk_infer_load(m, &prep, path, NULL, x2, &err) == HK_OK && !memcmp(x, x2, sizeof x),
          "without a picture buffer the input is the same");
    CHECK(hk_infer_load(m, &prep, "/nonexistent/picture.png", pix, x, &err) == HK_EIO, "a missing file: %s",
          err.msg);
    /* decoded pixels (as a server receives them) become the same input as the file */
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    float x3[SIDE * SIDE * 3];
    CHECK(hk_image_load(path, NULL, &rgb, &w, &h, &err) == HK_OK, "%s", err.msg);
    CHECK(hk_infer_pixels(hk_model_input(m), &prep, rgb, w, h, pix, x3, &err) == HK_OK && !memcmp(x3, x2, sizeof x3) &&
              !memcmp(pix, want_pix, sizeof pix),
          "hk_infer_pixels of the decoded file gives the file's input");
    CHECK(hk_infer_pixels(hk_model_input(m), &prep, rgb, 0, h, NULL, x3, &err) == HK_EINVAL, "a 0-wide picture is refused");
    free(rgb);
}

/* The decision: a sigmoid's class 1 from its threshold on (0 meaning 0.5), a softmax's argmax,
 * each with the probability of the class decided. */
static void test_decide(void)
{
    const float sig[1] = {0.4f}, soft[3] = {0.2f, 0.5f, 0.3f};
    double prob = -1;
    CHECK(hk_infer_decide(sig, 1, 0, &prob) == 0 && fabs(prob - 0.6) < 1e-6, "0.4 at the default 0.5: class 0, 0.6 (%g)",
          prob);
    CHECK(hk_infer_decide(sig, 1, 0.3f, &prob) == 1 && fabs(prob - 0.4) < 1e-6, "0.4 at 0.3: class 1, 0.4 (%g)", prob);
    CHECK(hk_infer_decide(sig, 1, 0.4f, NULL) == 1, "0.4 at 0.4: class 1 (at least the threshold)");
    CHECK(hk_infer_decide(sig, 1, 0.41f, NULL) == 0, "0.4 at 0.41: class 0");
    CHECK(hk_infer_decide(soft, 3, 0.9f, &prob) == 1 && fabs(prob - 0.5) < 1e-6,
          "a softmax ignores the threshold: class 1, 0.5 (%g)", prob);
}

static void test_predict_files(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds)
{
    struct hk_infer_prep prep = {NULL, 1.0f / 255};
    const char *paths[4] = {ds->paths[0], "/nonexistent/picture.png", ds->root, ds->paths[5]};
    float probs[4] = {-1, -1, -1, -1}, x[SIDE * SIDE * 3], want;
    struct hk_infer_file files[4];
    struct hk_error err;
    CHECK(hk_infer_predict_files(wk, m, &prep, paths, 4, probs, files, &err) == HK_OK, "%s", err.msg);
    CHECK(!files[0].reason[0] && !files[3].reason[0], "readable files have no reason");
    CHECK(files[1].reason[0] != '\0', "a missing file has a reason");
    CHECK(!strcmp(files[2].reason, "a folder that cannot be read"), "a folder: '%s'", files[2].reason);
    for (int i = 0; i < 4; i += 3) {
        CHECK(hk_infer_load(m, &prep, paths[i], NULL, x, &err) == HK_OK, "%s", err.msg);
        CHECK(hk_model_predict(m, x, 1, 1, &want, &err) == HK_OK, "%s", err.msg);
        CHECK(fabsf(probs[i] - want) < 1e-6f, "file %d: %g, alone %g", i, (double)probs[i], (double)want);
    }
    float one;
    CHECK(hk_infer_predict(wk, m, x, 1, &one, &err) == HK_OK && fabsf(one - probs[3]) < 1e-6f,
          "hk_infer_predict of a prepared input agrees");
}

static void test_evaluate(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds)
{
    float *probs = malloc(ds->count * sizeof *probs), x[SIDE * SIDE * 3];
    double loss, accuracy, want_loss = 0;
    struct hk_error err;
    CHECK(hk_infer_evaluate(wk, m, ds, 1.0f / 255, 5, &loss, &accuracy, probs, &err) == HK_OK, "%s", err.msg);
    size_t right = 0, bad = 0;
    for (size_t i = 0; i < ds->count; i++) {
        const unsigned char *pix = hk_dataset_image(ds, i);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < SIDE * SIDE; k++)
                x[c * SIDE * SIDE + k] = (float)pix[k * 3 + c] * (1.0f / 255);
        float want;
        hk_model_predict(m, x, 1, 1, &want, &err);
        bad += fabsf(want - probs[i]) > 1e-5f;
        double p = probs[i];
        want_loss -= ds->labels[i] ? log(p) : log(1 - p);
        right += (p >= 0.5) == (ds->labels[i] == 1);
    }
    want_loss /= (double)ds->count;
    CHECK(bad == 0, "%zu of %zu outputs differ from predicting each picture", bad, ds->count);
    CHECK(fabs(loss - want_loss) < 1e-4, "loss %.6f, from the outputs %.6f", loss, want_loss);
    CHECK(fabs(accuracy - (double)right / (double)ds->count) < 1e-12, "accuracy %.4f", accuracy);
    double loss2;
    CHECK(hk_infer_evaluate(wk, m, ds, 1.0f / 255, 0, &loss2, NULL, NULL, &err) == HK_OK &&
          fabs(loss2 - loss) < 1e-6, "without outputs or accuracy, the same loss");
    free(probs);
}

/* tta=flip: each output is the mean of the picture's and its mirror image's, predicted here one by
 * one; the loss is the mean of the two passes' BCE means. */
static void test_evaluate_flip(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds)
{
    float *probs = malloc(ds->count * sizeof *probs), *plain = malloc(ds->count * sizeof *plain);
    float x[SIDE * SIDE * 3], xm[SIDE * SIDE * 3];
    double loss, plain_loss, want_loss = 0;
    struct hk_error err;
    CHECK(hk_infer_evaluate_flip(wk, m, ds, 1.0f / 255, 4, &loss, probs, &err) == HK_OK, "%s", err.msg);
    CHECK(hk_infer_evaluate(wk, m, ds, 1.0f / 255, 4, &plain_loss, NULL, plain, &err) == HK_OK, "%s", err.msg);
    size_t bad = 0, moved = 0;
    for (size_t i = 0; i < ds->count; i++) {
        const unsigned char *pix = hk_dataset_image(ds, i);
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < SIDE; r++)
                for (int col = 0; col < SIDE; col++) {
                    float v = (float)pix[(r * SIDE + col) * 3 + c] * (1.0f / 255);
                    x[(c * SIDE + r) * SIDE + col] = v;
                    xm[(c * SIDE + r) * SIDE + SIDE - 1 - col] = v;
                }
        float a, b;
        hk_model_predict(m, x, 1, 1, &a, &err);
        hk_model_predict(m, xm, 1, 1, &b, &err);
        bad += fabsf((a + b) / 2 - probs[i]) > 1e-5f;
        moved += fabsf(probs[i] - plain[i]) > 1e-6f;
        want_loss -= ds->labels[i] ? (log(a) + log(b)) / 2 : (log(1 - a) + log(1 - b)) / 2;
    }
    want_loss /= (double)ds->count;
    CHECK(bad == 0, "%zu of %zu flip-averaged outputs differ from predicting the picture and its mirror", bad,
          ds->count);
    CHECK(moved > 0, "the mirror image changes some output (else the test proves nothing)");
    CHECK(fabs(loss - want_loss) < 1e-4, "tta loss %.6f, from the two outputs %.6f", loss, want_loss);
    free(probs);
    free(plain);
}

static void test_layers(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds)
{
    struct hk_infer_prep prep = {NULL, 1.0f / 255};
    float x[SIDE * SIDE * 3], act[2 * 6 * 6], p;
    struct hk_error err;
    hk_infer_load(m, &prep, ds->paths[3], NULL, x, &err);
    hk_model_predict(m, x, 1, 1, &p, &err);
    CHECK(hk_infer_activation(wk, m, x, 2, act, &err) == HK_OK && act[0] == p, "the last layer's activation is "
          "the prediction");
    CHECK(hk_infer_activation(wk, m, x, 0, act, &err) == HK_OK, "%s", err.msg);
    int negative = 0;
    for (int i = 0; i < 2 * 6 * 6; i++)
        negative += act[i] < 0;
    CHECK(negative == 0, "relu maps are never negative");
    float kernel[2 * 3 * 3 * 3];
    const struct hk_layer *l = hk_model_layer(m, 0);
    CHECK(l->wcount == 54 && hk_infer_weights(wk, m, 0, kernel, &err) == HK_OK &&
          !memcmp(kernel, l->w, sizeof kernel), "the weights are the layer's");
    CHECK(hk_infer_weights(wk, m, 3, kernel, &err) == HK_EINVAL, "layer 3 of 3 is refused");
    float before = 0, was = l->w[3], bias_was = l->b[1];
    CHECK(hk_infer_set_weight(wk, m, 0, 0, 3, 2.5f, &before, &err) == HK_OK && before == was && l->w[3] == 2.5f,
          "set kernel[3]: %s", err.msg);
    CHECK(hk_infer_set_weight(wk, m, 0, 1, 1, -1.0f, &before, &err) == HK_OK && before == bias_was &&
              l->b[1] == -1.0f,
          "set bias[1]");
    CHECK(hk_infer_set_weight(wk, m, 0, 0, 54, 1, NULL, &err) == HK_EINVAL, "kernel[54] of 54 is refused");
    CHECK(hk_infer_set_weight(wk, m, 1, 1, 0, 1, NULL, &err) == HK_EINVAL, "flatten has no bias: %s", err.msg);
    hk_infer_set_weight(wk, m, 0, 0, 3, was, NULL, &err);
    hk_infer_set_weight(wk, m, 0, 1, 1, bias_was, NULL, &err);
    CHECK(hk_infer_activation(wk, m, x, -1, act, &err) == HK_EINVAL, "layer -1 is refused");
}

/* Predictions queued while a run trains the same model come back (between two batches). */
static void test_while_training(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds)
{
    struct hk_history *h = hk_history_new();
    struct hk_train_run *run = calloc(1, sizeof *run);
    struct hk_error err;
    run->model = m;
    run->train = ds;
    run->config = (struct hk_train_config){.epochs = 50, .batch = 2, .seed = 1, .rescale = 1.0f / 255.0f,
                                           .augment = hk_augment_default(), .until = HK_METRIC_COUNT};
    for (int k = 0; k < HK_TRAIN_MAX_CLASSES; k++)
        run->config.class_weight[k] = 1.0f;
    run->history = h;
    run->worker = wk;
    CHECK(hk_worker_start(wk, hk_train_job, run, &err) == HK_OK, "%s", err.msg);
    struct hk_infer_prep prep = {NULL, 1.0f / 255};
    float x[SIDE * SIDE * 3], p = NAN;
    hk_infer_load(m, &prep, ds->paths[1], NULL, x, &err);
    int ok = 1;
    for (int i = 0; i < 5; i++)
        ok &= hk_infer_predict(wk, m, x, 1, &p, &err) == HK_OK && isfinite(p);
    CHECK(ok, "predictions during a run are finite");
    atomic_store(&run->stop, 1);
    hk_worker_wait(wk);
    free(run);
    hk_history_free(h);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_infer STRIPES_TRAIN_FOLDER\n");
        return 2;
    }
    struct hk_error err;
    struct hk_dataset *ds;
    if (hk_dataset_load(argv[1], (struct hk_size){.h = SIDE, .w = SIDE}, NULL, 1, &ds, &err) != HK_OK || ds->count < 6) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return 2;
    }
    struct hk_worker *wk = hk_worker_new(&err);
    struct hk_model *m = small_model();
    test_decide();
    test_load(m, ds->paths[2]);
    test_predict_files(wk, m, ds);
    test_evaluate(wk, m, ds);
    test_evaluate_flip(wk, m, ds);
    test_layers(wk, m, ds);
    test_while_training(wk, m, ds);
    hk_model_free(m);
    hk_worker_free(wk);
    hk_dataset_free(ds);
    return check_summary();
}
