/* modelfile_files.c: what test_modelfile and test_modelfile_train share: a scratch folder, file
 * helpers, a small trained model, and hand-built model files checked against the loader. */
#include "modelfile_files.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rng.h"
#include "sha256.h"

char dir[64];

const char *in_dir(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(size > 0 ? (size_t)size : 1);
    *n = fread(p, 1, (size_t)size, f);
    fclose(f);
    return p;
}

void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

int temp_files_left(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(in_dir(e->d_name));
    if (d)
        closedir(d);
    rmdir(dir);
}


float xs[N * 8 * 8 * 3];
int labels[N];

struct hk_model *small_model(int train_steps)
{
    struct hk_error err;
    struct hk_model *m = hk_model_new((struct hk_shape){3, 8, 8}, 1337, &err);
    struct hk_layer_spec specs[] = {
        {.kind = HK_LAYER_CONV2D, .units = 4, .kh = 3, .kw = 3, .act = HK_ACT_RELU, .l2 = 0.001f},
        {.kind = HK_LAYER_MAXPOOL2D, .kh = 2, .kw = 2},
        {.kind = HK_LAYER_DROPOUT, .rate = 0.25f},
        {.kind = HK_LAYER_FLATTEN},
        {.kind = HK_LAYER_DENSE, .units = 1, .act = HK_ACT_SIGMOID},
    };
    for (int i = 0; i < 5; i++)
        if (hk_model_insert(m, i, &specs[i], NULL, &err) != HK_OK) {
            fprintf(stderr, "insert: %s\n", err.msg);
            exit(1);
        }
    struct hk_optim o = hk_optim_default(HK_OPTIM_ADAM);
    o.lr = 0.0005f;
    hk_model_compile(m, &o, HK_LOSS_BCE, &err);
    struct hk_rng rng;
    hk_rng_seed(&rng, 5);
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        xs[i] = hk_rng_float(&rng);
    for (int i = 0; i < N; i++)
        labels[i] = i & 1;
    for (int s = 0; s < train_steps; s++) {
        struct hk_step_result r;
        hk_model_train_step(m, xs, labels, NULL, N, &r, &err);
    }
    return m;
}



void put(unsigned char **p, unsigned long long v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *(*p)++ = (unsigned char)(v >> (8 * i));
}

/* Write a file with this header, table and `data` zero bytes of data, and a correct hash. */
void build(const char *path, const char *header, const struct entry *e, int count, size_t data)
{
    size_t cap = 64 + strlen(header) + (size_t)count * 128 + data;
    unsigned char *buf = calloc(1, cap), *p = buf;
    memcpy(p, "HUSKYMDL", 8);
    p += 8;
    put(&p, 1, 4);
    put(&p, strlen(header), 4);
    memcpy(p, header, strlen(header));
    p += strlen(header);
    put(&p, (unsigned)count, 4);
    for (int i = 0; i < count; i++) {
        put(&p, strlen(e[i].name), 2);
        memcpy(p, e[i].name, strlen(e[i].name));
        p += strlen(e[i].name);
        put(&p, e[i].rank, 4);
        for (unsigned d = 0; d < e[i].rank; d++)
            put(&p, d < 4 ? e[i].dims[d] : 1, 4);
        put(&p, e[i].offset, 8);
        put(&p, e[i].length, 8);
    }
    p += data;
    hk_sha256(buf, (size_t)(p - buf), p);
    p += 32;
    write_file(path, buf, (size_t)(p - buf));
    free(buf);
}

void expect(const char *header, const struct entry *e, int count, size_t data, enum hk_status want,
                   const char *text, int line)
{
    struct hk_error err = {HK_OK, ""};
    struct hk_model *m = NULL;
    build(in_dir("lie.hkm"), header, e, count, data);
    enum hk_status st = hk_modelfile_load(in_dir("lie.hkm"), NULL, &m, NULL, &err);
    CHECK(st == want && (want == HK_OK) == (m != NULL) && strstr(err.msg, text),
          "line %d: expected status %d with '%s', got %d: %s", line, (int)want, text, (int)st, err.msg);
    CHECK(want != HK_OK || hk_modelfile_verify(in_dir("lie.hkm"), NULL, &err) == HK_OK, "line %d: verify", line);
    hk_model_free(m);
}

#define EXPECT(h, e, c, d, st, text) expect(h, e, c, d, st, text, __LINE__)
