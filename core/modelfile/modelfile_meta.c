/* modelfile_meta.c: struct hk_model_meta (class names, provenance) and the checks on what a
 * model file may say in it. */
#include "modelfile_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hk_model_meta_init(struct hk_model_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->rescale = 1.0f;
    meta->optim = hk_optim_default(HK_OPTIM_ADAM);
    meta->loss = HK_LOSS_BCE;
}

void hk_model_meta_free(struct hk_model_meta *meta)
{
    if (!meta)
        return;
    for (int i = 0; i < meta->class_count; i++)
        free(meta->class_names[i]);
    free(meta->class_names);
    for (int i = 0; i < meta->extra_count; i++) {
        free(meta->extra[i].key);
        free(meta->extra[i].value);
    }
    free(meta->extra);
    free(meta->script);
    free(meta->data_sha256);
    free(meta->husky_version);
    hk_train_state_free(meta->training);
    hk_model_meta_init(meta);
}

enum hk_status mf_check_class_name(const char *name, struct hk_error *err)
{
    size_t len = strlen(name);
    if (len == 0)
        return hk_fail(err, HK_EINVAL, "a class name is empty");
    if (len > HK_MODELFILE_MAX_CLASS_NAME)
        return hk_fail(err, HK_EINVAL, "class name '%.40s...' is %zu bytes long; the limit is %d", name, len,
                       HK_MODELFILE_MAX_CLASS_NAME);
    if (strpbrk(name, "\"\n\r"))
        return hk_fail(err, HK_EINVAL, "class name '%s' contains a double quote or a line break; rename the folder",
                       name);
    if (!mf_str_utf8(name))
        return hk_fail(err, HK_EINVAL, "class name '%s' is not valid UTF-8; rename the folder", name);
    return HK_OK;
}

int mf_valid_key(const char *key, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

enum hk_status mf_check_meta_value(const char *what, const char *value, struct hk_error *err)
{
    if (strpbrk(value, "\n\r"))
        return hk_fail(err, HK_EINVAL, "%s contains a line break", what);
    if (!mf_str_utf8(value))
        return hk_fail(err, HK_EINVAL, "%s is not valid UTF-8", what);
    return HK_OK;
}

enum hk_status hk_model_meta_set_classes(struct hk_model_meta *meta, const char *const *names, int count,
                                         struct hk_error *err)
{
    if (count < 0)
        return hk_fail(err, HK_EINVAL, "class count %d is negative", count);
    for (int i = 0; i < count; i++) {
        enum hk_status st = mf_check_class_name(names[i], err);
        if (st != HK_OK)
            return st;
    }
    char **copy = calloc(count ? (size_t)count : 1, sizeof *copy);
    if (!copy)
        return hk_fail(err, HK_ENOMEM, "out of memory for %d class names", count);
    for (int i = 0; i < count; i++)
        if (!(copy[i] = mf_dup_str(names[i]))) {
            for (int j = 0; j < i; j++)
                free(copy[j]);
            free(copy);
            return hk_fail(err, HK_ENOMEM, "out of memory for %d class names", count);
        }
    for (int i = 0; i < meta->class_count; i++)
        free(meta->class_names[i]);
    free(meta->class_names);
    meta->class_names = copy;
    meta->class_count = count;
    return HK_OK;
}

const char *hk_model_meta_get_extra(const struct hk_model_meta *meta, const char *key)
{
    if (strcmp(key, "data_sha256") == 0)
        return meta->data_sha256;
    for (int i = 0; i < meta->extra_count; i++)
        if (strcmp(meta->extra[i].key, key) == 0)
            return meta->extra[i].value;
    return NULL;
}

enum hk_status hk_model_meta_set_extra(struct hk_model_meta *meta, const char *key, const char *value,
                                       struct hk_error *err)
{
    if (!mf_valid_key(key, strlen(key)))
        return hk_fail(err, HK_EINVAL, "meta key '%s' must be 1 to 64 letters, digits, '_', '.' or '-'", key);
    char what[96];
    snprintf(what, sizeof what, "the value of meta key '%s'", key);
    enum hk_status st = mf_check_meta_value(what, value, err);
    if (st != HK_OK)
        return st;
    char *v = mf_dup_str(value);
    if (!v)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    if (strcmp(key, "data_sha256") == 0) {
        free(meta->data_sha256);
        meta->data_sha256 = v;
        return HK_OK;
    }
    for (int i = 0; i < meta->extra_count; i++)
        if (strcmp(meta->extra[i].key, key) == 0) {
            free(meta->extra[i].value);
            meta->extra[i].value = v;
            return HK_OK;
        }
    char *k = mf_dup_str(key);
    struct hk_model_meta_entry *e = realloc(meta->extra, ((size_t)meta->extra_count + 1) * sizeof *e);
    if (!k || !e) {
        free(k);
        free(v);
        if (e)
            meta->extra = e;
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    meta->extra = e;
    e[meta->extra_count].key = k;
    e[meta->extra_count].value = v;
    meta->extra_count++;
    return HK_OK;
}

/* The class count a model's output needs (2 for a single unit); 0 when any count will do. */
int mf_classes_for_output(struct hk_shape out, int layers)
{
    if (!layers)
        return 0;
    size_t n = hk_shape_size(out);
    return n == 1 ? 2 : n > (size_t)INT32_MAX ? 0 : (int)n;
}
