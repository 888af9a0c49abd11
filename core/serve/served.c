/* served.c: loading a model for the server behind a hash pin and a signature check. */
#include "served.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sha256.h"
#include "sign.h"

enum hk_status hk_served_load(const char *path, const char *pin_hex, const char *pub_path, struct hk_served **out,
                              char seen_sha256[65], struct hk_error *err)
{
    *out = NULL;
    if (seen_sha256)
        seen_sha256[0] = '\0';
    unsigned char digest[HK_SHA256_BYTES];
    if (pin_hex && !hk_sha256_parse_hex(pin_hex, digest))
        return hk_fail(err, HK_EINVAL, "sha256= needs 64 hex digits");
    unsigned char *bytes;
    size_t n;
    enum hk_status st = hk_sign_read_file(path, HK_MODELFILE_MAX_BYTES, &bytes, &n, err);
    if (st != HK_OK)
        return st;
    char hex[65];
    hk_sha256(bytes, n, digest);
    hk_sha256_hex(digest, hex);
    if (seen_sha256)
        memcpy(seen_sha256, hex, sizeof hex);
    if (pin_hex && strcasecmp(pin_hex, hex) != 0) {
        free(bytes);
        return hk_fail(err, HK_EFORMAT, "'%s' has sha256 %s, not the pinned %s", path, hex, pin_hex);
    }
    if (pub_path) {
        size_t pl = strlen(path);
        char *sig = malloc(pl + 5);
        if (!sig) {
            free(bytes);
            return hk_fail(err, HK_ENOMEM, "out of memory");
        }
        memcpy(sig, path, pl);
        memcpy(sig + pl, ".sig", 5);
        st = hk_sign_verify(bytes, n, sig, pub_path, err);
        if (st == HK_EIO && strstr(err->msg, sig)) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            hk_fail(err, HK_EIO, "%.400s (trust= needs a signature: model sign FILE key=KEY)", why);
        }
        free(sig);
    }
    free(bytes);
    if (st != HK_OK)
        return st;
    struct hk_served *s = calloc(1, sizeof *s);
    if (!s)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    hk_model_meta_init(&s->meta);
    st = hk_modelfile_load(path, hex, &s->model, &s->meta, err);
    if (st != HK_OK) {
        hk_served_free(s);
        return st;
    }
    memcpy(s->sha256, hex, sizeof hex);
    struct hk_shape in = hk_model_input(s->model);
    int k = (int)hk_shape_size(hk_model_output(s->model));
    int nl = hk_model_count(s->model);
    enum hk_act last = nl ? hk_model_layer(s->model, nl - 1)->spec.act : HK_ACT_LINEAR;
    if (in.c != 3)
        st = hk_fail(err, HK_EINVAL, "'%s': the model takes %d channels; serving needs RGB (3)", path, in.c);
    else if (!((k == 1 && last == HK_ACT_SIGMOID) || (k > 1 && last == HK_ACT_SOFTMAX)))
        st = hk_fail(err, HK_EINVAL, "'%s': the model's output is %d value(s) without %s; serving needs one sigmoid "
                     "or a softmax", path, k, k == 1 ? "a sigmoid" : "a softmax");
    if (st != HK_OK) {
        hk_served_free(s);
        return st;
    }
    s->outputs = k;
    *out = s;
    return HK_OK;
}

const char *hk_served_class(const struct hk_served *s, int k, char *buf, size_t cap)
{
    if (k >= 0 && k < s->meta.class_count)
        return s->meta.class_names[k];
    snprintf(buf, cap, "class %d", k);
    return buf;
}

void hk_served_free(struct hk_served *s)
{
    if (!s)
        return;
    hk_model_free(s->model);
    hk_model_meta_free(&s->meta);
    free(s);
}
