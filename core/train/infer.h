/* infer.h: using a model: preprocess pictures for it, predict files or prepared inputs, evaluate
 * a data set (loss and every picture's output), one layer's activations for one picture and a
 * layer's weights. The hk_infer_* calls that take a worker run their model work on it (between two
 * batches while a run trains the same model, at once when it is idle), so any thread may call
 * them while training goes on; they must not be called from the worker itself. Front ends parse
 * and format; the model work and the preprocessing live here, once. */
#ifndef HK_INFER_H
#define HK_INFER_H

#include <stddef.h>

#include "dataset.h"
#include "image.h"
#include "model.h"
#include "worker.h"

/* How a picture file becomes a model input: decoded within limits (NULL: the defaults), resized
 * to the model's input height x width, RGB8 times rescale (HWC uint8 -> CHW float). */
struct hk_infer_prep {
    const struct hk_image_limits *limits;
    float rescale;
};

/* Load one picture file as input for m (which must have 3 input channels): x receives the input
 * (input size floats), pix (may be NULL; input h * w * 3 bytes) the resized RGB8 picture. The
 * caller's thread does this: it never touches the weights. HK_EINVAL when m's input does not
 * have 3 channels; else the decoder's error. */
enum hk_status hk_infer_load(const struct hk_model *m, const struct hk_infer_prep *prep, const char *path,
                             unsigned char *pix, float *x, struct hk_error *err);

/* Prepare a decoded picture (rgb: w x h RGB8, HWC; a server's upload, say) the same way as input
 * of shape in (a model's hk_model_input; taken by value so that a thread which does not own the
 * model can prepare for it): resized to in.h x in.w into pix (may be NULL) and rescaled into x.
 * HK_EINVAL when in does not have 3 channels or w, h are not positive. */
enum hk_status hk_infer_pixels(struct hk_shape in, const struct hk_infer_prep *prep, const unsigned char *rgb, int w,
                               int h, unsigned char *pix, float *x, struct hk_error *err);

/* The decision on one output row p of k values: the most probable class of a softmax (k > 1), or
 * for one sigmoid output (P(class 1)) class 1 when p[0] >= threshold (threshold <= 0: 0.5, as a
 * model file without one says). prob (may be NULL) receives the probability of that class (1 -
 * p[0] for class 0). The shell's predict and the server both decide with this. */
int hk_infer_decide(const float *p, int k, float threshold, double *prob);

/* Predict n prepared inputs on the calling thread, which must own m (the worker does this for
 * hk_infer_predict; a server's inference thread for its own copy). */
enum hk_status hk_infer_predict_here(struct hk_model *m, const float *x, int n, float *probs, struct hk_error *err);

/* Predict n prepared inputs (n x input size floats) on the worker: probs receives n x output
 * size values (after the last activation). */
enum hk_status hk_infer_predict(struct hk_worker *wk, struct hk_model *m, const float *x, int n, float *probs,
                                struct hk_error *err);

/* Why a file of hk_infer_predict_files could not be predicted ("" when it was). */
struct hk_infer_file {
    char reason[512];
};

/* Predict n picture files: each is loaded with hk_infer_load (a folder is refused as "a folder
 * that cannot be read"), then the readable ones are predicted on the worker in one call. Row i of
 * probs (n x output size) holds file i's output; files[i].reason says why it has none. Non-OK
 * only when the model failed (err set); unreadable files are not an error. */
enum hk_status hk_infer_predict_files(struct hk_worker *wk, struct hk_model *m, const struct hk_infer_prep *prep,
                                      const char *const *paths, int n, float *probs, struct hk_infer_file *files,
                                      struct hk_error *err);

/* Evaluate a whole set in inference mode, batch by batch (batch <= 0: 32), on the calling thread
 * (the worker: training uses it for validation). loss receives the mean loss (with the L2
 * penalty, as training reports val_loss), accuracy (may be NULL) the fraction right, probs (may
 * be NULL) count x output size values. NAN for an empty set. Needs a compiled model whose input is
 * the set's pictures. */
enum hk_status hk_infer_evaluate_here(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                      double *loss, double *accuracy, float *probs, struct hk_error *err);

struct hk_feature_cache;

/* hk_infer_evaluate_here with a feature cache of ds's pictures (feature_cache.h; NULL = none):
 * batches whose features it holds start after its point, the others fill it. */
enum hk_status hk_infer_evaluate_cached(struct hk_model *m, const struct hk_dataset *ds, float rescale, int batch,
                                        struct hk_feature_cache *fc, double *loss, double *accuracy, float *probs,
                                        struct hk_error *err);

/* hk_infer_evaluate_here on the worker. */
enum hk_status hk_infer_evaluate(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds, float rescale,
                                 int batch, double *loss, double *accuracy, float *probs, struct hk_error *err);

/* hk_infer_evaluate with a feature cache of ds (NULL = none): used, and filled, only when its key
 * (hk_fcache_key) is the one m, ds and rescale give now; it must belong to no running pass. */
enum hk_status hk_infer_evaluate_with(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                      float rescale, int batch, struct hk_feature_cache *fc, double *loss,
                                      double *accuracy, float *probs, struct hk_error *err);

/* hk_infer_evaluate with test-time augmentation: each picture is forwarded as it is and mirrored
 * left to right, and probs (count x output size, required) receives the mean of the two outputs;
 * loss the mean of the two passes' mean losses. Never uses a feature cache. */
enum hk_status hk_infer_evaluate_flip(struct hk_worker *wk, struct hk_model *m, const struct hk_dataset *ds,
                                      float rescale, int batch, double *loss, float *probs, struct hk_error *err);

/* Forward one prepared input (input size floats) on the worker and copy layer `layer`'s output
 * for it into act (that layer's output size floats). */
enum hk_status hk_infer_activation(struct hk_worker *wk, struct hk_model *m, const float *x, int layer, float *act,
                                   struct hk_error *err);

/* Copy layer `layer`'s weights (its wcount floats, layout as layer.h gives it) into w, on the
 * worker, so that they are the weights of one step even while a run trains. */
enum hk_status hk_infer_weights(struct hk_worker *wk, struct hk_model *m, int layer, float *w, struct hk_error *err);

/* Set one weight of layer `layer` on the worker: value index of its kernel (bias 0; the layout
 * layer.h gives, as model files store it) or of its bias (bias 1). before (may be NULL) receives
 * the old value. HK_EINVAL for a layer, tensor or index that does not exist. */
enum hk_status hk_infer_set_weight(struct hk_worker *wk, struct hk_model *m, int layer, int bias, size_t index,
                                   float value, float *before, struct hk_error *err);

#endif
