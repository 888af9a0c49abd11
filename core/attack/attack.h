/* attack.h: the attack lab's engine: gradient attacks (FGSM, PGD under an L-infinity budget),
 * black-box attacks that only read the model's output (greedy pixel changes, canvases), and the
 * picture helpers they share. Inputs are prepared model inputs (CHW floats, pixel x rescale);
 * budgets are in picture units, 0..1 for 0..255. The *_run calls do their model work on the
 * compute worker in chunks (between two batches while a run trains), so any thread but the worker
 * may call them; the *_here calls run on the calling thread (the worker, or a test). */
#ifndef HK_ATTACK_H
#define HK_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"
#include "worker.h"

#define HK_ATTACK_CHUNK 32 /* pictures per worker call */

enum hk_attack_method { HK_ATTACK_FGSM, HK_ATTACK_PGD };

/* A gradient attack's settings. */
struct hk_attack_grad {
    enum hk_attack_method method;
    double eps;      /* L-infinity budget, 0..1 of the picture's 0..255 */
    double step;     /* PGD: the step, same units (> 0) */
    int steps;       /* PGD: iterations (>= 1) */
    int restarts;    /* PGD: random starts in the eps box (0: one start at the picture itself) */
    int target;      /* class to reach (targeted), or -1: away from each picture's label */
    uint64_t seed;   /* where the random starts come from */
};

/* HK_OK when a's settings are usable for a model with `classes` classes; else why. */
enum hk_status hk_attack_grad_check(const struct hk_attack_grad *a, int classes, struct hk_error *err);

/* P(class c) from one row of a model's output (k values; k = 1: sigmoid, P(1) = p). */
double hk_attack_prob(const float *row, int k, int c);

/* The class a row of output predicts (sigmoid: 1 when p >= 0.5). */
int hk_attack_predicted(const float *row, int k);

/* Attack n inputs x of m (compiled) on the calling thread: adv (n x input size) receives
 * pictures within eps x 255 x rescale of x and inside [0, 255 x rescale]. Untargeted attacks
 * raise the loss of labels[i] (the class to move away from); targeted ones lower the loss of
 * a->target (labels unused, may be NULL). PGD keeps, per picture, the best of its starts; start
 * r of picture i draws from (seed, r, index0 + i), so a chunk gives what the whole set gives.
 * probs (may be NULL) receives m's output for adv (n x output size). */
enum hk_status hk_attack_grad_here(struct hk_model *m, const struct hk_attack_grad *a, float rescale, const float *x,
                                   const int *labels, int n, uint64_t index0, float *adv, float *probs,
                                   struct hk_error *err);

/* hk_attack_grad_here on the worker, HK_ATTACK_CHUNK pictures per call; x[0] is picture index0
 * of the set (for the random starts). */
enum hk_status hk_attack_grad_run(struct hk_worker *wk, struct hk_model *m, const struct hk_attack_grad *a,
                                  float rescale, const float *x, const int *labels, int n, uint64_t index0,
                                  float *adv, float *probs, struct hk_error *err);

/* Model outputs for n inputs (n x output size into probs), on the worker in chunks. */
enum hk_status hk_attack_predict(struct hk_worker *wk, struct hk_model *m, const float *x, int n, float *probs,
                                 struct hk_error *err);

/* An input back to 8-bit pixels: pix (h x w x 3, HWC) = round(x / rescale) in 0..255, and when
 * orig is not NULL, within max_change of orig's pixels (rounding never leaves the budget). */
void hk_attack_to_pixels(unsigned char *pix, const float *x, int h, int w, float rescale,
                         const unsigned char *orig, int max_change);

/* The largest difference of two h x w x 3 pictures, 0..255. */
int hk_attack_max_change(const unsigned char *a, const unsigned char *b, int h, int w);

/* A strip of three pictures side by side (3w x h x 3): orig | the difference, amplified to fill
 * 0..255 around mid-grey | adv. */
void hk_attack_strip(unsigned char *strip, const unsigned char *orig, const unsigned char *adv, int h, int w);

/* Black box, greedy pixel changes: from picture pix (h x w x 3, changed in place), propose
 * single-pixel changes (a random pixel set to a random corner of the colour cube) in rounds of
 * HK_ATTACK_CHUNK queries and keep a round's best when it raises the score: P(target), or with
 * target -1 one minus P(the class first predicted). Stops when the predicted class becomes the
 * target (another class for -1) or after budget queries. *queries receives the queries used
 * (counting to the first successful one), *score the best score, *success 1 on success. */
enum hk_status hk_attack_pixels_run(struct hk_worker *wk, struct hk_model *m, float rescale, unsigned char *pix,
                                    int target, long budget, uint64_t seed, long *queries, double *score,
                                    int *success, struct hk_error *err);

/* Canvases for brute-forcing the prediction. Kinds: plain colours (the 8 corners of the colour
 * cube and mid-grey: 9), grey shades (256: 0..255), uniform noise (any count, picture i drawn
 * from (seed, i)). */
enum hk_canvas { HK_CANVAS_COLOUR, HK_CANVAS_GREY, HK_CANVAS_NOISE };
#define HK_CANVAS_COLOURS 9

/* Fill pix (h x w x 3) with canvas i of a kind; name (may be NULL, 32 bytes) its description. */
void hk_attack_canvas(unsigned char *pix, int h, int w, enum hk_canvas kind, int i, uint64_t seed, char *name);

#endif
