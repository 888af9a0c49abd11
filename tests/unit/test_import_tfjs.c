/* test_import_tfjs.c: the pretrained MobileNetV2 that husky imported from TensorFlow.js
 * (data/pretrained/mobilenet_v2_nsfwjs.hkm) computes what TensorFlow.js computes: its 5-way
 * softmax and the block_1_expand_relu activation (per-channel means and single values) on four
 * pictures (tests/fixtures/tfjs/: 128x128 copies of husky-v1 pictures) agree with
 * tests/fixtures/tfjs_mobilenet_v2.txt to 1e-4; a save and load round trip keeps the outputs bit
 * for bit, and so does the network cut after block_1_expand_relu (model cut).
 * Usage: test_import_tfjs SOURCE_ROOT
 *        test_import_tfjs SOURCE_ROOT --dump DIR   write the input tensors husky computes from the
 *        pictures (DIR/list.txt, DIR/I.f32: float32 C x H x W) for tests/fixtures/make_tfjs_reference.js */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "image.h"
#include "modelfile.h"

#define SIDE 224
#define NIMAGES 4
#define TOL 1e-4
#define MODEL "data/pretrained/mobilenet_v2_nsfwjs.hkm"
#define FIXTURE "tests/fixtures/tfjs_mobilenet_v2.txt"
#define PROBE "block_1_expand_relu"

static const char *const images[NIMAGES] = {
    "tests/fixtures/tfjs/52c46188291f7439.jpg",
    "tests/fixtures/tfjs/8fdb872c66e0c15f.jpg",
    "tests/fixtures/tfjs/18ae4b473a9383af.jpg",
    "tests/fixtures/tfjs/1fe1c997d0536514.jpg",
};

/* The network's input for picture path: decoded, resized to 224x224, times 1/255, C x H x W. */
static int picture(const char *path, float *x)
{
    unsigned char pix[SIDE * SIDE * 3];
    struct hk_image_limits lim = hk_image_limits_default();
    struct hk_error err;
    if (hk_image_load_resized(path, &lim, pix, (struct hk_size){.h = SIDE, .w = SIDE}, &err) != HK_OK) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        return 0;
    }
    hk_batch_from_pixels(x, pix, SIDE, SIDE, 1.0f / 255.0f);
    return 1;
}

static int dump(const char *dir)
{
    static float x[3 * SIDE * SIDE];
    char path[4096];
    snprintf(path, sizeof path, "%s/list.txt", dir);
    FILE *list = fopen(path, "w");
    if (!list) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < NIMAGES; i++) {
        if (!picture(images[i], x))
            return 1;
        snprintf(path, sizeof path, "%s/%d.f32", dir, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(x, sizeof x, 1, f) != 1 || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        fprintf(list, "%s\n", images[i]);
    }
    return fclose(list) != 0;
}

static double worst_softmax, worst_mean, worst_value; /* largest |husky - TF.js| seen */

/* |a - b| within TOL, relative to |b| above 1. */
static int close_to(double a, double b)
{
    return fabs(a - b) <= TOL * (fabs(b) > 1 ? fabs(b) : 1);
}

/* Compare one fixture line (after its first word) with husky's forward pass of one picture. */
static void compare(struct hk_model *m, const float *out, const char *image, const char *kind, char *rest)
{
    const struct hk_layer *probe = hk_model_layer(m, hk_model_find(m, PROBE));
    size_t plane = (size_t)probe->out.h * probe->out.w;
    char *tok = strtok(rest, " \n");
    if (!strcmp(kind, "softmax")) {
        int k = 0, bad = 0;
        for (; tok && k < 8; tok = strtok(NULL, " \n"), k++) {
            bad += !close_to(out[k], strtod(tok, NULL));
            worst_softmax = fmax(worst_softmax, fabs(out[k] - strtod(tok, NULL)));
        }
        CHECK(k == hk_model_output(m).c && !bad, "%s: softmax within %g of TF.js (%d of %d differ)", image, TOL, bad,
              k);
        return;
    }
    if (strcmp(tok ? tok : "", PROBE) != 0) {
        CHECK(0, "fixture line '%s %s' names another layer", kind, tok ? tok : "");
        return;
    }
    int bad = 0, k = 0;
    double worst = 0;
    if (!strcmp(kind, "mean")) {
        for (tok = strtok(NULL, " \n"); tok && k < probe->out.c; tok = strtok(NULL, " \n"), k++) {
            double s = 0, ref = strtod(tok, NULL);
            for (size_t p = 0; p < plane; p++)
                s += probe->y[(size_t)k * plane + p];
            bad += !close_to(s / (double)plane, ref);
            worst = fmax(worst, fabs(s / (double)plane - ref));
        }
        worst_mean = fmax(worst_mean, worst);
        CHECK(k == probe->out.c && !bad, "%s: %d channel means of %s within %g (worst %.2g)", image, k, PROBE, TOL,
              worst);
        return;
    }
    for (tok = strtok(NULL, " \n"); tok; tok = strtok(NULL, " \n"), k++) {
        int c = atoi(tok), y = atoi(strtok(NULL, " \n")), x = atoi(strtok(NULL, " \n"));
        double ref = strtod(strtok(NULL, " \n"), NULL), v = probe->y[(size_t)c * plane + (size_t)y * probe->out.w + x];
        bad += !close_to(v, ref);
        worst = fmax(worst, fabs(v - ref));
    }
    worst_value = fmax(worst_value, worst);
    CHECK(k > 0 && !bad, "%s: %d values of %s within %g (worst %.2g)", image, k, PROBE, TOL, worst);
}

/* Forward every fixture picture through m and compare. */
static void agree(struct hk_model *m, FILE *fixture, float *outputs)
{
    static float x[3 * SIDE * SIDE];
    char line[65536], image[256] = "";
    int n = 0;
    const float *out = NULL;
    struct hk_error err;
    while (fgets(line, sizeof line, fixture)) {
        char kind[16];
        int used = 0;
        if (line[0] == '#' || sscanf(line, "%15s %n", kind, &used) != 1)
            continue;
        if (!strcmp(kind, "image")) {
            sscanf(line + used, "%255s", image);
            out = NULL;
            if (!picture(image, x) || hk_model_forward(m, x, 1, 0, 0, &out, &err) != HK_OK) {
                CHECK(0, "%s: forward pass", image);
                continue;
            }
            memcpy(outputs + (size_t)n++ * 5, out, 5 * sizeof *out);
        } else if (out) {
            compare(m, out, image, kind, line + used);
        }
    }
    CHECK(n == NIMAGES, "%d pictures compared", n);
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: test_import_tfjs SOURCE_ROOT [--dump DIR]\n");
        return 2;
    }
    if (argc == 4 && !strcmp(argv[2], "--dump"))
        return dump(argv[3]);
    struct hk_model *m = NULL, *back = NULL;
    struct hk_error err;
    FILE *fixture = fopen(FIXTURE, "r");
    CHECK(fixture != NULL, "open %s", FIXTURE);
    CHECK(hk_modelfile_load(MODEL, NULL, &m, NULL, &err) == HK_OK, "load %s: %s", MODEL, m ? "" : err.msg);
    if (!m || !fixture)
        return check_summary();
    CHECK(hk_model_find(m, PROBE) >= 0 && hk_model_output(m).c == 5, "the model has %s and 5 outputs", PROBE);
    float first[NIMAGES * 5], second[NIMAGES * 5];
    agree(m, fixture, first);

    char path[64];
    snprintf(path, sizeof path, "/tmp/test_import_tfjs.%d.hkm", (int)getpid());
    CHECK(hk_modelfile_save(path, m, NULL, 0, &err) == HK_OK, "save to %s", path);
    CHECK(hk_modelfile_load(path, NULL, &back, NULL, &err) == HK_OK, "load it back: %s", back ? "" : err.msg);
    unlink(path);
    if (back) {
        rewind(fixture);
        agree(back, fixture, second);
        CHECK(memcmp(first, second, sizeof first) == 0, "outputs after a save/load round trip are bit for bit equal");
    }
    /* model cut (on the loaded copy): the layers up to the probe compute the same bits */
    if (back) {
        const float *out;
        static float x[3 * SIDE * SIDE];
        int probe = hk_model_find(m, PROBE);
        CHECK(hk_model_cut(back, probe, NULL, &err) == HK_OK && hk_model_count(back) == probe + 1, "cut after %s",
              PROBE);
        if (picture(images[NIMAGES - 1], x) && hk_model_forward(back, x, 1, 0, 0, &out, &err) == HK_OK &&
            hk_model_forward(m, x, 1, 0, 0, &out, &err) == HK_OK) {
            const struct hk_layer *a = hk_model_layer(m, probe), *b = hk_model_layer(back, probe);
            CHECK(memcmp(a->y, b->y, hk_shape_size(a->out) * sizeof *a->y) == 0,
                  "the cut network's %s is bit for bit the whole network's", PROBE);
        }
    }

    printf("largest |husky - TF.js|: softmax %.2g, %s channel means %.2g, single values %.2g\n", worst_softmax,
           PROBE, worst_mean, worst_value);
    fclose(fixture);
    hk_model_free(m);
    hk_model_free(back);
    return check_summary();
}
