/* layer.h: what a layer is (spec, shapes, parameter views, buffers) and the table of operations
 * that each layer kind implements in its own layer_*.c file. Tensors are float32 NCHW. */
#ifndef HK_LAYER_H
#define HK_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "rng.h"
#include "status.h"
#include "team.h"

enum hk_layer_kind {
    HK_LAYER_CONV2D,
    HK_LAYER_MAXPOOL2D,
    HK_LAYER_DROPOUT,
    HK_LAYER_FLATTEN,
    HK_LAYER_DENSE,
    HK_LAYER_ACTIVATION,
    HK_LAYER_DEPTHWISE,
    HK_LAYER_BATCHNORM,
    HK_LAYER_ZEROPAD,
    HK_LAYER_AVGPOOL2D,
    HK_LAYER_GLOBAL_AVGPOOL,
    HK_LAYER_ADD,
    HK_LAYER_RESCALING,
    HK_LAYER_KIND_COUNT
};

/* Keras BatchNormalization defaults. */
#define HK_BATCHNORM_MOMENTUM 0.99f
#define HK_BATCHNORM_EPSILON 0.001f

/* Per-sample shape: channels, height, width. A flat vector of n values is n x 1 x 1. */
struct hk_shape {
    int c, h, w;
};

/* Number of values in a shape. */
size_t hk_shape_size(struct hk_shape s);

/* Bytes of a layer name with its NUL: names are 1 to 31 of [A-Za-z0-9_.-], starting with a letter
 * or '_'. */
#define HK_LAYER_NAME_MAX 32

/* What the user asked for; the layer's whole configuration, with its place in the graph by name. */
struct hk_layer_spec {
    enum hk_layer_kind kind;
    int units;       /* conv2d filters, dense units */
    int kh, kw;      /* conv2d or depthwise kernel, pooling window */
    int sh, sw;      /* strides; conv2d and depthwise default 1, pooling default the window */
    int same;        /* padding: 1 = same, 0 = valid */
    int nobias;      /* conv2d, depthwise: 1 = no bias (bias=no) */
    int pad[4];      /* zeropad: rows on top, bottom, columns on the left, right */
    float momentum;  /* batchnorm: moving = moving * momentum + batch * (1 - momentum) */
    float epsilon;   /* batchnorm: added to the variance (0 = the default 0.001) */
    float rate;      /* dropout rate in [0, 1) */
    float scale, offset; /* rescaling: y = x * scale + offset */
    enum hk_act act; /* activation applied to the output */
    float l2;        /* L2 factor on the kernel (Keras kernel_regularizer=l2(x)) */
    char name[HK_LAYER_NAME_MAX];    /* name= ("" = an automatic Keras-style name) */
    char input[HK_LAYER_NAME_MAX];   /* input= ("" = the previous layer's output) */
    char from[2][HK_LAYER_NAME_MAX]; /* add from=A ("" unused) or from=A,B */
};

/* Data-parallel training: replace sums[0..count) by their sums over all processes (an MPI
 * all-reduce; it cannot fail short of aborting the job). Batch normalisation calls it to take its
 * statistics over the global batch. */
typedef void (*hk_sync_fn)(void *user, double *sums, size_t count);

/* Per-call context shared by all layers of one forward or backward pass. */
struct hk_pass {
    int training;      /* dropout active, batchnorm on batch statistics, buffers kept for backward */
    uint64_t seed;     /* with step: where dropout masks come from */
    uint64_t step;     /* global optimizer step (0 when not training) */
    uint64_t sample0;  /* position of the first sample of this pass within the global batch */
    float *scratch[HK_TEAM_PARTS]; /* one scratch of the model's max scratch_floats per part */
    hk_sync_fn sync;   /* NULL in a single process */
    void *sync_user;
    double share;      /* with sync: this process's samples / the global batch's */
    const float *x2;   /* a two-input layer's (add's) second input, set by the model per call */
    float *dx2;        /* backward: where the second input's gradient goes (NULL = not needed) */
};

struct hk_layer_ops;

/* One team call of a layer over a batch (conv2d, depthwise): the layer, the pass and the tensors;
 * each team part reads its samples from it. */
struct hk_layer_call {
    struct hk_layer *l;
    const struct hk_pass *p;
    const float *x, *dy;
    float *dx;
    int n;
};

struct hk_layer {
    struct hk_layer_spec spec;
    const struct hk_layer_ops *ops;
    char name[32];          /* Keras-style unique name: conv2d, conv2d_1, max_pooling2d ... */
    int index;              /* position in the model */
    int input;              /* index of the layer whose output this reads; -1 = the model input */
    int input2;             /* index of the second input of an add; -1 = none */
    struct hk_shape in, out;
    size_t wcount, bcount;  /* parameter counts of kernel and bias */
    float *w, *b;           /* views into the model's parameter arena */
    float *dw, *db;         /* views into the gradient arena */
    size_t scount;          /* non-trainable state values (batchnorm: moving mean, moving variance) */
    float *state;           /* view into the model's state arena (out of optimizer, L2, all-reduce) */
    int frozen;             /* `model freeze`: no optimizer update, no L2, no dw needed; a frozen
                             * batchnorm normalises with its moving statistics (Keras 2.x) */
    float *y;               /* batch outputs, batch * size(out), view into the workspace */
    void *aux;              /* per-batch layer state (maxpool argmax, dropout mask) */
};

/* The operations of one layer kind. Kernels never allocate; shapes are checked by infer. */
struct hk_layer_ops {
    const char *word;       /* command word: "conv2d" */
    const char *keras_name; /* name prefix as Keras prints it: "max_pooling2d" */
    const char *keras_class; /* layer type as Keras prints it: "MaxPooling2D" */
    const char *usage;      /* the command's syntax, as `help` and error messages print it */
    const char *help;       /* what the layer does, for `help WORD` */
    const char *const *options; /* key= options it takes besides name= and input= (NULL-ended;
                                 * NULL = none) */
    int positional;         /* how many positional arguments it takes at most */
    int required;           /* how many of them are required */
    /* Its tensors in a model file, as Keras names them: kernel and bias (NULL = "kernel", "bias";
     * batchnorm "gamma", "beta"), and the state split in equal parts (NULL = none). */
    const char *kernel_tensor, *bias_tensor;
    const char *const *state_tensors;
    /* The kernel tensor's shape into dims; returns its rank. NULL = flat, {wcount}. */
    int (*kernel_dims)(const struct hk_layer *l, uint64_t dims[4]);
    /* From l->in and l->spec: check the spec, set l->out, l->wcount, l->bcount (and l->scount). */
    enum hk_status (*infer)(struct hk_layer *l, struct hk_error *err);
    /* Bytes of per-batch state in l->aux for a batch of n. NULL = none. */
    size_t (*aux_bytes)(const struct hk_layer *l, int n);
    /* Floats of scratch needed by forward or backward, per part of the batch (the model gives
     * each of the HK_TEAM_PARTS parts its own). NULL = none. */
    size_t (*scratch_floats)(const struct hk_layer *l);
    /* Initialise parameters and state (Keras: glorot-uniform kernel, zero bias). NULL = none. */
    void (*init)(struct hk_layer *l, struct hk_rng *rng);
    /* y = f(x) into l->y for a batch of n (activation is applied by the model afterwards). */
    void (*forward)(struct hk_layer *l, const float *x, int n, const struct hk_pass *p);
    /* Given dy (gradient of the pre-activation output), accumulate dw, db and write dx
     * (dx may be NULL when no input gradient is needed). x is the forward input. dy is the
     * layer's own buffer (it may be overwritten). A frozen layer (l->frozen) may skip dw, db. */
    void (*backward)(struct hk_layer *l, const float *x, const float *dy, float *dx, int n,
                     const struct hk_pass *p);
    /* A layer whose training passes call p->sync: make the same calls with nothing of its own,
     * for a process that has no samples in a step (forward calls, or backward ones). NULL = none. */
    void (*sync_idle)(struct hk_layer *l, const struct hk_pass *p, int backward);
};

/* The ops of a kind; never NULL for a valid kind. */
const struct hk_layer_ops *hk_layer_ops_of(enum hk_layer_kind kind);

/* 1 when the layer's own ops apply its activation (a standalone `activation relu` or `relu6`
 * layer: y = act(x) in one pass forward, dx = act'(y) dy in one pass backward), so the model must
 * not apply it again; 0 when the model applies spec.act to the layer's output as usual. */
int hk_layer_fuses_act(const struct hk_layer *l);

/* Keras-style name prefix and class of a layer ("re_lu" / "ReLU" for `activation relu6`,
 * otherwise the kind's keras_name and keras_class). */
const char *hk_layer_keras_name(const struct hk_layer_spec *spec);
const char *hk_layer_keras_class(const struct hk_layer_spec *spec);

/* Counters of auto names: one per kind, and HK_LAYER_NAME_RELU6 for re_lu. */
#define HK_LAYER_NAME_RELU6 HK_LAYER_KIND_COUNT
#define HK_LAYER_NAME_SLOTS (HK_LAYER_KIND_COUNT + 1)
/* The Keras-style automatic name of a layer of this spec, as the model and the model file give it:
 * the prefix (hk_layer_keras_name), then prefix_1, prefix_2 ... counting in the spec's counter of
 * serial, skipping names that taken[0..count) already hold; advances the counter past the name. */
void hk_layer_auto_name(char name[HK_LAYER_NAME_MAX], const struct hk_layer_spec *spec,
                        int serial[HK_LAYER_NAME_SLOTS], const struct hk_layer *taken, int count);

/* The kernel tensor's shape (ops->kernel_dims, else {wcount}) into dims; returns its rank. */
int hk_layer_kernel_dims(const struct hk_layer *l, uint64_t dims[4]);

/* 1 when layer b has the same parameters as a (kind, counts and kernel shape), so that b can take
 * a's values after an edit of the model. */
int hk_layer_same_params(const struct hk_layer *a, const struct hk_layer *b);

/* Output shape of a sliding window (pooling): the spec's window, strides (default the window)
 * and padding over l->in; sets l->out (channels kept) and zero parameter counts. */
enum hk_status hk_pool_infer(struct hk_layer *l, struct hk_error *err);

/* Padding on top and left of a window of k with stride s over n giving out positions (TF rule:
 * the extra one of an odd total goes to the bottom/right). */
int hk_pad_before(int n, int out, int k, int s);

/* Glorot-uniform fill: limit sqrt(6 / (fan_in + fan_out)). */
void hk_glorot_uniform(float *w, size_t n, int fan_in, int fan_out, struct hk_rng *rng);

extern const struct hk_layer_ops hk_conv2d_ops;
extern const struct hk_layer_ops hk_maxpool2d_ops;
extern const struct hk_layer_ops hk_dropout_ops;
extern const struct hk_layer_ops hk_flatten_ops;
extern const struct hk_layer_ops hk_dense_ops;
extern const struct hk_layer_ops hk_activation_ops;
extern const struct hk_layer_ops hk_depthwise_ops;
extern const struct hk_layer_ops hk_batchnorm_ops;
extern const struct hk_layer_ops hk_zeropad_ops;
extern const struct hk_layer_ops hk_rescaling_ops;
extern const struct hk_layer_ops hk_avgpool2d_ops;
extern const struct hk_layer_ops hk_global_avgpool_ops;
extern const struct hk_layer_ops hk_add_ops;

#endif
