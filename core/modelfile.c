/* modelfile.c: writing and reading .hkm model files (layout in modelfile.h). Saving goes through a
 * synced temporary file and a rename; loading checks the hash first, then every count, offset and
 * shape against the replayed architecture before anything large is allocated. */
#include "modelfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile_spec.h"
#include "layer_spec.h"
#include "lexer.h"
#include "sha256.h"

#define MAGIC "HUSKYMDL"
#define PREFIX_BYTES 16u                        /* magic, version, header length */
#define MIN_FILE_BYTES (PREFIX_BYTES + 4 + 32)  /* empty header, no tensors */
#define MAX_OUTPUT_VALUES ((size_t)1 << 26)     /* per-layer output limit, as hk_model_insert's */
#define MAX_TENSORS_WANTED (2 * HK_MODEL_MAX_LAYERS + 2)
#define CLASSES_PER_LINE 32                     /* the lexer takes 64 words per line */

/* ---- small helpers ---------------------------------------------------------------------- */

/* err = "model file 'path': <fmt>" */
static enum hk_status fail_file(struct hk_error *err, enum hk_status st, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum hk_status fail_file(struct hk_error *err, enum hk_status st, const char *path, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return hk_fail(err, st, "model file '%s': %s", path, what);
}

/* A printable excerpt of n bytes of text for messages: non-printable bytes become '?', long
 * text is cut with "...". */
static const char *excerpt(const void *text, size_t n, char *buf, size_t cap)
{
    const unsigned char *s = text;
    size_t max = cap - 4, i;
    for (i = 0; i < n && i < max; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    if (i < n)
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A growable byte buffer; after an allocation failure `oom` is set and adds are ignored. */
struct buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0'; /* text stays terminated */
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_int(struct buf *b, uint64_t v, int bytes)
{
    unsigned char le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    buf_add(b, le, (size_t)bytes);
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->oom = 1; /* only short fixed-format pieces go through here */
    else
        buf_add(b, tmp, (size_t)n);
}

/* 1 when s[0..n) is well-formed UTF-8; else 0 and *bad is the offset of the first bad byte. */
static int utf8_valid(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = i;
            return 0;
        }
        if (n - i < len) {
            *bad = i;
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *bad = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

static int str_utf8(const char *s)
{
    size_t bad;
    return utf8_valid((const unsigned char *)s, strlen(s), &bad);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* a * b into *r; 0 on overflow of 64 bits */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    if (b && a > UINT64_MAX / b)
        return 0;
    *r = a * b;
    return 1;
}

/* ---- metadata --------------------------------------------------------------------------- */

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
    hk_model_meta_init(meta);
}

static enum hk_status check_class_name(const char *name, struct hk_error *err)
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
    if (!str_utf8(name))
        return hk_fail(err, HK_EINVAL, "class name '%s' is not valid UTF-8; rename the folder", name);
    return HK_OK;
}

static int valid_key(const char *key, size_t len)
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

static enum hk_status check_meta_value(const char *what, const char *value, struct hk_error *err)
{
    if (strpbrk(value, "\n\r"))
        return hk_fail(err, HK_EINVAL, "%s contains a line break", what);
    if (!str_utf8(value))
        return hk_fail(err, HK_EINVAL, "%s is not valid UTF-8", what);
    return HK_OK;
}

enum hk_status hk_model_meta_set_classes(struct hk_model_meta *meta, const char *const *names, int count,
                                         struct hk_error *err)
{
    if (count < 0)
        return hk_fail(err, HK_EINVAL, "class count %d is negative", count);
    for (int i = 0; i < count; i++) {
        enum hk_status st = check_class_name(names[i], err);
        if (st != HK_OK)
            return st;
    }
    char **copy = calloc(count ? (size_t)count : 1, sizeof *copy);
    if (!copy)
        return hk_fail(err, HK_ENOMEM, "out of memory for %d class names", count);
    for (int i = 0; i < count; i++)
        if (!(copy[i] = dup_str(names[i]))) {
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
    if (!valid_key(key, strlen(key)))
        return hk_fail(err, HK_EINVAL, "meta key '%s' must be 1 to 64 letters, digits, '_', '.' or '-'", key);
    char what[96];
    snprintf(what, sizeof what, "the value of meta key '%s'", key);
    enum hk_status st = check_meta_value(what, value, err);
    if (st != HK_OK)
        return st;
    char *v = dup_str(value);
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
    char *k = dup_str(key);
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
static int classes_for_output(struct hk_shape out, int layers)
{
    if (!layers)
        return 0;
    size_t n = hk_shape_size(out);
    return n == 1 ? 2 : n > (size_t)INT32_MAX ? 0 : (int)n;
}

/* ---- tensors ---------------------------------------------------------------------------- */

enum part { PART_KERNEL, PART_BIAS, PART_OPT_M, PART_OPT_V };

/* One tensor the file holds (or must hold). */
struct tensor {
    char name[HK_MODELFILE_MAX_NAME + 1];
    uint32_t rank;
    uint32_t dims[4];
    uint64_t count; /* floats */
    int layer;      /* index, for kernel and bias */
    enum part part;
};

/* The Keras-style name a layer gets when the model is built in order (conv2d, conv2d_1, ...). */
static void canon_name(char name[32], enum hk_layer_kind kind, int serial[HK_LAYER_KIND_COUNT])
{
    const char *base = hk_layer_ops_of(kind)->keras_name;
    if (serial[kind])
        snprintf(name, 32, "%.20s_%d", base, serial[kind]);
    else
        snprintf(name, 32, "%.20s", base);
    serial[kind]++;
}

static enum hk_status add_tensor(struct tensor *t, int *nt, const char *lname, const char *suffix, int layer,
                                 enum part part, uint32_t rank, const uint64_t *dims, uint64_t count,
                                 struct hk_error *err)
{
    struct tensor *x = &t[(*nt)++];
    snprintf(x->name, sizeof x->name, "%.32s%s", lname, suffix);
    x->rank = rank;
    x->layer = layer;
    x->part = part;
    x->count = count;
    uint64_t prod = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > UINT32_MAX || !mul_u64(prod, dims[i], &prod))
            return hk_fail(err, HK_ENOMEM, "%s is too large to store", x->name);
        x->dims[i] = (uint32_t)dims[i];
    }
    if (prod != count)
        return hk_fail(err, HK_ENOMEM, "%s: its shape holds %llu values but the layer has %llu", x->name,
                       (unsigned long long)prod, (unsigned long long)count);
    return HK_OK;
}

/* Append the kernel and bias tensors of layer l (named lname) to t. */
static enum hk_status layer_tensors(const struct hk_layer *l, int index, const char *lname, struct tensor *t,
                                    int *nt, struct hk_error *err)
{
    enum hk_status st = HK_OK;
    if (l->wcount) {
        uint64_t dims[4];
        uint32_t rank;
        if (l->spec.kind == HK_LAYER_CONV2D) {
            rank = 4;
            dims[0] = (uint64_t)l->spec.units, dims[1] = (uint64_t)l->in.c;
            dims[2] = (uint64_t)l->spec.kh, dims[3] = (uint64_t)l->spec.kw;
        } else if (l->spec.kind == HK_LAYER_DENSE) {
            rank = 2;
            dims[0] = (uint64_t)l->in.c, dims[1] = (uint64_t)l->spec.units;
        } else {
            rank = 1;
            dims[0] = l->wcount;
        }
        st = add_tensor(t, nt, lname, "/kernel", index, PART_KERNEL, rank, dims, l->wcount, err);
    }
    if (st == HK_OK && l->bcount) {
        uint64_t dims[1] = {l->bcount};
        st = add_tensor(t, nt, lname, "/bias", index, PART_BIAS, 1, dims, l->bcount, err);
    }
    return st;
}

/* The optimizer-state tensors of a model with nparams parameters. */
static enum hk_status optim_tensors(size_t nparams, struct tensor *t, int *nt, struct hk_error *err)
{
    if (!nparams)
        return HK_OK;
    uint64_t dims[1] = {nparams};
    enum hk_status st = add_tensor(t, nt, "optimizer", "/m", -1, PART_OPT_M, 1, dims, nparams, err);
    if (st == HK_OK)
        st = add_tensor(t, nt, "optimizer", "/v", -1, PART_OPT_V, 1, dims, nparams, err);
    return st;
}

/* Where tensor x lives in model m (borrowed). */
static float *tensor_data(struct hk_model *m, const struct tensor *x)
{
    float *m1, *m2;
    switch (x->part) {
    case PART_KERNEL:
        return hk_model_layer(m, x->layer)->w;
    case PART_BIAS:
        return hk_model_layer(m, x->layer)->b;
    case PART_OPT_M:
        hk_model_optim_state(m, &m1, NULL, NULL);
        return m1;
    case PART_OPT_V:
        hk_model_optim_state(m, NULL, &m2, NULL);
        return m2;
    }
    return NULL;
}

/* ---- saving ----------------------------------------------------------------------------- */

/* Is a class name safe to write unquoted? */
static int needs_quotes(const char *s)
{
    return strpbrk(s, " \t#;'=") != NULL;
}

static enum hk_status check_save_meta(const struct hk_model_meta *meta, struct hk_model *m, struct hk_error *err)
{
    int want = classes_for_output(hk_model_output(m), hk_model_count(m));
    if (meta->class_count < 0 || (meta->class_count > 0 && !meta->class_names))
        return hk_fail(err, HK_EINVAL, "class list is malformed");
    if (meta->class_count == 1 || (meta->class_count > 0 && want && meta->class_count != want))
        return hk_fail(err, HK_EINVAL, "the model's output (%zu values) needs %d class names, but %d are given",
                       hk_shape_size(hk_model_output(m)), want ? want : 2, meta->class_count);
    for (int i = 0; i < meta->class_count; i++) {
        enum hk_status st = check_class_name(meta->class_names[i], err);
        if (st != HK_OK)
            return st;
    }
    if (!isfinite(meta->rescale) || meta->rescale < 0)
        return hk_fail(err, HK_EINVAL, "rescale must be a positive number, got %g", (double)meta->rescale);
    if (meta->script && !str_utf8(meta->script))
        return hk_fail(err, HK_EINVAL, "the script is not valid UTF-8");
    if (meta->data_sha256) {
        enum hk_status st = check_meta_value("data_sha256", meta->data_sha256, err);
        if (st != HK_OK)
            return st;
    }
    for (int i = 0; i < meta->extra_count; i++) {
        const char *key = meta->extra[i].key;
        if (!key || !meta->extra[i].value || !valid_key(key, strlen(key)))
            return hk_fail(err, HK_EINVAL, "meta key '%s' must be 1 to 64 letters, digits, '_', '.' or '-'",
                           key ? key : "(null)");
        if (strcmp(key, "data_sha256") == 0)
            return hk_fail(err, HK_EINVAL, "meta key 'data_sha256' is set through data_sha256");
        for (int j = 0; j < i; j++)
            if (strcmp(meta->extra[j].key, key) == 0)
                return hk_fail(err, HK_EINVAL, "meta key '%s' is given twice", key);
        char what[96];
        snprintf(what, sizeof what, "the value of meta key '%s'", key);
        enum hk_status st = check_meta_value(what, meta->extra[i].value, err);
        if (st != HK_OK)
            return st;
    }
    return HK_OK;
}

/* The header text of m and meta. */
static void build_header(struct buf *h, struct hk_model *m, const struct hk_model_meta *meta, unsigned state)
{
    char line[512];
    struct hk_shape in = hk_model_input(m);
    buf_printf(h, "husky %s\n", HK_VERSION);
    buf_printf(h, "model new input=%dx%dx%d seed=%llu\n", in.h, in.w, in.c,
               (unsigned long long)hk_model_seed(m));
    for (int i = 0; i < hk_model_count(m); i++) {
        hk_layer_spec_format(&hk_model_layer(m, i)->spec, line, sizeof line);
        buf_str(h, line);
        buf_str(h, "\n");
    }
    struct hk_optim opt;
    enum hk_loss loss;
    if (hk_model_compiled(m, &opt, &loss)) {
        hk_compile_format(&opt, loss, line, sizeof line);
        buf_str(h, line);
        buf_str(h, "\n");
    }
    for (int i = 0; i < meta->class_count; i++) {
        const char *name = meta->class_names[i];
        buf_str(h, i % CLASSES_PER_LINE ? " " : "classes ");
        if (needs_quotes(name)) {
            buf_str(h, "\"");
            buf_str(h, name);
            buf_str(h, "\"");
        } else {
            buf_str(h, name);
        }
        if (i % CLASSES_PER_LINE == CLASSES_PER_LINE - 1 || i == meta->class_count - 1)
            buf_str(h, "\n");
    }
    hk_format_float(line, sizeof line, meta->rescale > 0 ? meta->rescale : 1.0f); /* 0: zeroed meta, none */
    buf_printf(h, "rescale %s\n", line);
    if (meta->data_sha256) {
        buf_str(h, "meta data_sha256 ");
        buf_str(h, meta->data_sha256);
        buf_str(h, "\n");
    }
    for (int i = 0; i < meta->extra_count; i++) {
        buf_printf(h, "meta %s ", meta->extra[i].key);
        buf_str(h, meta->extra[i].value);
        buf_str(h, "\n");
    }
    if (meta->script) {
        /* each piece between newlines becomes one raw "script" line; join with '\n' to read back */
        const char *p = meta->script;
        for (;;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            buf_str(h, "script ");
            buf_add(h, p, len);
            buf_str(h, "\n");
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    if (state & HK_MODELFILE_STATE_OPTIMIZER)
        buf_printf(h, "optimizer_step %llu\n", (unsigned long long)hk_model_optim_step(m));
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
            put_u32(chunk + 4 * i, u);
        }
        out_put(o, chunk, 4 * k);
        x += k;
        n -= k;
    }
}

/* The mode a new file gets: that of the file it replaces, else 0666 less the umask. */
static mode_t new_file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return st.st_mode & 0777;
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "Umask:", 6) == 0) {
                mask = (mode_t)strtoul(line + 6, NULL, 8) & 0777;
                break;
            }
        fclose(f);
    }
    return 0666 & ~mask;
}

/* Best effort: make the rename itself durable. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : NULL;
    if (slash && !dir)
        return;
    if (dir) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

enum hk_status hk_modelfile_save(const char *path, struct hk_model *m, const struct hk_model_meta *meta,
                                 unsigned state, struct hk_error *err)
{
    struct hk_model_meta none;
    if (!meta) {
        hk_model_meta_init(&none);
        meta = &none;
    }
    if (state & ~HK_MODELFILE_STATE_OPTIMIZER)
        return hk_fail(err, HK_EINVAL, "unknown training-state sections 0x%x", state & ~HK_MODELFILE_STATE_OPTIMIZER);
    if ((state & HK_MODELFILE_STATE_OPTIMIZER) && !hk_model_compiled(m, NULL, NULL))
        return hk_fail(err, HK_EINVAL, "the model is not compiled, so it has no optimizer state to save");
    enum hk_status st = check_save_meta(meta, m, err);
    if (st != HK_OK)
        return st;

    /* the tensors, named as a replay of the header will name the layers */
    struct tensor *t = malloc(MAX_TENSORS_WANTED * sizeof *t);
    if (!t)
        return hk_fail(err, HK_ENOMEM, "out of memory");
    int nt = 0, serial[HK_LAYER_KIND_COUNT] = {0};
    for (int i = 0; i < hk_model_count(m) && st == HK_OK; i++) {
        const struct hk_layer *l = hk_model_layer(m, i);
        char lname[32];
        canon_name(lname, l->spec.kind, serial);
        st = layer_tensors(l, i, lname, t, &nt, err);
    }
    if (st == HK_OK && (state & HK_MODELFILE_STATE_OPTIMIZER))
        st = optim_tensors(hk_model_param_count(m), t, &nt, err);
    if (st != HK_OK) {
        free(t);
        return st;
    }

    struct buf head = {0}, table = {0};
    build_header(&head, m, meta, state);
    uint64_t offset = 0;
    buf_int(&table, (uint64_t)nt, 4);
    for (int i = 0; i < nt; i++) {
        size_t len = strlen(t[i].name);
        buf_int(&table, len, 2);
        buf_add(&table, t[i].name, len);
        buf_int(&table, t[i].rank, 4);
        for (uint32_t d = 0; d < t[i].rank; d++)
            buf_int(&table, t[i].dims[d], 4);
        buf_int(&table, offset, 8);
        buf_int(&table, t[i].count * 4, 8);
        offset += t[i].count * 4;
    }
    if (head.oom || table.oom) {
        st = hk_fail(err, HK_ENOMEM, "out of memory writing the header of '%s'", path);
        goto done;
    }
    if (head.n > HK_MODELFILE_MAX_HEADER) {
        st = hk_fail(err, HK_EINVAL,
                     "the header of '%s' would be %zu bytes (the script or the class names are too long); the limit "
                     "is %lu",
                     path, head.n, (unsigned long)HK_MODELFILE_MAX_HEADER);
        goto done;
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        st = hk_fail(err, HK_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    mode_t mode = new_file_mode(path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = hk_fail(err, HK_EIO, "cannot save model file '%s': cannot create '%s': %s", path, tmp,
                     strerror(errno));
        free(tmp);
        goto done;
    }
    struct out o = {fdopen(fd, "wb"), {{0}, 0, {0}, 0}, 0};
    if (!o.f) {
        o.err_no = errno;
        close(fd);
    } else {
        unsigned char prefix[PREFIX_BYTES];
        memcpy(prefix, MAGIC, 8);
        put_u32(prefix + 8, HK_MODELFILE_VERSION);
        put_u32(prefix + 12, (uint32_t)head.n);
        hk_sha256_init(&o.sha);
        out_put(&o, prefix, sizeof prefix);
        out_put(&o, head.p, head.n);
        out_put(&o, table.p, table.n);
        for (int i = 0; i < nt; i++)
            out_floats(&o, tensor_data(m, &t[i]), t[i].count);
        unsigned char digest[HK_SHA256_BYTES];
        hk_sha256_final(&o.sha, digest);
        if (!o.err_no && fwrite(digest, 1, sizeof digest, o.f) != sizeof digest)
            o.err_no = errno ? errno : EIO;
        if (!o.err_no && fflush(o.f) != 0)
            o.err_no = errno ? errno : EIO;
        if (!o.err_no && fsync(fileno(o.f)) != 0)
            o.err_no = errno ? errno : EIO;
        if (!o.err_no && fchmod(fileno(o.f), mode) != 0)
            o.err_no = errno ? errno : EIO;
        if (fclose(o.f) != 0 && !o.err_no)
            o.err_no = errno ? errno : EIO;
    }
    if (!o.err_no && rename(tmp, path) != 0)
        o.err_no = errno ? errno : EIO;
    if (o.err_no) {
        unlink(tmp);
        st = hk_fail(err, HK_EIO, "cannot save model file '%s': %s (any existing file is unchanged)", path,
                     strerror(o.err_no));
    } else {
        sync_parent(path);
    }
    free(tmp);
done:
    free(head.p);
    free(table.p);
    free(t);
    return st;
}

/* ---- reading the header ----------------------------------------------------------------- */

/* The header's commands, parsed but not yet applied. */
struct plan {
    int model_line;
    struct hk_shape input;
    uint64_t seed;
    size_t model_off;
    int nlayers;
    struct hk_layer_spec specs[HK_MODEL_MAX_LAYERS];
    int spec_line[HK_MODEL_MAX_LAYERS];
    size_t spec_off[HK_MODEL_MAX_LAYERS]; /* file offsets of the lines, for messages */
    int compile_line;
    size_t compile_off;
    struct hk_optim optim;
    enum hk_loss loss;
    int step_line;
    uint64_t step;
    int rescale_line;
    int script_lines;
    struct buf script;
    struct hk_model_meta meta;
    struct hk_words words;
};

static void plan_free(struct plan *p)
{
    if (!p)
        return;
    hk_model_meta_free(&p->meta);
    free(p->script.p);
    free(p);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return 0;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

/* Where a header line is, for messages. */
struct where {
    const char *path;
    int line;
    size_t offset; /* of the line in the file */
};

static enum hk_status fail_line(struct hk_error *err, enum hk_status st, const struct where *w, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum hk_status fail_line(struct hk_error *err, enum hk_status st, const struct where *w, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail_file(err, st, w->path, "header line %d (offset %zu): %s", w->line, w->offset, what);
}

static enum hk_status line_model(struct plan *p, const struct hk_words *ws, const struct where *w,
                                 struct hk_error *err)
{
    static const char usage[] = "expected 'model new input=HxWxC seed=N'";
    if (p->model_line)
        return fail_line(err, HK_EFORMAT, w, "a second 'model new' (the first is on line %d)", p->model_line);
    if (ws->count != 4 || strcmp(ws->w[1].text, "new") != 0)
        return fail_line(err, HK_EFORMAT, w, "%s", usage);
    int have_input = 0, have_seed = 0;
    for (int i = 2; i < 4; i++) {
        const struct hk_word *x = &ws->w[i];
        int dims[3];
        if (x->key && strcmp(x->key, "input") == 0 && !have_input) {
            if (hk_parse_dims(x->value, dims) != 3)
                return fail_line(err, HK_EFORMAT, w, "input shape '%.40s' is not HxWxC", x->value);
            p->input = (struct hk_shape){dims[2], dims[0], dims[1]};
            have_input = 1;
        } else if (x->key && strcmp(x->key, "seed") == 0 && !have_seed) {
            if (!parse_u64(x->value, &p->seed))
                return fail_line(err, HK_EFORMAT, w, "seed '%.40s' is not a whole number below 2^64", x->value);
            have_seed = 1;
        } else {
            return fail_line(err, HK_EFORMAT, w, "%s", usage);
        }
    }
    p->model_line = w->line;
    p->model_off = w->offset;
    return HK_OK;
}

static enum hk_status line_classes(struct plan *p, const struct hk_words *ws, const struct where *w,
                                   struct hk_error *err)
{
    if (ws->count < 2)
        return fail_line(err, HK_EFORMAT, w, "expected 'classes NAME NAME ...'");
    struct hk_model_meta *m = &p->meta;
    char **names = realloc(m->class_names, ((size_t)m->class_count + (size_t)ws->count) * sizeof *names);
    if (!names)
        return fail_line(err, HK_ENOMEM, w, "out of memory for class names");
    m->class_names = names;
    for (int i = 1; i < ws->count; i++) {
        struct hk_error e;
        if (check_class_name(ws->w[i].text, &e) != HK_OK)
            return fail_line(err, HK_EFORMAT, w, "%s", e.msg);
        if (!(names[m->class_count] = dup_str(ws->w[i].text)))
            return fail_line(err, HK_ENOMEM, w, "out of memory for class names");
        m->class_count++;
    }
    return HK_OK;
}

static enum hk_status line_meta(struct plan *p, const char *rest, const struct where *w, struct hk_error *err)
{
    const char *sp = strchr(rest, ' ');
    size_t klen = sp ? (size_t)(sp - rest) : strlen(rest);
    const char *value = sp ? sp + 1 : "";
    char key[65];
    if (!valid_key(rest, klen))
        return fail_line(err, HK_EFORMAT, w, "expected 'meta KEY VALUE' with a KEY of 1 to 64 letters, digits, '_', "
                                             "'.' or '-'");
    memcpy(key, rest, klen);
    key[klen] = '\0';
    if (hk_model_meta_get_extra(&p->meta, key))
        return fail_line(err, HK_EFORMAT, w, "meta key '%s' is given twice", key);
    struct hk_error e;
    enum hk_status st = hk_model_meta_set_extra(&p->meta, key, value, &e);
    if (st != HK_OK)
        return fail_line(err, st == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, w, "%s", e.msg);
    return HK_OK;
}

static enum hk_status line_lexed(struct plan *p, const char *line, const struct where *w, struct hk_error *err)
{
    struct hk_words *ws = &p->words;
    struct hk_error e;
    int col, bad;
    char ex[48];
    if (hk_lex(line, ws, &col, &e) != HK_OK)
        return fail_line(err, HK_EFORMAT, w, "column %d: %s", col + 1, e.msg);
    if (ws->rest >= 0)
        return fail_line(err, HK_EFORMAT, w, "';' is not allowed in a model file header");
    if (ws->count == 0)
        return HK_OK;
    const char *cmd = ws->w[0].text;
    if (w->line == 1) {
        if (strcmp(cmd, "husky") != 0 || ws->count != 2)
            return fail_line(err, HK_EFORMAT, w, "expected 'husky VERSION', found '%s'; this is not a husky model",
                             excerpt(line, strlen(line), ex, sizeof ex));
        if (!(p->meta.husky_version = dup_str(ws->w[1].text)))
            return fail_line(err, HK_ENOMEM, w, "out of memory");
        return HK_OK;
    }
    if (strcmp(cmd, "model") == 0)
        return line_model(p, ws, w, err);
    enum hk_layer_kind kind = hk_layer_kind_find(cmd);
    if (kind != HK_LAYER_KIND_COUNT) {
        if (!p->model_line)
            return fail_line(err, HK_EFORMAT, w, "layer '%s' comes before 'model new'", cmd);
        if (p->compile_line)
            return fail_line(err, HK_EFORMAT, w, "layer '%s' comes after compile (line %d)", cmd, p->compile_line);
        if (p->nlayers == HK_MODEL_MAX_LAYERS)
            return fail_line(err, HK_EFORMAT, w, "more than %d layers", HK_MODEL_MAX_LAYERS);
        if (hk_layer_spec_parse(ws, 0, &p->specs[p->nlayers], &bad, &e) != HK_OK)
            return fail_line(err, HK_EFORMAT, w, "%s: %s", cmd, e.msg);
        p->spec_off[p->nlayers] = w->offset;
        p->spec_line[p->nlayers++] = w->line;
        return HK_OK;
    }
    if (strcmp(cmd, "compile") == 0) {
        if (!p->model_line)
            return fail_line(err, HK_EFORMAT, w, "compile comes before 'model new'");
        if (p->compile_line)
            return fail_line(err, HK_EFORMAT, w, "a second compile (the first is on line %d)", p->compile_line);
        if (hk_compile_parse(ws, 0, &p->optim, &p->loss, &bad, &e) != HK_OK)
            return fail_line(err, HK_EFORMAT, w, "compile: %s", e.msg);
        p->compile_line = w->line;
        p->compile_off = w->offset;
        return HK_OK;
    }
    if (strcmp(cmd, "classes") == 0)
        return line_classes(p, ws, w, err);
    if (strcmp(cmd, "rescale") == 0) {
        double v;
        if (p->rescale_line)
            return fail_line(err, HK_EFORMAT, w, "a second rescale (the first is on line %d)", p->rescale_line);
        if (ws->count != 2 || !hk_parse_float(ws->w[1].text, &v) || !isfinite((float)v) || !((float)v > 0))
            return fail_line(err, HK_EFORMAT, w, "expected 'rescale X' with a positive number X");
        p->meta.rescale = (float)v;
        p->rescale_line = w->line;
        return HK_OK;
    }
    if (strcmp(cmd, "optimizer_step") == 0) {
        if (p->step_line)
            return fail_line(err, HK_EFORMAT, w, "a second optimizer_step (the first is on line %d)", p->step_line);
        if (ws->count != 2 || !parse_u64(ws->w[1].text, &p->step))
            return fail_line(err, HK_EFORMAT, w, "expected 'optimizer_step N' with a whole number N");
        p->step_line = w->line;
        return HK_OK;
    }
    return fail_line(err, HK_EFORMAT, w,
                     "unknown command '%s'; a model file header holds only model new, layers (conv2d, maxpool, "
                     "dropout, flatten, dense, activation), compile, classes, rescale, meta, script and "
                     "optimizer_step",
                     excerpt(cmd, strlen(cmd), ex, sizeof ex));
}

/* Parse header text (hlen bytes, at file offset PREFIX_BYTES) into *out (owned: plan_free). */
static enum hk_status parse_header(const char *path, const unsigned char *text, size_t hlen, struct plan **out,
                                   struct hk_error *err)
{
    *out = NULL;
    const unsigned char *nul = memchr(text, '\0', hlen);
    if (nul)
        return fail_file(err, HK_EFORMAT, path, "header at offset %u: a NUL byte at offset %zu; expected text",
                         PREFIX_BYTES, PREFIX_BYTES + (size_t)(nul - text));
    size_t bad;
    if (!utf8_valid(text, hlen, &bad))
        return fail_file(err, HK_EFORMAT, path, "header at offset %u: invalid UTF-8 at offset %zu", PREFIX_BYTES,
                         PREFIX_BYTES + bad);
    if (hlen == 0)
        return fail_file(err, HK_EFORMAT, path, "header at offset %u is empty; expected 'husky VERSION' and the "
                                                "model's commands",
                         PREFIX_BYTES);
    struct plan *p = calloc(1, sizeof *p);
    char *copy = malloc(hlen + 1);
    if (!p || !copy) {
        free(p);
        free(copy);
        return hk_fail(err, HK_ENOMEM, "out of memory reading the header of '%s'", path);
    }
    hk_model_meta_init(&p->meta);
    memcpy(copy, text, hlen);
    copy[hlen] = '\0';
    enum hk_status st = HK_OK;
    struct where w = {path, 0, 0};
    char *line = copy;
    while (st == HK_OK && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        w.line++;
        w.offset = PREFIX_BYTES + (size_t)(line - copy);
        if (strncmp(line, "script", 6) == 0 && (line[6] == ' ' || line[6] == '\0') && w.line > 1) {
            if (p->script_lines++)
                buf_str(&p->script, "\n");
            buf_str(&p->script, line[6] ? line + 7 : "");
            if (p->script.oom)
                st = fail_line(err, HK_ENOMEM, &w, "out of memory for the script");
        } else if (strncmp(line, "meta", 4) == 0 && (line[4] == ' ' || line[4] == '\0') && w.line > 1) {
            st = line_meta(p, line[4] ? line + 5 : "", &w, err);
        } else {
            st = line_lexed(p, line, &w, err);
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(copy);
    if (st == HK_OK && !p->meta.husky_version)
        st = fail_file(err, HK_EFORMAT, path, "header at offset %u: expected 'husky VERSION' on line 1",
                       PREFIX_BYTES);
    if (st == HK_OK && !p->model_line)
        st = fail_file(err, HK_EFORMAT, path, "header at offset %u has no 'model new input=HxWxC seed=N' line",
                       PREFIX_BYTES);
    if (st == HK_OK && p->step_line && !p->compile_line)
        st = fail_file(err, HK_EFORMAT, path, "header line %d: optimizer_step without a compile line", p->step_line);
    if (st == HK_OK && p->script_lines && !(p->meta.script = dup_str((const char *)p->script.p)))
        st = hk_fail(err, HK_ENOMEM, "out of memory reading the header of '%s'", path);
    if (st != HK_OK) {
        plan_free(p);
        return st;
    }
    *out = p;
    return HK_OK;
}

/* Check the plan's architecture without allocating it: shapes, limits and the list of tensors
 * the file must hold (t has room for MAX_TENSORS_WANTED). */
static enum hk_status dry_run(const char *path, const struct plan *p, struct tensor *t, int *nt, size_t *nparams,
                              struct hk_shape *output, struct hk_error *err)
{
    struct where w = {path, p->model_line, p->model_off};
    struct hk_shape in = p->input;
    if (hk_shape_size(in) > MAX_OUTPUT_VALUES)
        return fail_line(err, HK_ENOMEM, &w, "input shape %dx%dx%d has more than 64 M values", in.h, in.w, in.c);
    int serial[HK_LAYER_KIND_COUNT] = {0};
    size_t total = 0;
    *nt = 0;
    for (int i = 0; i < p->nlayers; i++) {
        struct hk_layer l;
        struct hk_error e;
        memset(&l, 0, sizeof l);
        l.spec = p->specs[i];
        l.ops = hk_layer_ops_of(l.spec.kind);
        l.index = i;
        l.input = i - 1;
        l.in = in;
        canon_name(l.name, l.spec.kind, serial);
        w.line = p->spec_line[i];
        w.offset = p->spec_off[i];
        if (l.ops->infer(&l, &e) != HK_OK)
            return fail_line(err, HK_EFORMAT, &w, "%s", e.msg);
        if (hk_shape_size(l.out) > MAX_OUTPUT_VALUES)
            return fail_line(err, HK_ENOMEM, &w, "%s: output (%d,%d,%d) has more than 64 M values", l.name,
                             l.out.h, l.out.w, l.out.c);
        if (layer_tensors(&l, i, l.name, t, nt, &e) != HK_OK)
            return fail_line(err, HK_EFORMAT, &w, "%s", e.msg);
        uint64_t sum = (uint64_t)total + l.wcount;
        sum = sum < l.wcount || sum + l.bcount < sum ? UINT64_MAX : sum + l.bcount;
        if (sum > HK_MODEL_MAX_PARAMS)
            return fail_line(err, HK_ENOMEM, &w, "%s: the model would have %llu parameters; the limit is %zu", l.name,
                             (unsigned long long)sum, HK_MODEL_MAX_PARAMS);
        total = (size_t)sum;
        in = l.out;
    }
    if (p->step_line) {
        struct hk_error e;
        if (optim_tensors(total, t, nt, &e) != HK_OK)
            return fail_file(err, HK_EFORMAT, path, "%s", e.msg);
    }
    *nparams = total;
    *output = in;
    return HK_OK;
}

/* ---- reading the tensor table ----------------------------------------------------------- */

struct entry {
    size_t at;         /* file offset of the entry */
    size_t name_at;    /* file offset of the name */
    uint16_t name_len;
    uint32_t rank;
    uint32_t dims[4];
    uint64_t offset, length;
};

/* Read the table at file offset pos (the data section and the hash follow it; end is the offset of
 * the hash) and check it against the wanted tensors. On success *data_at is the file offset of the
 * data section. */
static enum hk_status read_table(const char *path, const unsigned char *file, size_t pos, size_t end,
                                 const struct tensor *want, int nwant, size_t *data_at, struct hk_error *err)
{
    size_t table_at = pos;
    if (end - pos < 4)
        return fail_file(err, HK_EFORMAT, path, "tensor count at offset %zu runs past the end of the file", pos);
    uint32_t count = get_u32(file + pos);
    if (count > HK_MODELFILE_MAX_TENSORS)
        return fail_file(err, HK_EFORMAT, path, "tensor count at offset %zu is %lu; the limit is %d", pos,
                         (unsigned long)count, HK_MODELFILE_MAX_TENSORS);
    size_t min_entry = 2 + 1 + 4 + 4 + 8 + 8;
    if ((end - pos - 4) / min_entry < count)
        return fail_file(err, HK_EFORMAT, path,
                         "tensor count at offset %zu is %lu, but only %zu bytes follow (each entry takes at least "
                         "%zu)",
                         pos, (unsigned long)count, end - pos - 4, min_entry);
    struct entry *ents = calloc(count ? count : 1, sizeof *ents);
    if (!ents)
        return hk_fail(err, HK_ENOMEM, "out of memory reading the tensor table of '%s'", path);
    enum hk_status st = HK_OK;
    char ex[80];
    pos += 4;
    /* pass 1: the entries' structure, and so where the data section starts */
    for (uint32_t i = 0; i < count && st == HK_OK; i++) {
        struct entry *e = &ents[i];
        e->at = pos;
#define NEED(n)                                                                                                 \
    if (end - pos < (n)) {                                                                                      \
        st = fail_file(err, HK_EFORMAT, path, "tensor table entry %lu at offset %zu runs past the end of the file", \
                       (unsigned long)i + 1, e->at);                                                            \
        break;                                                                                                  \
    }
        NEED(2);
        e->name_len = get_u16(file + pos);
        pos += 2;
        if (e->name_len < 1 || e->name_len > HK_MODELFILE_MAX_NAME) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: name length %u; expected 1 to %d bytes",
                           (unsigned long)i + 1, e->at, e->name_len, HK_MODELFILE_MAX_NAME);
            break;
        }
        NEED(e->name_len);
        e->name_at = pos;
        pos += e->name_len;
        NEED(4);
        e->rank = get_u32(file + pos);
        pos += 4;
        if (e->rank < 1 || e->rank > 4) {
            st = fail_file(err, HK_EFORMAT, path, "tensor table entry %lu at offset %zu: rank %lu; expected 1 to 4",
                           (unsigned long)i + 1, e->at, (unsigned long)e->rank);
            break;
        }
        NEED(4 * (size_t)e->rank + 16);
        for (uint32_t d = 0; d < e->rank; d++, pos += 4)
            e->dims[d] = get_u32(file + pos);
        e->offset = get_u64(file + pos);
        e->length = get_u64(file + pos + 8);
        pos += 16;
#undef NEED
    }
    size_t data_start = pos, data_size = end - pos;
    /* pass 2: every entry against its shape, the data section and the tensor the model needs */
    uint64_t next = 0;
    for (uint32_t i = 0; i < count && st == HK_OK; i++) {
        const struct entry *e = &ents[i];
        unsigned long n1 = (unsigned long)i + 1;
        const char *name = excerpt(file + e->name_at, e->name_len, ex, sizeof ex);
        uint64_t values = 1;
        int ok = 1;
        for (uint32_t d = 0; d < e->rank; d++)
            ok &= e->dims[d] >= 1 && mul_u64(values, e->dims[d], &values);
        if (!ok || !mul_u64(values, 4, &values) || values != e->length) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' has length %llu, which does not match its "
                           "shape",
                           n1, e->at, name, (unsigned long long)e->length);
        } else if (e->offset > data_size) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: offset %llu is past the end of the data (%zu "
                           "bytes)",
                           n1, e->at, (unsigned long long)e->offset, data_size);
        } else if (e->offset < next) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' at data offset %llu overlaps the tensor "
                           "before it, which ends at %llu",
                           n1, e->at, name, (unsigned long long)e->offset, (unsigned long long)next);
        } else if (e->offset > next) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' at data offset %llu leaves a gap after the "
                           "tensor before it, which ends at %llu",
                           n1, e->at, name, (unsigned long long)e->offset, (unsigned long long)next);
        } else if (e->length > data_size - e->offset) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: '%s' (%llu bytes at data offset %llu) runs past "
                           "the end of the data (%zu bytes)",
                           n1, e->at, name, (unsigned long long)e->length, (unsigned long long)e->offset,
                           data_size);
        } else if ((int)i >= nwant) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: unexpected tensor '%s'; the header describes "
                           "only %d tensors",
                           n1, e->at, name, nwant);
        } else if (strlen(want[i].name) != e->name_len || memcmp(want[i].name, file + e->name_at, e->name_len)) {
            st = fail_file(err, HK_EFORMAT, path,
                           "tensor table entry %lu at offset %zu: expected tensor '%s', found '%s'", n1, e->at,
                           want[i].name, name);
        } else {
            int same = e->rank == want[i].rank;
            for (uint32_t d = 0; same && d < e->rank; d++)
                same = e->dims[d] == want[i].dims[d];
            if (!same) {
                char have[64], need[64];
                int hn = 0, nn = 0;
                for (uint32_t d = 0; d < e->rank; d++)
                    hn += snprintf(have + hn, sizeof have - (size_t)hn, "%s%lu", d ? "," : "",
                                   (unsigned long)e->dims[d]);
                for (uint32_t d = 0; d < want[i].rank; d++)
                    nn += snprintf(need + nn, sizeof need - (size_t)nn, "%s%lu", d ? "," : "",
                                   (unsigned long)want[i].dims[d]);
                st = fail_file(err, HK_EFORMAT, path,
                               "tensor table entry %lu at offset %zu: '%s' has shape (%s), but the header's model "
                               "needs (%s)",
                               n1, e->at, name, have, need);
            }
        }
        next = e->offset + e->length;
    }
    if (st == HK_OK && (int)count < nwant)
        st = fail_file(err, HK_EFORMAT, path,
                       "tensor table at offset %zu has %lu tensors; missing '%s' (the header describes %d)", table_at,
                       (unsigned long)count, want[count].name, nwant);
    if (st == HK_OK && next != data_size)
        st = fail_file(err, HK_EFORMAT, path,
                       "the tensors cover %llu of the %zu bytes of data at offset %zu; expected exactly all of them",
                       (unsigned long long)next, data_size, data_start);
    free(ents);
    *data_at = data_start;
    return st;
}

/* ---- whole-file reading and hashing ----------------------------------------------------- */

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
    if (*size < MIN_FILE_BYTES)
        s = fail_file(err, HK_EFORMAT, path, "only %llu bytes long; a husky model file has at least %u (it is "
                                             "truncated or not a model file)",
                      (unsigned long long)*size, MIN_FILE_BYTES);
    else if (*size > HK_MODELFILE_MAX_BYTES || *size > SIZE_MAX)
        s = fail_file(err, HK_ENOMEM, path, "%llu bytes long; the limit is %llu", (unsigned long long)*size,
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
            return fail_file(err, HK_EFORMAT, path, "SHA-256 is %s, not the expected %s; refusing to load it", a, b);
        }
    }
    if (memcmp(stored, computed, 32) != 0) {
        if (memcmp(head, MAGIC, 8) != 0)
            return fail_file(err, HK_EFORMAT, path,
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
    if (memcmp(p, MAGIC, 8) != 0)
        return fail_file(err, HK_EFORMAT, path, "offset 0: expected the magic HUSKYMDL, found '%s'; this is not a "
                                                "husky model file",
                         excerpt(p, 8, ex, sizeof ex));
    uint32_t version = get_u32(p + 8);
    if (version != HK_MODELFILE_VERSION)
        return fail_file(err, HK_EFORMAT, path,
                         "offset 8: format version %lu; this husky reads version %d (a newer husky wrote it?)",
                         (unsigned long)version, HK_MODELFILE_VERSION);
    *hlen = get_u32(p + 12);
    if (*hlen > HK_MODELFILE_MAX_HEADER)
        return fail_file(err, HK_EFORMAT, path, "offset 12: header length %lu; the limit is %lu",
                         (unsigned long)*hlen, (unsigned long)HK_MODELFILE_MAX_HEADER);
    if ((uint64_t)*hlen > size - MIN_FILE_BYTES)
        return fail_file(err, HK_EFORMAT, path,
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
        return fail_file(err, HK_EFORMAT, path, "changed size while it was read (%llu bytes expected)",
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
    unsigned char head[PREFIX_BYTES], stored[32];
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
                     : fail_file(err, HK_EFORMAT, path, "changed size while it was read (%llu bytes expected)",
                                 (unsigned long long)size);
        }
        for (size_t i = 0; i < got && pos + i < PREFIX_BYTES; i++)
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
static void plan_to_meta(struct plan *p, size_t nparams, struct hk_model_meta *meta)
{
    *meta = p->meta;
    hk_model_meta_init(&p->meta);
    meta->seed = p->seed;
    meta->input = p->input;
    meta->layer_count = p->nlayers;
    meta->param_count = nparams;
    meta->compiled = p->compile_line != 0;
    if (meta->compiled) {
        meta->optim = p->optim;
        meta->loss = p->loss;
    }
    meta->state = p->step_line ? HK_MODELFILE_STATE_OPTIMIZER : 0;
    meta->optimizer_step = p->step;
}

/* Classes in the header must fit the model's output. */
static enum hk_status check_classes(const char *path, const struct plan *p, struct hk_shape out, struct hk_error *err)
{
    int want = classes_for_output(out, p->nlayers);
    int have = p->meta.class_count;
    if (have == 1 || (have > 0 && want && have != want))
        return fail_file(err, HK_EFORMAT, path, "the header names %d classes, but the model's output needs %d", have,
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
    unsigned char head[PREFIX_BYTES];
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
    struct plan *p = NULL;
    struct tensor *t = NULL;
    if (st == HK_OK)
        st = parse_header(path, text, hlen, &p, err);
    size_t nparams = 0;
    int nt = 0;
    if (st == HK_OK && !(t = malloc(MAX_TENSORS_WANTED * sizeof *t)))
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    struct hk_shape output;
    if (st == HK_OK)
        st = dry_run(path, p, t, &nt, &nparams, &output, err);
    if (st == HK_OK)
        st = check_classes(path, p, output, err);
    if (st == HK_OK) {
        plan_to_meta(p, nparams, meta);
        if (header_text) {
            text[hlen] = '\0';
            *header_text = (char *)text;
            text = NULL;
        }
    }
    free(t);
    free(text);
    plan_free(p);
    return st;
}

/* Rebuild the model the plan describes (its shapes already checked by dry_run). */
static enum hk_status build_model(const char *path, const struct plan *p, const struct tensor *want, int nwant,
                                  struct hk_model **out, struct hk_error *err)
{
    struct hk_error e;
    struct where w = {path, p->model_line, p->model_off};
    struct hk_model *m = hk_model_new(p->input, p->seed, &e);
    if (!m)
        return fail_line(err, e.status == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, &w, "%s", e.msg);
    for (int i = 0; i < p->nlayers; i++) {
        w.line = p->spec_line[i];
        w.offset = p->spec_off[i];
        if (hk_model_insert(m, i, &p->specs[i], NULL, &e) != HK_OK) {
            hk_model_free(m);
            return fail_line(err, e.status == HK_ENOMEM ? HK_ENOMEM : HK_EFORMAT, &w, "%s", e.msg);
        }
    }
    /* the model must agree with the dry run that the table was checked against */
    size_t total = 0;
    for (int i = 0; i < nwant; i++) {
        const struct hk_layer *l = want[i].layer >= 0 ? hk_model_layer(m, want[i].layer) : NULL;
        size_t have = !l ? hk_model_param_count(m) : want[i].part == PART_KERNEL ? l->wcount : l->bcount;
        if (want[i].layer >= 0)
            total += want[i].count;
        if (have != want[i].count) {
            hk_model_free(m);
            return fail_file(err, HK_EFORMAT, path, "tensor '%s': the rebuilt model has %zu values, expected %llu",
                             want[i].name, have, (unsigned long long)want[i].count);
        }
    }
    if (total != hk_model_param_count(m)) {
        hk_model_free(m);
        return fail_file(err, HK_EFORMAT, path, "the rebuilt model has %zu parameters, the tensors hold %zu",
                         hk_model_param_count(m), total);
    }
    if (p->compile_line) {
        w.line = p->compile_line;
        w.offset = p->compile_off;
        if (hk_model_compile(m, &p->optim, p->loss, &e) != HK_OK) {
            hk_model_free(m);
            return fail_line(err, HK_EFORMAT, &w, "compile: %s", e.msg);
        }
    }
    *out = m;
    return HK_OK;
}

enum hk_status hk_modelfile_load(const char *path, const char *expect_sha256_hex, struct hk_model **out,
                                 struct hk_model_meta *meta, struct hk_error *err)
{
    *out = NULL;
    if (meta)
        hk_model_meta_free(meta);
    FILE *f;
    uint64_t size;
    enum hk_status st = open_model(path, &f, &size, err);
    if (st != HK_OK)
        return st;
    unsigned char *file;
    st = read_all(path, f, size, &file, err);
    fclose(f);
    if (st != HK_OK)
        return st;

    /* integrity first: nothing else is looked at before the hashes agree */
    size_t body = (size_t)size - 32;
    unsigned char computed[32], whole[32];
    struct hk_sha256 sha, all;
    hk_sha256_init(&sha);
    hk_sha256_update(&sha, file, body);
    all = sha;
    hk_sha256_final(&sha, computed);
    hk_sha256_update(&all, file + body, 32);
    hk_sha256_final(&all, whole);
    st = check_hashes(path, file, file + body, computed, whole, expect_sha256_hex, err);

    uint32_t hlen = 0;
    struct plan *p = NULL;
    struct tensor *want = NULL;
    struct hk_model *m = NULL;
    int nwant = 0;
    size_t nparams = 0, data_at = 0;
    if (st == HK_OK)
        st = check_prefix(path, file, size, &hlen, err);
    if (st == HK_OK)
        st = parse_header(path, file + PREFIX_BYTES, hlen, &p, err);
    if (st == HK_OK && !(want = malloc(MAX_TENSORS_WANTED * sizeof *want)))
        st = hk_fail(err, HK_ENOMEM, "out of memory");
    struct hk_shape output;
    if (st == HK_OK)
        st = dry_run(path, p, want, &nwant, &nparams, &output, err);
    if (st == HK_OK)
        st = check_classes(path, p, output, err);
    if (st == HK_OK)
        st = read_table(path, file, PREFIX_BYTES + hlen, body, want, nwant, &data_at, err);
    /* only now, with every tensor known to be in the file, is the model allocated */
    if (st == HK_OK)
        st = build_model(path, p, want, nwant, &m, err);
    if (st == HK_OK) {
        const unsigned char *src = file + data_at;
        for (int i = 0; i < nwant; i++) {
            float *dst = tensor_data(m, &want[i]);
            for (uint64_t k = 0; k < want[i].count; k++, src += 4) {
                uint32_t u = get_u32(src);
                memcpy(&dst[k], &u, 4);
            }
        }
        if (p->step_line) {
            uint64_t *step;
            hk_model_optim_state(m, NULL, NULL, &step);
            *step = p->step;
        }
        if (meta)
            plan_to_meta(p, nparams, meta);
        *out = m;
        m = NULL;
    }
    hk_model_free(m);
    free(want);
    plan_free(p);
    free(file);
    return st;
}
