/* served.h: a model as the server holds it: its own copy of the network, its classes and
 * preprocessing, and the SHA-256 of the exact file bytes it was built from, loaded only after
 * those bytes passed the checks asked for (a SHA-256 pin, an Ed25519 signature in FILE.sig). */
#ifndef HK_SERVED_H
#define HK_SERVED_H

#include "model.h"
#include "modelfile.h"
#include "status.h"

struct hk_served {
    struct hk_model *model;    /* owned */
    struct hk_model_meta meta; /* owned: classes, rescale, input */
    char sha256[65];           /* of the whole file, as sha256sum prints it */
    int outputs;               /* 1 (sigmoid: P(class 1)) or the number of classes */
};

/* Load path for serving. The file's bytes are read once and checked: against pin_hex (may be
 * NULL; 64 hex digits) and, with pub_path (may be NULL), against the signature in path.sig; then
 * the model is built from the file with its SHA-256 required to be the checked bytes' (so a file
 * swapped in between is refused). The model must take 3 channels and give one sigmoid output or
 * a softmax. On success *out is owned (hk_served_free). HK_EFORMAT for a hash or signature that
 * does not match (the message names both hashes, or the signature file), else as
 * hk_modelfile_load. seen_sha256 (may be NULL) receives the file's SHA-256 whenever its bytes
 * were read, else "". */
enum hk_status hk_served_load(const char *path, const char *pin_hex, const char *pub_path, struct hk_served **out,
                              char seen_sha256[65], struct hk_error *err);

/* The name of class k (borrowed), or "class K" written into buf. */
const char *hk_served_class(const struct hk_served *s, int k, char *buf, size_t cap);

/* Free; NULL is a no-op. */
void hk_served_free(struct hk_served *s);

#endif
