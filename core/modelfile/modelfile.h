/* modelfile.h: husky model files (.hkm): architecture, weights, class names, preprocessing,
 * provenance and optional training state in one self-checking file.
 *
 * Layout (all integers little-endian):
 *   "HUSKYMDL"                  8 bytes of magic
 *   u32 format version          HK_MODELFILE_VERSION
 *   u32 H, then H bytes         header text, UTF-8, H <= HK_MODELFILE_MAX_HEADER
 *   u32 T                       tensor count, T <= HK_MODELFILE_MAX_TENSORS
 *   T table entries             u16 name length, name (<= 64 bytes), u32 rank (1..4),
 *                               u32 dims[rank], u64 offset (from the start of the data section),
 *                               u64 length in bytes (= 4 * product of dims)
 *   data section                float32 tensors in table order, back to back, no gaps
 *   32 bytes                    SHA-256 of everything before them
 *
 * The header is commands of the husky language, one per line, replayed through the same parsers
 * as the shell's (so a file can only build layers the shell could):
 *   husky 0.1.0                              the husky that wrote the file (line 1)
 *   model new input=HxWxC seed=N             exactly once, before the layers
 *   conv2d 32 3x3 activation=relu ...        one line per layer (hk_layer_spec_format)
 *   compile optimizer=adam lr=0.0005 ...     if compiled (hk_compile_format)
 *   classes NAME "NAME WITH SPACES" ...      class names in label order, may span lines
 *   rescale X                                input scaling before the network (1 = none)
 *   threshold X                              decision threshold of a sigmoid output (absent: 0.5)
 *   meta KEY VALUE                           provenance; VALUE is the raw rest of the line
 *   script LINE                              one line of the script that built the model (raw)
 *   optimizer_step N                         only with the optimizer training state
 *   train_run epochs=N batch=N seed=N ...    only with the full training state: the run's options,
 *   train_augment rotation=X ...             its augmentation, where it stopped, the checkpoint's
 *   train_position epoch=N batch=N ...       best value (optional) and one line per epoch of the
 *   train_checkpoint monitor=M best=X        history (see modelfile_train.c for every field)
 *   train_history EPOCH LOSS ACC VLOSS VACC SECONDS IMG/S
 * Tensors: for each layer with parameters, in layer order, "<layer>/kernel" then "<layer>/bias"
 * (conv2d kernel (filters, in_channels, kh, kw), dense kernel (inputs, units), bias (n)); layer
 * names are those a fresh replay of the header gives (conv2d, conv2d_1, ... by position). Then the
 * training state: "optimizer/m" and "optimizer/v" (hk_model_param_count floats each), then with the
 * full training state and a non-empty history "history/batch_loss" (one float per batch). */
#ifndef HK_MODELFILE_H
#define HK_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"
#include "train_state.h"

#ifndef HK_VERSION
#define HK_VERSION "0.1.0" /* the husky release written on the header's first line */
#endif

#define HK_MODELFILE_VERSION 1
#define HK_MODELFILE_MAX_HEADER ((uint32_t)1 << 20)   /* 1 MiB of header text */
#define HK_MODELFILE_MAX_TENSORS 4096
#define HK_MODELFILE_MAX_NAME 64                      /* bytes of a tensor name */
#define HK_MODELFILE_MAX_BYTES ((uint64_t)13 << 28)   /* 3.25 GiB: the largest model with optimizer state */
#define HK_MODELFILE_MAX_CLASS_NAME 255               /* bytes of one class name */

/* Training-state sections a file may carry (bits for hk_modelfile_save's state argument). */
#define HK_MODELFILE_STATE_OPTIMIZER 1u /* optimizer moments and step */
#define HK_MODELFILE_STATE_TRAINING 2u  /* with OPTIMIZER: the run's options, position and history
                                           (meta->training), so that training resumes exactly */

/* A free-form provenance entry ("meta KEY VALUE"). */
struct hk_model_meta_entry {
    char *key;   /* owned; 1..64 of [A-Za-z0-9_.-] */
    char *value; /* owned; UTF-8 without newlines */
};

/* What a model file says besides the weights. Every pointer is owned by the struct (malloc'd) and
 * released by hk_model_meta_free. Save reads the first group; load and info fill both. */
struct hk_model_meta {
    /* written by save, read back by load */
    char **class_names;  /* class_count names in label order; UTF-8, no quotes or newlines */
    int class_count;     /* 0 = not recorded; else 2 for a 1-unit output, or the output size */
    float rescale;       /* factor applied to pixel values before the network; 1 (or 0 on save) = none */
    float threshold;     /* a 1-unit sigmoid model's decision threshold on its output (class 1 when the
                            output >= it), chosen by evaluate threshold=best; 0 = none (0.5) */
    char *script;        /* the commands that built the model, '\n'-separated, or NULL */
    char *data_sha256;   /* hash of the data (manifest) the model was trained on, or NULL */
    struct hk_model_meta_entry *extra; /* other provenance, in file order: load fills it with every
                                          `meta KEY VALUE` whose key husky does not interpret, and
                                          save writes each back, so load -> save keeps them */
    int extra_count;
    struct hk_train_state *training;   /* owned; saved with HK_MODELFILE_STATE_TRAINING (then
                                          required); filled by load, and by info without the
                                          per-batch losses (batch_losses NULL, nbatches counted) */

    /* filled by load and info from the file; ignored by save (which uses the model's own) */
    char *husky_version;      /* the husky that wrote the file */
    uint64_t seed;            /* the model's seed */
    struct hk_shape input;    /* the model's input shape */
    int layer_count;
    size_t param_count;       /* weights and biases (hk_model_param_count) */
    size_t trainable_count;   /* Keras's split: weights and biases of layers not frozen; */
    size_t non_trainable_count; /* of frozen layers plus the batchnorm moving statistics */
    int compiled;             /* 1 when the file has a compile line; then optim and loss */
    struct hk_optim optim;
    enum hk_loss loss;
    unsigned state;           /* HK_MODELFILE_STATE_* sections present */
    uint64_t optimizer_step;  /* with HK_MODELFILE_STATE_OPTIMIZER */
};

/* Empty metadata: no classes, rescale 1, no strings. A zeroed struct is as good as an initialised
 * one everywhere (its rescale 0 is saved as 1). */
void hk_model_meta_init(struct hk_model_meta *meta);

/* Free everything meta owns and make it empty again (as hk_model_meta_init); NULL is a no-op. */
void hk_model_meta_free(struct hk_model_meta *meta);

/* Replace the class names with copies of names[0..count). */
enum hk_status hk_model_meta_set_classes(struct hk_model_meta *meta, const char *const *names, int count,
                                         struct hk_error *err);

/* Set provenance entry key to a copy of value (replacing an entry with the same key). The key
 * "data_sha256" sets meta->data_sha256. Checks key and value as save would. */
enum hk_status hk_model_meta_set_extra(struct hk_model_meta *meta, const char *key, const char *value,
                                       struct hk_error *err);

/* The value of provenance entry key (borrowed), or NULL. */
const char *hk_model_meta_get_extra(const struct hk_model_meta *meta, const char *key);

/* Write model m (architecture, weights, compile settings), meta (may be NULL) and the training
 * state selected by `state` (HK_MODELFILE_STATE_* bits; 0 = weights only) to path. Writes a
 * temporary file "path.tmp.XXXXXX" in the same folder, syncs it and renames it over path, so path
 * is either the old file or the complete new one. HK_MODELFILE_STATE_TRAINING needs the optimizer
 * bit too and meta->training; on any failure the temporary file is removed
 * and HK_EIO names the path and the system's reason. HK_EINVAL: meta cannot be written (a class
 * name with a quote, a header over 1 MiB, ...), or optimizer state was asked of an uncompiled
 * model. m is only read (it is not const because its arenas are reached through accessors). */
enum hk_status hk_modelfile_save(const char *path, struct hk_model *m, const struct hk_model_meta *meta,
                                 unsigned state, struct hk_error *err);

/* hk_modelfile_save that also gives the SHA-256 of the whole file written (what sha256sum and
 * model verify print), computed as it is written; file_sha256 (32 bytes) may be NULL. */
enum hk_status hk_modelfile_save_hashed(const char *path, struct hk_model *m, const struct hk_model_meta *meta,
                                        unsigned state, unsigned char file_sha256[32], struct hk_error *err);

/* Read a model file. If expect_sha256_hex is not NULL it must be 64 hex digits and equal the
 * SHA-256 of the whole file (as sha256sum prints it), checked before anything else. Then the
 * stored SHA-256, the magic and version, the header (replayed: only known commands with valid
 * parameters), the tensor table (bounds, order, coverage, names and shapes against the replayed
 * architecture, all before the model is allocated), then the weights are copied in, bit for bit.
 * With optimizer state in the file, the moments and step are restored too; with the full training
 * state, meta->training receives it (checked: bounded counts, positions inside the run).
 * On success *out is a new model (owned: hk_model_free) and meta (may be NULL; initialised or
 * zeroed, its old contents are freed) is filled. On failure *out is NULL, meta is empty and
 * err names the file, the byte offset or header line, and what was expected: HK_EIO (cannot
 * read), HK_EFORMAT (damaged or not a model file), HK_ENOMEM (over a limit or out of memory),
 * HK_EINVAL (malformed expect_sha256_hex). */
enum hk_status hk_modelfile_load(const char *path, const char *expect_sha256_hex, struct hk_model **out,
                                 struct hk_model_meta *meta, struct hk_error *err);

/* Check a model file's integrity without building the model: its stored SHA-256 against its
 * contents, its magic and version. Reads the file in pieces (no large allocation).
 * sha256_hex (may be NULL) receives the SHA-256 of the whole file (as sha256sum prints it)
 * whenever the file could be read, even when the check fails. */
enum hk_status hk_modelfile_verify(const char *path, char sha256_hex[65], struct hk_error *err);

/* What hk_modelfile_check found. */
struct hk_modelfile_report {
    char file_sha256[65];     /* of the whole file, as sha256sum prints it */
    char weights_sha256[65];  /* of the weights alone: the kernel, bias and layer-state (batchnorm
                                 moving statistics) tensors' little-endian float32 bytes in file
                                 order (equal weights, equal hash, whatever the header or the
                                 training state say) */
    uint64_t bytes;           /* file size */
    int tensors;              /* entries in the tensor table */
    int layer_count;
    size_t param_count;       /* weights and biases (hk_model_param_count) */
    size_t trainable_count;   /* as in struct hk_model_meta */
    size_t non_trainable_count;
    unsigned state;           /* HK_MODELFILE_STATE_* sections present */
};

/* Check a model file as hk_modelfile_load does (stored hash, magic, version, header replayed,
 * architecture dry-run with every limit, tensor table bounds, order, coverage, names and shapes)
 * without building the model, and fill report. Reads the file into memory (it is bounded by
 * HK_MODELFILE_MAX_BYTES and checked against its size first). Errors as for load. */
enum hk_status hk_modelfile_check(const char *path, struct hk_modelfile_report *report, struct hk_error *err);

/* Read only the header of a model file: fill meta (initialised or zeroed; old contents freed)
 * including layer_count and param_count, and if header_text is not NULL set it to a copy of the
 * header text (owned: free). Does not read the weights or check the hash (see verify),
 * but everything it reads is checked as load does. */
enum hk_status hk_modelfile_info(const char *path, struct hk_model_meta *meta, char **header_text,
                                 struct hk_error *err);

#endif
