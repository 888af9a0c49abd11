/* modelfile_write.c: hk_modelfile_save: the header text, the tensor table and the data, written
 * to a synced temporary file in the same folder and renamed over the target. */
#include "modelfile_format.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "compile_spec.h"
#include "layer_spec.h"
#include "model_spec.h"
#include "sha256.h"

/* Is a class name safe to write unquoted? */
static int needs_quotes(const char *s)
{
    return strpbrk(s, " \t#;'=") != NULL;
}

static enum hk_status check_save_meta(const struct hk_model_meta *meta, struct hk_model *m, struct hk_error *err)
{
    int want = mf_classes_for_output(hk_model_output(m), hk_model_count(m));
    if (meta->class_count < 0 || (meta->class_count > 0 && !meta->class_names))
        return hk_fail(err, HK_EINVAL, "class list is malformed");
    if (meta->class_count == 1 || (meta->class_count > 0 && want && meta->class_count != want))
        return hk_fail(err, HK_EINVAL, "the model's output (%zu values) needs %d class names, but %d are given",
                       hk_shape_size(hk_model_output(m)), want ? want : 2, meta->class_count);
    for (int i = 0; i < meta->class_count; i++) {
        enum hk_status st = mf_check_class_name(meta->class_names[i], err);
        if (st != HK_OK)
            return st;
    }
    if (!(meta->threshold >= 0 && meta->threshold < 1))
        return hk_fail(err, HK_EINVAL, "threshold must be between 0 and 1, got %g", (double)meta->threshold);
    if (!isfinite(meta->rescale) || meta->rescale < 0)
        return hk_fail(err, HK_EINVAL, "rescale must be a positive number, got %g", (double)meta->rescale);
    if (meta->script && !mf_str_utf8(meta->script))
        return hk_fail(err, HK_EINVAL, "the script is not valid UTF-8");
    if (meta->data_sha256) {
        enum hk_status st = mf_check_meta_value("data_sha256", meta->data_sha256, err);
        if (st != HK_OK)
            return st;
    }
    for (int i = 0; i < meta->extra_count; i++) {
        const char *key = meta->extra[i].key;
        if (!key || !meta->extra[i].value || !mf_valid_key(key, strlen(key)))
            return hk_fail(err, HK_EINVAL, "meta key '%s' must be 1 to 64 letters, digits, '_', '.' or '-'",
                           key ? key : "(null)");
        if (strcmp(key, "data_sha256") == 0)
            return hk_fail(err, HK_EINVAL, "meta key 'data_sha256' is set through data_sha256");
        for (int j = 0; j < i; j++)
            if (strcmp(meta->extra[j].key, key) == 0)
                return hk_fail(err, HK_EINVAL, "meta key '%s' is given twice", key);
        char what[96];
        snprintf(what, sizeof what, "the value of meta key '%s'", key);
        enum hk_status st = mf_check_meta_value(what, meta->extra[i].value, err);
        if (st != HK_OK)
            return st;
    }
    return HK_OK;
}

/* The header text of m and meta. */
static void build_header(struct mf_buf *h, struct hk_model *m, const struct hk_model_meta *meta, unsigned state)
{
    char line[512];
    struct hk_shape in = hk_model_input(m);
    mf_buf_printf(h, "husky %s\n", HK_VERSION);
    struct hk_model_spec ms = {in, hk_model_seed(m), 1};
    hk_model_spec_format(&ms, line, sizeof line);
    mf_buf_printf(h, "%s\n", line);
    int named = mf_model_named(m);
    for (int i = 0; i < hk_model_count(m); i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        struct hk_layer_spec spec = l->spec;
        if (named)
            memcpy(spec.name, l->name, sizeof spec.name);
        hk_layer_spec_format(&spec, line, sizeof line);
        mf_buf_str(h, line);
        mf_buf_str(h, "\n");
    }
    for (int i = 0, j; i < hk_model_count(m); i = j) { /* runs of frozen layers */
        for (j = i + 1; j < hk_model_count(m) && hk_model_layer(m, j)->frozen == hk_model_layer(m, i)->frozen;)
            j++;
        if (!hk_model_layer(m, i)->frozen)
            continue;
        if (j - 1 > i)
            mf_buf_printf(h, "model freeze %s..%s\n", hk_model_layer(m, i)->name, hk_model_layer(m, j - 1)->name);
        else
            mf_buf_printf(h, "model freeze %s\n", hk_model_layer(m, i)->name);
    }
    struct hk_optim opt;
    enum hk_loss loss;
    if (hk_model_compiled(m, &opt, &loss)) {
        hk_compile_format(&opt, loss, line, sizeof line);
        mf_buf_str(h, line);
        mf_buf_str(h, "\n");
    }
    for (int i = 0; i < meta->class_count; i++) {
        const char *name = meta->class_names[i];
        mf_buf_str(h, i % MF_CLASSES_PER_LINE ? " " : "classes ");
        if (needs_quotes(name)) {
            mf_buf_str(h, "\"");
            mf_buf_str(h, name);
            mf_buf_str(h, "\"");
        } else {
            mf_buf_str(h, name);
        }
        if (i % MF_CLASSES_PER_LINE == MF_CLASSES_PER_LINE - 1 || i == meta->class_count - 1)
            mf_buf_str(h, "\n");
    }
    hk_format_float(line, sizeof line, meta->rescale > 0 ? meta->rescale : 1.0f); /* 0: zeroed meta, none */
    mf_buf_printf(h, "rescale %s\n", line);
    if (meta->threshold > 0 && meta->threshold != 0.5f) {
        hk_format_float(line, sizeof line, meta->threshold);
        mf_buf_printf(h, "threshold %s\n", line);
    }
    if (meta->data_sha256) {
        mf_buf_str(h, "meta data_sha256 ");
        mf_buf_str(h, meta->data_sha256);
        mf_buf_str(h, "\n");
    }
    for (int i = 0; i < meta->extra_count; i++) {
        mf_buf_printf(h, "meta %s ", meta->extra[i].key);
        mf_buf_str(h, meta->extra[i].value);
        mf_buf_str(h, "\n");
    }
    if (meta->script) {
        /* each piece between newlines becomes one raw "script" line; join with '\n' to read back */
        const char *p = meta->script;
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            mf_buf_str(h, "script ");
            mf_buf_add(h, p, len);
            mf_buf_str(h, "\n");
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    if (state & HK_MODELFILE_STATE_OPTIMIZER)
        mf_buf_printf(h, "optimizer_step %llu\n", (unsigned long long)hk_model_optim_step(m));
}

/* Output to the temporary file, hashed on the way; the first error's errno is kept. */
struct out {
    FILE *f;
    struct hk_sha256 sha;
    int err_no;
};

static void out_put(struct out *o, const void *p, size_t n)
{
    if (o->err_no || !n)
        return;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n)
        o->err_no = errno ? errno : EIO;
    hk_sha256_update(&o->sha, p, n);
}

/* n floats as little-endian float32. */
static void out_floats(struct out *o, const float *x, uint64_t n)
{
    unsigned char chunk[4096 * 4];
    while (n && !o->err_no) {
        size_t k = n < 4096 ? (size_t)n : 4096;
        for (size_t i = 0; i < k; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            mf_put_u32(chunk + 4 * i, u);
        }
        out_put(o, chunk, 4 * k);
        x += k;
        n -= k;
    }
}

enum hk_status hk_modelfile_save(const char *path, struct hk_model *m, const struct hk_model_meta *meta,
                                 unsigned state, struct hk_error *err)
{
    return hk_modelfile_save_hashed(path, m, meta, state, NULL, err);
}

enum hk_status hk_modelfile_save_hashed(const char *path, struct hk_model *m, const struct hk_model_meta *meta,
                                        unsigned state, unsigned char file_sha256[HK_SHA256_BYTES],
                                        struct hk_error *err)
{
    struct hk_model_meta none;
    if (!meta) {
        hk_model_meta_init(&none);
        meta = &none;
    }
    const unsigned known = HK_MODELFILE_STATE_OPTIMIZER | HK_MODELFILE_STATE_TRAINING;
    if (state & ~known)
        return hk_fail(err, HK_EINVAL, "unknown training-state sections 0x%x", state & ~known);
    if ((state & HK_MODELFILE_STATE_TRAINING) && (!(state & HK_MODELFILE_STATE_OPTIMIZER) || !meta->training))
        return hk_fail(err, HK_EINVAL, "the training state needs the optimizer state and meta->training");
    const struct hk_train_state *train = state & HK_MODELFILE_STATE_TRAINING ? meta->training : NULL;
    if (train && (train->class_count < 2 || train->class_count > HK_TRAIN_MAX_CLASSES || !train->images ||
                  train->nepochs > HK_TRAIN_STATE_MAX_EPOCHS || train->nbatches > HK_TRAIN_STATE_MAX_BATCHES))
        return hk_fail(err, HK_EINVAL, "the training state cannot be saved: %d classes, %zu pictures, %zu epochs, "
                       "%zu batches", train->class_count, train->images, train->nepochs, train->nbatches);
    if ((state & HK_MODELFILE_STATE_OPTIMIZER) && !hk_model_compiled(m, NULL, NULL))
        return hk_fail(err, HK_EINVAL, "the model is not compiled, so it has no optimizer state to save");
    enum hk_status st = check_save_meta(meta, m, err);
    if (st != HK_OK)
        return st;

    /* the tensors, named as a replay of the header will name the layers */
    struct mf_tensor *t = malloc(MF_MAX_TENSORS_WANTED * sizeof *t);
    if (!t)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    int nt = 0, serial[HK_LAYER_NAME_SLOTS] = {0}, named = mf_model_named(m);
    for (int i = 0; i < hk_model_count(m) && st == HK_OK; i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        char lname[32];
        if (named)
            memcpy(lname, l->name, sizeof lname);
        else
            hk_layer_auto_name(lname, &l->spec, serial, NULL, 0);
        st = mf_layer_tensors(l, i, lname, t, &nt, err);
    }
    if (st == HK_OK && (state & HK_MODELFILE_STATE_OPTIMIZER))
        st = mf_optim_tensors(hk_model_param_count(m), t, &nt, err);
    if (st == HK_OK && train)
        st = mf_history_tensors(train->nbatches, t, &nt, err);
    if (st != HK_OK) {
        free(t);
        return st;
    }

    struct mf_buf head = {0}, table = {0};
    build_header(&head, m, meta, state);
    if (train)
        mf_train_header(&head, train);
    uint64_t offset = 0;
    mf_buf_int(&table, (uint64_t)nt, 4);
    for (int i = 0; i < nt; i++) {
        size_t len = strlen(t[i].name);
        mf_buf_int(&table, len, 2);
        mf_buf_add(&table, t[i].name, len);
        mf_buf_int(&table, t[i].rank, 4);
        for (uint32_t d = 0; d < t[i].rank; d++)
            mf_buf_int(&table, t[i].dims[d], 4);
        mf_buf_int(&table, offset, 8);
        mf_buf_int(&table, t[i].count * 4, 8);
        offset += t[i].count * 4;
    }
    if (head.oom || table.oom) {
        st = hk_fail(err, HK_ENOMEM, "out of memory writing the header of '%s'", path);
        goto done;
    }
    if (head.n > HK_MODELFILE_MAX_HEADER) {
        st = hk_fail(err, HK_EINVAL,
                     "the header of '%s' would be %zu bytes (the script, the class names or the training "
                     "history are too long); the limit is %lu",
                     path, head.n, (unsigned long)HK_MODELFILE_MAX_HEADER);
        goto done;
    }

    struct hk_atomic_file file;
    char ebuf[128];
    int e = hk_atomic_open(&file, path);
    if (e) {
        st = hk_fail(err, HK_EIO, "cannot save model file '%s': %s", path, hk_atomic_strerror(e, ebuf, sizeof ebuf));
        goto done;
    }
    struct out o = {.f = file.f};
    unsigned char prefix[MF_PREFIX_BYTES];
    memcpy(prefix, MF_MAGIC, 8);
    mf_put_u32(prefix + 8, HK_MODELFILE_VERSION);
    mf_put_u32(prefix + 12, (uint32_t)head.n);
    hk_sha256_init(&o.sha);
    out_put(&o, prefix, sizeof prefix);
    out_put(&o, head.p, head.n);
    out_put(&o, table.p, table.n);
    for (int i = 0; i < nt; i++)
        out_floats(&o, mf_tensor_data(m, train ? train->batch_losses : NULL, &t[i]), t[i].count);
    unsigned char digest[HK_SHA256_BYTES];
    struct hk_sha256 whole = o.sha; /* the whole file's hash goes on over the stored one */
    hk_sha256_final(&o.sha, digest);
    if (!o.err_no && fwrite(digest, 1, sizeof digest, o.f) != sizeof digest)
        o.err_no = errno ? errno : EIO;
    hk_sha256_update(&whole, digest, sizeof digest);
    if (file_sha256)
        hk_sha256_final(&whole, file_sha256);
    if (o.err_no)
        hk_atomic_abort(&file);
    else
        o.err_no = hk_atomic_commit(&file);
    if (o.err_no)
        st = hk_fail(err, HK_EIO, "cannot save model file '%s': %s (any existing file is unchanged)", path,
                     hk_atomic_strerror(o.err_no, ebuf, sizeof ebuf));
done:
    free(head.p);
    free(table.p);
    free(t);
    return st;
}
