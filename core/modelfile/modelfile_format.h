/* modelfile_format.h: internal to core/modelfile_*.c: the .hkm layout constants (the layout itself
 * is described in modelfile.h), the tensor list, the parsed header ("plan") and the small helpers
 * the reader and the writer share. Not part of the public API; names start with mf_. */
#ifndef HK_MODELFILE_FORMAT_H
#define HK_MODELFILE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "lexer.h"
#include "modelfile.h"

#define MF_MAGIC "HUSKYMDL"
#define MF_PREFIX_BYTES 16u                           /* magic, version, header length */
#define MF_MIN_FILE_BYTES (MF_PREFIX_BYTES + 4 + 32)  /* empty header, no tensors */
#define MF_MAX_OUTPUT_VALUES ((size_t)1 << 26)        /* per-layer output limit, as hk_model_insert's */
#define MF_MAX_TENSORS_WANTED (4 * HK_MODEL_MAX_LAYERS + 3) /* layers, optimizer, batch losses */
#define MF_CLASSES_PER_LINE 32                        /* the lexer takes 64 words per line */

/* ---- helpers (modelfile_util.c) ---- */

/* err = "model file 'path': <fmt>"; returns st. */
enum hk_status mf_fail_file(struct hk_error *err, enum hk_status st, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A printable excerpt of n bytes of text in buf (cap bytes) for messages; returns buf. */
const char *mf_excerpt(const void *text, size_t n, char *buf, size_t cap);

uint16_t mf_get_u16(const unsigned char *p);
uint32_t mf_get_u32(const unsigned char *p);
uint64_t mf_get_u64(const unsigned char *p);
void mf_put_u32(unsigned char *p, uint32_t v);

/* A growable byte buffer, kept NUL-terminated; after an allocation failure `oom` is set and adds
 * are ignored. Zero-initialise; free(p) when done. */
struct mf_buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
};

void mf_buf_add(struct mf_buf *b, const void *data, size_t n);
void mf_buf_str(struct mf_buf *b, const char *s);
/* v as `bytes` little-endian bytes. */
void mf_buf_int(struct mf_buf *b, uint64_t v, int bytes);
/* A short formatted piece (under 512 bytes; longer sets oom). */
void mf_buf_printf(struct mf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when s[0..n) is well-formed UTF-8; else 0 and *bad is the offset of the first bad byte. */
int mf_utf8_valid(const unsigned char *s, size_t n, size_t *bad);
int mf_str_utf8(const char *s);
/* A malloc'd copy of s, or NULL. */
char *mf_dup_str(const char *s);
/* a * b into *r; 0 on overflow of 64 bits. */
int mf_mul_u64(uint64_t a, uint64_t b, uint64_t *r);

/* Where a header line is, for messages. */
struct mf_where {
    const char *path;
    int line;
    size_t offset; /* of the line in the file */
};

/* err = "model file 'path': header line N (offset O): <fmt>"; returns st. */
enum hk_status mf_fail_line(struct hk_error *err, enum hk_status st, const struct mf_where *w, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- metadata checks (modelfile_meta.c) ---- */

enum hk_status mf_check_class_name(const char *name, struct hk_error *err);
/* 1 when key[0..len) is a valid meta key: 1..64 of [A-Za-z0-9_.-]. */
int mf_valid_key(const char *key, size_t len);
/* A meta value must be UTF-8 without line breaks; what names it in the message. */
enum hk_status mf_check_meta_value(const char *what, const char *value, struct hk_error *err);
/* The class count a model's output needs (2 for a single unit); 0 when any count will do. */
int mf_classes_for_output(struct hk_shape out, int layers);

/* ---- tensors (modelfile_tensors.c) ---- */

enum mf_part { MF_PART_KERNEL, MF_PART_BIAS, MF_PART_OPT_M, MF_PART_OPT_V, MF_PART_BATCH_LOSS, MF_PART_STATE };

/* One tensor the file holds (or must hold). */
struct mf_tensor {
    char name[HK_MODELFILE_MAX_NAME + 1];
    uint32_t rank;
    uint32_t dims[4];
    uint64_t count; /* floats */
    int layer;      /* index, for kernel, bias and state */
    enum mf_part part;
    uint64_t first; /* state: where in the layer's state the tensor starts */
};

/* 1 when a model is a graph, has names set with name= or frozen layers: its file then names every
 * layer (name=), so that the connections replay exactly; else the names are the canonical ones. */
int mf_model_named(const struct hk_model *m);
/* Append the kernel and bias tensors (batchnorm: gamma, beta) and the state tensors (batchnorm:
 * moving_mean, moving_variance) of layer l (named lname) to t. */
enum hk_status mf_layer_tensors(const struct hk_layer *l, int index, const char *lname, struct mf_tensor *t,
                                int *nt, struct hk_error *err);
/* Append the optimizer-state tensors of a model with nparams parameters to t. */
enum hk_status mf_optim_tensors(size_t nparams, struct mf_tensor *t, int *nt, struct hk_error *err);
/* Append the per-batch loss tensor of a history of nbatches batches (none when 0) to t. */
enum hk_status mf_history_tensors(size_t nbatches, struct mf_tensor *t, int *nt, struct hk_error *err);
/* Where tensor x lives: in model m, or batch_losses for the history's (borrowed). */
float *mf_tensor_data(struct hk_model *m, float *batch_losses, const struct mf_tensor *x);

/* ---- the parsed header (modelfile_header.c) ---- */

/* The header's commands, parsed but not yet applied. */
struct mf_plan {
    int model_line;
    struct hk_shape input;
    uint64_t seed;
    size_t model_off;
    int nlayers;
    struct hk_layer_spec specs[HK_MODEL_MAX_LAYERS];
    int spec_line[HK_MODEL_MAX_LAYERS];
    size_t spec_off[HK_MODEL_MAX_LAYERS]; /* file offsets of the lines, for messages */
    int nfreeze;                   /* model freeze lines: their layer ranges, applied after the layers */
    char freeze[HK_MODEL_MAX_LAYERS][2 * HK_LAYER_NAME_MAX + 2];
    int freeze_line[HK_MODEL_MAX_LAYERS];
    size_t freeze_off[HK_MODEL_MAX_LAYERS];
    int compile_line;
    size_t compile_off;
    struct hk_optim optim;
    enum hk_loss loss;
    int step_line;
    uint64_t step;
    int rescale_line;
    int threshold_line;
    int script_lines;
    struct mf_buf script;
    struct hk_model_meta meta;
    struct hk_train_state *train;  /* the training-state lines (owned), or NULL */
    int train_lines[4];            /* lines of train_run, _augment, _position, _checkpoint */
    struct hk_words words;
};

void mf_plan_free(struct mf_plan *p);
/* Parse header text (hlen bytes, at file offset MF_PREFIX_BYTES) into *out (owned: mf_plan_free). */
enum hk_status mf_parse_header(const char *path, const unsigned char *text, size_t hlen, struct mf_plan **out,
                               struct hk_error *err);
/* The parameter counts of a plan: the weight arena (what the optimizer sees) and Keras's split. */
struct mf_counts {
    size_t params;        /* weights and biases (hk_model_param_count of the built model) */
    size_t trainable;     /* weights and biases of layers not frozen */
    size_t non_trainable; /* of frozen layers, plus the state (batchnorm moving statistics) */
};

/* Check the plan's architecture without allocating it: shapes, limits and the list of tensors the
 * file must hold (t has room for MF_MAX_TENSORS_WANTED). */
enum hk_status mf_dry_run(const char *path, const struct mf_plan *p, struct mf_tensor *t, int *nt,
                          struct mf_counts *counts, struct hk_shape *output, struct hk_error *err);

/* ---- the training state (modelfile_train.c) ---- */

/* Append the training-state lines of s to header h. */
void mf_train_header(struct mf_buf *h, const struct hk_train_state *s);
/* One train_* header line into p->train. */
enum hk_status mf_train_line(struct mf_plan *p, const struct hk_words *ws, const struct mf_where *w,
                             struct hk_error *err);
/* After the whole header: the training state's lines are complete and agree with each other. */
enum hk_status mf_train_finish(const char *path, struct mf_plan *p, struct hk_error *err);

/* ---- the tensor table (modelfile_table.c) ---- */

/* Read the table at file offset pos (the data section and the hash follow it; end is the offset of
 * the hash) and check it against the wanted tensors. On success *data_at is the file offset of the
 * data section. */
enum hk_status mf_read_table(const char *path, const unsigned char *file, size_t pos, size_t end,
                             const struct mf_tensor *want, int nwant, size_t *data_at, struct hk_error *err);

#endif
