/* test_attack.c: the attack lab's engine: FGSM and PGD stay inside the eps box and the pixel
 * range (also for another rescale), move the score the way they claim, and are reproducible from
 * the seed; 8-bit rounding keeps the budget; the pixel attack keeps its query budget and is
 * reproducible; triggers are stamped where asked and refused when too big; spectral signatures and activation
 * clustering single out shifted rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack.h"
#include "audit.h"
#include "check.h"
#include "poison.h"
#include "rng.h"

#define N 6

static struct hk_model *small_model(int linear)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 8, 8}, 3, &err);
    struct hk_layer_spec conv = {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                                 .act = HK_ACT_RELU};
    struct hk_layer_spec pool = {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2};
    struct hk_layer_spec flat = {.kind = HK_LAYER_FLATTEN};
    struct hk_layer_spec head = {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID};
    int at = 0;
    if (!linear) {
        hk_model_insert(m, at++, &conv, NULL, &err);
        hk_model_insert(m, at++, &pool, NULL, &err);
    }
    hk_model_insert(m, at++, &flat, NULL, &err);
    hk_model_insert(m, at++, &head, NULL, &err);
    struct hk_optim o = hk_optim_default(HK_OPTIM_SGD);
    hk_model_compile(m, &o, HK_LOSS_BCE, &err);
    return m;
}

static void fill(float *x, size_t n, float hi, uint64_t seed)
{
    struct hk_rng rng;
    hk_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) /* include values at the range's ends */
        x[i] = i % 17 == 0 ? 0 : i % 19 == 0 ? hi : hk_rng_uniform(&rng, 0, hi);
}

/* Every value within eps of x and inside [0, hi]; returns the largest change. */
static double check_box(const char *what, const float *x, const float *adv, size_t n, double eps, float hi)
{
    double most = 0;
    int inside = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)adv[i] - x[i]);
        most = d > most ? d : most;
        inside &= d <= eps + 4e-7 * hi && adv[i] >= 0 && adv[i] <= hi; /* a few float steps at hi */
    }
    CHECK(inside, "%s: inside the eps box and the pixel range (largest change %g, eps %g)", what, most, eps);
    return most;
}

static void grad_attacks(float rescale)
{
    struct hk_model *m = small_model(0);
    size_t in = hk_shape_size(hk_model_input(m)), total = N * in;
    float hi = 255 * rescale;
    float *x = malloc(total * sizeof *x), *a1 = malloc(total * sizeof *a1), *a2 = malloc(total * sizeof *a2);
    float p0[N], p1[N];
    int labels[N];
    struct hk_error err;
    fill(x, total, hi, 9);
    hk_model_predict(m, x, N, N, p0, &err);
    for (int i = 0; i < N; i++)
        labels[i] = p0[i] >= 0.5f;
    char what[96];

    struct hk_attack_grad a = {.method = HK_ATTACK_FGSM, .eps = 8.0 / 255, .target = -1, .seed = 1};
    CHECK(hk_attack_grad_here(m, &a, rescale, x, labels, N, 0, a1, p1, &err) == HK_OK, "fgsm runs");
    snprintf(what, sizeof what, "fgsm eps 8/255, rescale %g", (double)rescale);
    double most = check_box(what, x, a1, total, a.eps * hi, hi);
    /* (with inputs up to 255 this untrained model saturates its sigmoid: no gradient to follow) */
    if (rescale < 1)
        CHECK(fabs(most - a.eps * hi) < 1e-4 * hi, "%s: pixels move by the whole eps (%g)", what, most);
    int away = 1;
    for (int i = 0; i < N; i++)
        away &= hk_attack_prob(p1 + i, 1, labels[i]) <= hk_attack_prob(p0 + i, 1, labels[i]) + 1e-6;
    CHECK(away, "%s: the predicted class loses probability", what);

    a = (struct hk_attack_grad){.method = HK_ATTACK_PGD, .eps = 4.0 / 255, .step = 1.0 / 255, .steps = 5,
                                .restarts = 2, .target = 1, .seed = 77};
    CHECK(hk_attack_grad_here(m, &a, rescale, x, NULL, N, 0, a1, p1, &err) == HK_OK, "pgd runs");
    snprintf(what, sizeof what, "pgd eps 4/255 restarts 2, rescale %g", (double)rescale);
    check_box(what, x, a1, total, a.eps * hi, hi);
    int towards = 1;
    for (int i = 0; i < N; i++)
        towards &= p1[i] >= p0[i] - 1e-6;
    CHECK(towards, "%s: targeted PGD raises P(target)", what);
    hk_attack_grad_here(m, &a, rescale, x, NULL, N, 0, a2, NULL, &err);
    CHECK(memcmp(a1, a2, total * sizeof *a1) == 0, "%s: the same seed gives the same pictures", what);
    /* a chunk gives what the whole set gives: pictures 3.. attacked alone, told where they are */
    hk_attack_grad_here(m, &a, rescale, x + 3 * in, NULL, N - 3, 3, a2, NULL, &err);
    CHECK(memcmp(a1 + 3 * in, a2, (N - 3) * in * sizeof *a1) == 0, "%s: chunks draw what the whole set draws", what);
    a.seed = 78;
    hk_attack_grad_here(m, &a, rescale, x, NULL, N, 0, a2, NULL, &err);
    CHECK(memcmp(a1, a2, total * sizeof *a1) != 0, "%s: another seed gives other random starts", what);

    a.eps = 1.5;
    CHECK(hk_attack_grad_here(m, &a, rescale, x, NULL, N, 0, a1, NULL, &err) == HK_EINVAL &&
          strstr(err.msg, "eps must be from 0 to 1"), "eps above 1 is refused: %s", err.msg);
    a.eps = 0.1;
    a.target = 2;
    CHECK(hk_attack_grad_here(m, &a, rescale, x, NULL, N, 0, a1, NULL, &err) == HK_EINVAL, "a missing class is refused");
    free(x);
    free(a1);
    free(a2);
    hk_model_free(m);
}

/* FGSM on a linear model is exact: targeted at class 1 it raises P(1) for every picture. */
static void linear_fgsm(void)
{
    struct hk_model *m = small_model(1);
    size_t total = N * hk_shape_size(hk_model_input(m));
    float *x = malloc(total * sizeof *x), *adv = malloc(total * sizeof *adv), p0[N], p1[N];
    struct hk_error err;
    fill(x, total, 1, 4);
    for (size_t i = 0; i < total; i++) /* away from the range's ends, so that no step is clipped */
        x[i] = 0.25f + 0.5f * x[i];
    hk_model_predict(m, x, N, N, p0, &err);
    struct hk_attack_grad a = {.method = HK_ATTACK_FGSM, .eps = 2.0 / 255, .target = 1};
    hk_attack_grad_here(m, &a, 1.0f / 255, x, NULL, N, 0, adv, p1, &err);
    /* the logit moves by exactly eps x the kernel's L1 norm */
    const struct hk_layer *dense = hk_model_layer(m, 1);
    double l1 = 0;
    for (size_t i = 0; i < dense->wcount; i++)
        l1 += fabs(dense->w[i]);
    double want = log(p0[0] / (1 - p0[0])) + a.eps * l1, got = log(p1[0] / (1 - p1[0]));
    CHECK(fabs(want - got) < 1e-3, "linear model: the logit rises by eps x |w|_1 (%.5f, want %.5f)", got, want);
    free(x);
    free(adv);
    hk_model_free(m);
}

static void pixels_rounding(void)
{
    enum { H = 4, W = 5 };
    unsigned char orig[H * W * 3], pix[H * W * 3];
    float x[3 * H * W];
    for (int i = 0; i < H * W * 3; i++)
        orig[i] = (unsigned char)(i * 37 % 256);
    /* an input 8.6 steps away from each pixel rounds to 9 but is kept at 8 */
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < H * W; p++)
            x[c * H * W + p] = ((float)orig[p * 3 + c] + (p % 2 ? 8.6f : -8.6f)) / 255.0f;
    hk_attack_to_pixels(pix, x, H, W, 1.0f / 255, orig, 8);
    int most = hk_attack_max_change(orig, pix, H, W), in_range = 1;
    CHECK(most == 8, "8-bit rounding keeps the budget of 8 (largest change %d)", most);
    unsigned char strip[H * W * 3 * 3];
    hk_attack_strip(strip, orig, pix, H, W);
    for (int y = 0; y < H; y++)
        in_range &= memcmp(strip + (size_t)y * 3 * W * 3, orig + (size_t)y * W * 3, W * 3) == 0 &&
                    memcmp(strip + ((size_t)y * 3 * W + 2 * W) * 3, pix + (size_t)y * W * 3, W * 3) == 0;
    CHECK(in_range, "the strip is original | perturbation | adversarial");
}

static void pixel_attack(void)
{
    struct hk_error err;
    struct hk_worker *wk = hk_worker_new(&err);
    struct hk_model *m = small_model(0);
    unsigned char pix[8 * 8 * 3], again[8 * 8 * 3];
    for (int i = 0; i < 8 * 8 * 3; i++)
        pix[i] = (unsigned char)(i * 11 % 256);
    memcpy(again, pix, sizeof pix);
    long q1, q2;
    double s1, s2;
    int ok1, ok2;
    CHECK(hk_attack_pixels_run(wk, m, 1.0f / 255, pix, -1, 100, 5, &q1, &s1, &ok1, &err) == HK_OK, "pixels runs");
    CHECK(q1 >= 1 && q1 <= 100, "pixels keeps the budget of 100 queries (%ld)", q1);
    hk_attack_pixels_run(wk, m, 1.0f / 255, again, -1, 100, 5, &q2, &s2, &ok2, &err);
    CHECK(q1 == q2 && s1 == s2 && memcmp(pix, again, sizeof pix) == 0, "pixels is reproducible from the seed");
    hk_model_free(m);
    hk_worker_free(wk);
}

static void triggers(void)
{
    unsigned char pic[6 * 7 * 3] = {0}, trig[2 * 3 * 3];
    memset(trig, 200, sizeof trig);
    struct hk_trigger t = {trig, 2, 3, HK_AT_BOTTOM_RIGHT};
    struct hk_error err;
    CHECK(hk_poison_check(&t, 6, 7, &err) == HK_OK, "a 3x2 trigger fits a 7x6 picture");
    hk_poison_stamp(pic, 6, 7, &t);
    int right = 1, sum = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 7; x++) {
            int in = y >= 4 && x >= 4;
            right &= pic[(y * 7 + x) * 3] == (in ? 200 : 0);
            sum += pic[(y * 7 + x) * 3] != 0;
        }
    CHECK(right && sum == 6, "the trigger lands in the bottom-right corner");
    t.w = 8;
    CHECK(hk_poison_check(&t, 6, 7, &err) == HK_EINVAL && strstr(err.msg, "bigger than the pictures"),
          "a trigger wider than the picture is refused: %s", err.msg);
    CHECK(hk_poison_at_find("bottom-right") == HK_AT_BOTTOM_RIGHT && hk_poison_at_find("nowhere") == HK_AT_COUNT,
          "places by name");
}

/* Spectral signatures: in a class of 90 clean rows and 10 shifted along one direction, the 10
 * score highest; a class without poison still gets scores, and a class of one row scores 0. */
static void spectral(void)
{
    enum { ROWS = 131, D = 8 };
    static float act[ROWS * D];
    int labels[ROWS];
    double score[ROWS];
    struct hk_rng rng;
    hk_rng_seed(&rng, 8);
    for (int i = 0; i < ROWS; i++) {
        labels[i] = i < 100 ? 0 : i < 130 ? 1 : 2;
        for (int j = 0; j < D; j++) {
            /* Box-Muller-free noise: the sum of uniforms is close enough to normal here */
            float v = hk_rng_uniform(&rng, -1, 1) + hk_rng_uniform(&rng, -1, 1) + hk_rng_uniform(&rng, -1, 1);
            act[i * D + j] = v + (i >= 90 && i < 100 && (j == 2 || j == 5) ? 4.0f : 0.0f);
        }
    }
    struct hk_error err;
    CHECK(hk_audit_spectral(act, ROWS, D, labels, 3, score, &err) == HK_OK, "spectral runs");
    double least_poison = INFINITY, most_clean = 0;
    for (int i = 0; i < 100; i++) {
        if (i >= 90)
            least_poison = score[i] < least_poison ? score[i] : least_poison;
        else
            most_clean = score[i] > most_clean ? score[i] : most_clean;
    }
    CHECK(least_poison > most_clean, "the 10 shifted rows score above all 90 clean ones (%.3f > %.3f)", least_poison,
          most_clean);
    CHECK(score[130] == 0, "a class of one picture scores 0");

    /* activation clustering: the 10 shifted rows are the smaller cluster of class 0 (a tenth) */
    double share[3];
    CHECK(hk_audit_cluster(act, ROWS, D, labels, 3, score, share, &err) == HK_OK, "cluster runs");
    int split = 1;
    for (int i = 0; i < 100; i++)
        split &= i >= 90 ? score[i] > 0 : score[i] < 0;
    CHECK(split && fabs(share[0] - 0.1) < 1e-12, "the 10 shifted rows alone are the smaller cluster (share %.3f)",
          share[0]);
    CHECK(share[1] > 0.1 && share[1] <= 0.5, "a clean class splits into two large halves (%.3f)", share[1]);
    CHECK(score[130] == 0 && share[2] == 0, "a class of one picture scores 0");
}

int main(void)
{
    spectral();
    grad_attacks(1.0f / 255);
    grad_attacks(1.0f);
    linear_fgsm();
    pixels_rounding();
    pixel_attack();
    triggers();
    return check_summary();
}
