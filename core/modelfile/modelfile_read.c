/* modelfile_read.c: hk_modelfile_load, _verify and _info: open and hash the file, then check it
 * piece by piece (prefix, header, table) before the model is allocated and the weights copied in. */
#include "modelfile_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

/* Open path for reading and check that it is a regular file of a plausible size. Opened without
 * blocking, so that a FIFO or device in its place is refused instead of waited on. */
static enum hk_status open_model(const char *path, FILE **f, uint64_t *size, struct hk_error *err)
{
    *f = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return hk_fail(err, HK_EIO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hk_fail(err, HK_EIO, "model file '%s' is %s", path,
                       S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 || !(*f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, strerror(e));
    }
    *size = (uint64_t)st.st_size;
    enum hk_status s = HK_OK;
    if (*size < MF_MIN_FILE_BYTES)
        s = mf_fail_file(err, HK_EFORMAT, path, "only %llu bytes long; a husky model file has at least %u (it is "
                                             "truncated or not a model file)",
                      (unsigned long long)*size, MF_MIN_FILE_BYTES);
    else if (*size > HK_MODELFILE_MAX_BYTES || *size > SIZE_MAX)
        s = mf_fail_file(err, HK_ENOMEM, path, "%llu bytes long; the limit is %llu", (unsigned long long)*size,
                      (unsigned long long)HK_MODELFILE_MAX_BYTES);
    if (s != HK_OK) {
        fclose(*f);
        *f = NULL;
    }
    return s;
}

/* After hashing: check a pin against the whole-file hash, then the stored hash, and say which
 * went wrong. head is the file's first bytes (at least 8). */
static enum hk_status check_hashes(const char *path, const unsigned char *head, const unsigned char stored[32],
                                   const unsigned char computed[32], const unsigned char whole[32],
                                   const char *pin, struct hk_error *err)
{
    char a[65], b[65];
    if (pin) {
        unsigned char want[32];
        if (!hk_sha256_parse_hex(pin, want))
            return hk_fail(err, HK_EINVAL, "expected SHA-256 '%.80s' is not 64 hex digits", pin);
        if (memcmp(want, whole, 32) != 0) {
            hk_sha256_hex(whole, a);
            hk_sha256_hex(want, b);
            return mf_fail_file(err, HK_EFORMAT, path, "SHA-256 is %s, not the expected %s; refusing to load it", a, b);
        }
    }
    if (memcmp(stored, computed, 32) != 0) {
        if (memcmp(head, MF_MAGIC, 8) != 0)
            return mf_fail_file(err, HK_EFORMAT, path,
                             "does not start with HUSKYMDL: it is not a husky model file, or it is damaged");
        hk_sha256_hex(stored, a);
        hk_sha256_hex(computed, b);
        return hk_fail(err, HK_EFORMAT, "model file '%s' is damaged or was changed: SHA-256 mismatch (stored %s, "
                                        "computed %s)",
                       path, a, b);
    }
    return HK_OK;
}

/* Magic, format version and header length (once the hash is known to be right, or for info). */
static enum hk_status check_prefix(const char *path, const unsigned char *p, uint64_t size, uint32_t *hlen,
                                   struct hk_error *err)
{
    char ex[40];
    if (memcmp(p, MF_MAGIC, 8) != 0)
        return mf_fail_file(err, HK_EFORMAT, path, "offset 0: expected the magic HUSKYMDL, found '%s'; this is not a "
                                                "husky model file",
                         mf_excerpt(p, 8, ex, sizeof ex));
    uint32_t version = mf_get_u32(p + 8);
    if (version != HK_MODELFILE_VERSION)
        return mf_fail_file(err, HK_EFORMAT, path,
                         "offset 8: format version %lu; this husky reads version %d (a newer husky wrote it?)",
                         (unsigned long)version, HK_MODELFILE_VERSION);
    *hlen = mf_get_u32(p + 12);
    if (*hlen > HK_MODELFILE_MAX_HEADER)
        return mf_fail_file(err, HK_EFORMAT, path, "offset 12: header length %lu; the limit is %lu",
                         (unsigned long)*hlen, (unsigned long)HK_MODELFILE_MAX_HEADER);
    if ((uint64_t)*hlen > size - MF_MIN_FILE_BYTES)
        return mf_fail_file(err, HK_EFORMAT, path,
                         "offset 12: header length %lu runs past the end of the file (%llu bytes)",
                         (unsigned long)*hlen, (unsigned long long)size);
    return HK_OK;
}

/* Read all of an open file of `size` bytes into memory (owned). */
static enum hk_status read_all(const char *path, FILE *f, uint64_t size, unsigned char **data, struct hk_error *err)
{
    *data = malloc((size_t)size);
    if (!*data)
        return hk_fail(err, HK_ENOMEM, "out of memory reading model file '%s' (%llu bytes)", path,
                       (unsigned long long)size);
    size_t got = fread(*data, 1, (size_t)size, f);
    if (got != size || ferror(f) || fgetc(f) != EOF) {
        int e = ferror(f) ? errno : 0;
        free(*data);
        *data = NULL;
        if (e)
            return hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, strerror(e));
        return mf_fail_file(err, HK_EFORMAT, path, "changed size while it was read (%llu bytes expected)",
                         (unsigned long long)size);
    }
    return HK_OK;
}

enum hk_status hk_modelfile_verify(const char *path, char sha256_hex[65], struct hk_error *err)
{
    if (sha256_hex)
        sha256_hex[0] = '\0';
    FILE *f;
    uint64_t size;
    enum hk_status st = open_model(path, &f, &size, err);
    if (st != HK_OK)
        return st;
    uint64_t body = size - 32, pos = 0;
    unsigned char head[MF_PREFIX_BYTES], stored[32];
    struct hk_sha256 sha;
    hk_sha256_init(&sha);
    enum { CHUNK = 1 << 20 };
    unsigned char *chunk = malloc(CHUNK);
    if (!chunk) {
        fclose(f);
        return hk_fail(err, HK_ENOMEM, "out of memory");
    }
    while (pos < size) {
        size_t want = size - pos < CHUNK ? (size_t)(size - pos) : CHUNK;
        size_t got = fread(chunk, 1, want, f);
        if (got != want) {
            int e = ferror(f) ? errno : 0;
            free(chunk);
            fclose(f);
            return e ? hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, strerror(e))
                     : mf_fail_file(err, HK_EFORMAT, path, "changed size while it was read (%llu bytes expected)",
                                 (unsigned long long)size);
        }
        for (size_t i = 0; i < got && pos + i < MF_PREFIX_BYTES; i++)
            head[pos + i] = chunk[i];
        size_t in_body = pos < body ? (size_t)(body - pos < got ? body - pos : got) : 0;
        hk_sha256_update(&sha, chunk, in_body);
        for (size_t i = in_body; i < got; i++)
            stored[pos + i - body] = chunk[i];
        pos += got;
    }
    free(chunk);
    fclose(f);
    unsigned char computed[32], whole[32];
    struct hk_sha256 all = sha;
    hk_sha256_final(&sha, computed);
    hk_sha256_update(&all, stored, 32);
    hk_sha256_final(&all, whole);
    if (sha256_hex)
        hk_sha256_hex(whole, sha256_hex);
    st = check_hashes(path, head, stored, computed, whole, NULL, err);
    uint32_t hlen;
    if (st == HK_OK)
        st = check_prefix(path, head, size, &hlen, err);
    return st;
}

/* Turn a plan into the load/info metadata (moves the plan's owned strings). */
static void plan_to_meta(struct mf_plan *p, const struct mf_counts *counts, struct hk_model_meta *meta)
{
    *meta = p->meta;
    hk_model_meta_init(&p->meta);
    meta->seed = p->seed;
    meta->input = p->input;
    meta->layer_count = p->nlayers;
    meta->param_count = counts->params;
    meta->trainable_count = counts->trainable;
    meta->non_trainable_count = counts->non_trainable;
    meta->compiled = p->compile_line != 0;
    if (meta->compiled) {
        meta->optim = p->optim;
        meta->loss = p->loss;
    }
    meta->state = p->step_line ? HK_MODELFILE_STATE_OPTIMIZER : 0;
    meta->optimizer_step = p->step;
    if (p->train)
        meta->state |= HK_MODELFILE_STATE_TRAINING;
    meta->training = p->train;
    p->train = NULL;
}

/* Classes in the header must fit the model's output. */
static enum hk_status check_classes(const char *path, const struct mf_plan *p, struct hk_shape out, struct hk_error *err)
{
    int want = mf_classes_for_output(out, p->nlayers);
    int have = p->meta.class_count;
    if (have == 1 || (have > 0 && want && have != want))
        return mf_fail_file(err, HK_EFORMAT, path, "the header names %d classes, but the model's output needs %d", have,
                         want ? want : 2);
    return HK_OK;
}

enum hk_status hk_modelfile_info(const char *path, struct hk_model_meta *meta, char **header_text,
                                 struct hk_error *err)
{
    hk_model_meta_free(meta);
    if (header_text)
        *header_text = NULL;
    FILE *f;
    uint64_t size;
    enum hk_status st = open_model(path, &f, &size, err);
    if (st != HK_OK)
        return st;
    unsigned char head[MF_PREFIX_BYTES];
    uint32_t hlen = 0;
    unsigned char *text = NULL;
    if (fread(head, 1, sizeof head, f) != sizeof head)
        st = hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, ferror(f) ? strerror(errno) : "short read");
    if (st == HK_OK)
        st = check_prefix(path, head, size, &hlen, err);
    if (st == HK_OK && !(text = malloc(hlen + 1u)))
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    if (st == HK_OK && fread(text, 1, hlen, f) != hlen)
        st = hk_fail(err, HK_EIO, "cannot read model file '%s': %s", path, ferror(f) ? strerror(errno) : "short read");
    fclose(f);
    struct mf_plan *p = NULL;
    struct mf_tensor *t = NULL;
    if (st == HK_OK)
        st = mf_parse_header(path, text, hlen, &p, err);
    struct mf_counts counts = {0, 0, 0};
    int nt = 0;
    if (st == HK_OK && !(t = malloc(MF_MAX_TENSORS_WANTED * sizeof *t)))
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    struct hk_shape output;
    if (st == HK_OK)
        st = mf_dry_run(path, p, t, &nt, &counts, &output, err);
    if (st == HK_OK)
        st = check_classes(path, p, output, err);
    if (st == HK_OK) {
        plan_to_meta(p, &counts, meta);
        if (header_text) {
            text[hlen] = '\0';
            *header_text = (char *)text;
            text = NULL;
        }
    }
    free(t);
    free(text);
    mf_plan_free(p);
    return st;
}

/* Rebuild the model the plan describes (its shapes already checked by mf_dry_run). */
static enum hk_status build_model(const char *path, const struct mf_plan *p, const struct mf_tensor *want, int nwant,
                                  struct hk_model **out, struct hk_error *err)
{
    struct hk_error e;
    struct mf_where w = {path, p->model_line, p->model_off};
    struct hk_model *m = hk_model_new(p->input, p->seed, &e);
    if (!m)
        return mf_fail_line(err, e.status == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, &w, "%s", e.msg);
    for (int i = 0; i < p->nlayers; i++) {
        w.line = p->spec_line[i];
        w.offset = p->spec_off[i];
        if (hk_model_insert(m, i, &p->specs[i], NULL, &e) != HK_OK) {
            hk_model_free(m);
            return mf_fail_line(err, e.status == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, &w, "%s", e.msg);
        }
    }
    /* the model must agree with the dry run that the table was checked against */
    size_t total = 0;
    for (int i = 0; i < nwant; i++) {
        if (want[i].part == MF_PART_BATCH_LOSS)
            continue;
        const struct hk_layer *l = want[i].layer >= 0 ? hk_model_layer(m, want[i].layer) : NULL;
        size_t have = !l                                ? hk_model_param_count(m)
                      : want[i].part == MF_PART_KERNEL ? l->wcount
                      : want[i].part == MF_PART_BIAS   ? l->bcount
                      : want[i].first + want[i].count <= l->scount ? (size_t)want[i].count
                                                                   : l->scount;
        if (want[i].layer >= 0 && want[i].part != MF_PART_STATE)
            total += want[i].count;
        if (have != want[i].count) {
            hk_model_free(m);
            return mf_fail_file(err, HK_EFORMAT, path, "tensor '%s': the rebuilt model has %zu values, expected %llu",
                             want[i].name, have, (unsigned long long)want[i].count);
        }
    }
    if (total != hk_model_param_count(m)) {
        hk_model_free(m);
        return mf_fail_file(err, HK_EFORMAT, path, "the rebuilt model has %zu parameters, the tensors hold %zu",
                         hk_model_param_count(m), total);
    }
    for (int k = 0; k < p->nfreeze; k++) {
        int from, to;
        w.line = p->freeze_line[k];
        w.offset = p->freeze_off[k];
        if (hk_model_find_range(m, p->freeze[k], &from, &to, &e) != HK_OK) {
            hk_model_free(m);
            return mf_fail_line(err, HK_EFORMAT, &w, "model freeze: %s", e.msg);
        }
        hk_model_set_frozen(m, from, to, 1);
    }
    if (p->compile_line) {
        w.line = p->compile_line;
        w.offset = p->compile_off;
        if (hk_model_compile(m, &p->optim, p->loss, &e) != HK_OK) {
            hk_model_free(m);
            return mf_fail_line(err, HK_EFORMAT, &w, "compile: %s", e.msg);
        }
    }
    *out = m;
    return HK_OK;
}

/* A model file read into memory and checked from its hash to its tensor table. */
struct checked {
    unsigned char *file;     /* the whole file (owned) */
    uint64_t size;
    char sha256_hex[65];     /* of the whole file */
    struct mf_plan *plan;    /* the header (owned) */
    struct mf_tensor *want;  /* the tensors, in file order (owned) */
    int nwant;
    struct mf_counts counts; /* parameters */
    size_t data_at;          /* file offset of the data section */
};

static void checked_free(struct checked *c)
{
    free(c->file);
    mf_plan_free(c->plan);
    free(c->want);
    memset(c, 0, sizeof *c);
}

/* Read path and check everything but the model itself: the pin and the stored hash first (nothing
 * else is looked at before they agree), the prefix, the header and its dry run, the classes and
 * the table. On failure c is empty. */
static enum hk_status read_checked(const char *path, const char *pin, struct checked *c, struct hk_error *err)
{
    memset(c, 0, sizeof *c);
    FILE *f;
    enum hk_status st = open_model(path, &f, &c->size, err);
    if (st != HK_OK)
        return st;
    st = read_all(path, f, c->size, &c->file, err);
    fclose(f);
    if (st != HK_OK)
        return st;
    size_t body = (size_t)c->size - 32;
    unsigned char computed[32], whole[32];
    struct hk_sha256 sha, all;
    hk_sha256_init(&sha);
    hk_sha256_update(&sha, c->file, body);
    all = sha;
    hk_sha256_final(&sha, computed);
    hk_sha256_update(&all, c->file + body, 32);
    hk_sha256_final(&all, whole);
    hk_sha256_hex(whole, c->sha256_hex);
    st = check_hashes(path, c->file, c->file + body, computed, whole, pin, err);
    uint32_t hlen = 0;
    if (st == HK_OK)
        st = check_prefix(path, c->file, c->size, &hlen, err);
    if (st == HK_OK)
        st = mf_parse_header(path, c->file + MF_PREFIX_BYTES, hlen, &c->plan, err);
    if (st == HK_OK && !(c->want = malloc(MF_MAX_TENSORS_WANTED * sizeof *c->want)))
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    struct hk_shape output;
    if (st == HK_OK)
        st = mf_dry_run(path, c->plan, c->want, &c->nwant, &c->counts, &output, err);
    if (st == HK_OK)
        st = check_classes(path, c->plan, output, err);
    if (st == HK_OK)
        st = mf_read_table(path, c->file, MF_PREFIX_BYTES + hlen, body, c->want, c->nwant, &c->data_at, err);
    if (st != HK_OK)
        checked_free(c);
    return st;
}

enum hk_status hk_modelfile_load(const char *path, const char *expect_sha256_hex, struct hk_model **out,
                                 struct hk_model_meta *meta, struct hk_error *err)
{
    *out = NULL;
    if (meta)
        hk_model_meta_free(meta);
    struct checked c;
    enum hk_status st = read_checked(path, expect_sha256_hex, &c, err);
    if (st != HK_OK)
        return st;
    struct mf_plan *p = c.plan;
    struct hk_model *m = NULL;
    /* only now, with every tensor known to be in the file, is the model allocated */
    st = build_model(path, p, c.want, c.nwant, &m, err);
    if (st == HK_OK && p->train && p->train->nbatches &&
        !(p->train->batch_losses = malloc(p->train->nbatches * sizeof *p->train->batch_losses)))
        st = hk_fail(err, HK_ENOMEM, "out of memory for the history of '%s'", path);
    if (st == HK_OK) {
        const unsigned char *src = c.file + c.data_at;
        for (int i = 0; i < c.nwant; i++) {
            float *dst = mf_tensor_data(m, p->train ? p->train->batch_losses : NULL, &c.want[i]);
            for (uint64_t k = 0; k < c.want[i].count; k++, src += 4) {
                uint32_t u = mf_get_u32(src);
                memcpy(&dst[k], &u, 4);
            }
        }
        if (p->step_line) {
            uint64_t *step;
            hk_model_optim_state(m, NULL, NULL, &step);
            *step = p->step;
        }
        if (meta)
            plan_to_meta(p, &c.counts, meta);
        *out = m;
        m = NULL;
    }
    hk_model_free(m);
    checked_free(&c);
    return st;
}

enum hk_status hk_modelfile_check(const char *path, struct hk_modelfile_report *report, struct hk_error *err)
{
    memset(report, 0, sizeof *report);
    struct checked c;
    enum hk_status st = read_checked(path, NULL, &c, err);
    if (st != HK_OK)
        return st;
    struct hk_sha256 sha;
    hk_sha256_init(&sha);
    const unsigned char *src = c.file + c.data_at;
    for (int i = 0; i < c.nwant; i++) {
        size_t bytes = (size_t)c.want[i].count * 4;
        if (c.want[i].part == MF_PART_KERNEL || c.want[i].part == MF_PART_BIAS || c.want[i].part == MF_PART_STATE)
            hk_sha256_update(&sha, src, bytes);
        src += bytes;
    }
    unsigned char digest[HK_SHA256_BYTES];
    hk_sha256_final(&sha, digest);
    hk_sha256_hex(digest, report->weights_sha256);
    memcpy(report->file_sha256, c.sha256_hex, sizeof report->file_sha256);
    report->bytes = c.size;
    report->tensors = c.nwant;
    report->param_count = c.counts.params;
    report->trainable_count = c.counts.trainable;
    report->non_trainable_count = c.counts.non_trainable;
    report->layer_count = c.plan->nlayers;
    report->state = (c.plan->step_line ? HK_MODELFILE_STATE_OPTIMIZER : 0u) |
                    (c.plan->train ? HK_MODELFILE_STATE_TRAINING : 0u);
    checked_free(&c);
    return HK_OK;
}
