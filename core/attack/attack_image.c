/* attack_image.c: the attack lab's pictures: adversarial inputs back to 8-bit pixels inside their
 * budget, the original | perturbation | adversarial strip, and the brute-force canvases. */
#include "attack.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rng.h"

void hk_attack_to_pixels(unsigned char *pix, const float *x, int h, int w, float rescale,
                         const unsigned char *orig, int max_change)
{
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            long v = lroundf(x[c * plane + p] / rescale);
            if (orig) {
                long o = orig[p * 3 + c];
                v = v < o - max_change ? o - max_change : v > o + max_change ? o + max_change : v;
            }
            pix[p * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

int hk_attack_max_change(const unsigned char *a, const unsigned char *b, int h, int w)
{
    int most = 0;
    for (size_t i = 0; i < (size_t)h * w * 3; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        most = d > most ? d : most;
    }
    return most;
}

void hk_attack_strip(unsigned char *strip, const unsigned char *orig, const unsigned char *adv, int h, int w)
{
    int most = hk_attack_max_change(orig, adv, h, w);
    double gain = most ? 127.0 / most : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                size_t src = ((size_t)y * w + x) * 3 + c, row = (size_t)y * 3 * w * 3;
                int d = (int)adv[src] - (int)orig[src];
                strip[row + (size_t)x * 3 + c] = orig[src];
                strip[row + ((size_t)w + x) * 3 + c] = (unsigned char)lround(128 + d * gain);
                strip[row + ((size_t)2 * w + x) * 3 + c] = adv[src];
            }
}

void hk_attack_canvas(unsigned char *pix, int h, int w, enum hk_canvas kind, int i, uint64_t seed, char *name)
{
    static const struct {
        const char *name;
        unsigned char rgb[3];
    } colours[HK_CANVAS_COLOURS] = {
        {"black", {0, 0, 0}},      {"white", {255, 255, 255}}, {"red", {255, 0, 0}},
        {"green", {0, 255, 0}},    {"blue", {0, 0, 255}},      {"yellow", {255, 255, 0}},
        {"cyan", {0, 255, 255}},   {"magenta", {255, 0, 255}}, {"grey", {128, 128, 128}},
    };
    size_t n = (size_t)h * w;
    if (kind == HK_CANVAS_NOISE) {
        struct hk_rng rng;
        hk_rng_derive(&rng, seed, 0x6e6f697365 /* "noise" */, (uint64_t)i, 0);
        for (size_t p = 0; p < n * 3; p++)
            pix[p] = (unsigned char)hk_rng_below(&rng, 256);
        if (name)
            snprintf(name, 32, "noise %d", i);
        return;
    }
    unsigned char rgb[3];
    if (kind == HK_CANVAS_GREY) {
        rgb[0] = rgb[1] = rgb[2] = (unsigned char)(i & 255);
        if (name)
            snprintf(name, 32, "grey %d", i & 255);
    } else {
        int c = i % HK_CANVAS_COLOURS;
        for (int k = 0; k < 3; k++)
            rgb[k] = colours[c].rgb[k];
        if (name)
            snprintf(name, 32, "%s", colours[c].name);
    }
    for (size_t p = 0; p < n; p++)
        for (int k = 0; k < 3; k++)
            pix[p * 3 + k] = rgb[k];
}
